package host_test

import (
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
)

// The tenant is part of an aggregate's identity. Tenant B can neither read
// nor write tenant A's aggregate, by command, state read, event read, time
// travel, idempotency key or guest state read, and cannot even learn that
// it exists: every answer is the one a missing aggregate gets. The same id
// in two tenants is two aggregates.
func TestTenantsAreIsolated(t *testing.T) { onDrivers(t, testTenantsAreIsolated) }

func testTenantsAreIsolated(t *testing.T, driver string) {
	e := newEnvOn(t, driver, nil)
	a := abi.Caller{UserID: "ann", Tenant: "acme"}
	b := abi.Caller{UserID: "bob", Tenant: "globex"}
	_, created := dispatch(t, e.host, host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"ann@acme.com","name":"Ann"}`), Caller: a, IdempotencyKey: "k1"})
	id := created.ID

	// What B gets for A's aggregate is what it gets for one that does not
	// exist.
	for _, target := range []string{id, "no-such-id"} {
		_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: target,
			Payload: []byte(`{"name":"Bob"}`), Caller: b})
		wantError(t, err, host.KindNotFound, "aggregate-not-found")
		_, err = e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: target,
			Payload: []byte(`{"name":"Bob"}`), Caller: b, IfMatch: "1"})
		wantError(t, err, host.KindNotFound, "aggregate-not-found")
		_, err = e.host.State(ctx, b, "user", "user", target)
		wantError(t, err, host.KindNotFound, "aggregate-not-found")
		_, err = e.host.Events(ctx, b, "user", "user", target, 0, 10, 0)
		wantError(t, err, host.KindNotFound, "aggregate-not-found")
		_, err = e.host.StateAt(ctx, b, "user", "user", target, 1)
		wantError(t, err, host.KindNotFound, "aggregate-not-found")
	}
	// B's idempotency key of the same name is B's own: no replay of A's answer.
	res, other := dispatch(t, e.host, host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"ann@acme.com","name":"Ann"}`), Caller: b, IdempotencyKey: "k1"})
	if res.Replayed || other.ID == id {
		t.Fatalf("globex's k1 replayed acme's answer: %s", res.Body)
	}
	// The same id in B is a new aggregate, and creating it is allowed.
	_, twin := dispatch(t, e.host, host.Command{Domain: "user", Name: "create-user", Resource: "user", AggregateID: id,
		Payload: []byte(`{"email":"bob@globex.com","name":"Bob"}`), Caller: b})
	if twin.Version != 1 {
		t.Fatalf("the same id in globex: %+v", twin)
	}
	for c, want := range map[*abi.Caller]string{&a: "Ann", &b: "Bob"} {
		rec, err := e.host.State(ctx, *c, "user", "user", id)
		if err != nil || rec.Tenant != c.Tenant || rec.Version != 1 {
			t.Fatalf("%s's %s: %+v %v", c.Tenant, id, rec, err)
		}
		evs, _ := e.host.Events(ctx, *c, "user", "user", id, 0, 10, 0)
		if len(evs) != 1 || evs[0].Tenant != c.Tenant {
			t.Fatalf("%s's events: %+v", c.Tenant, evs)
		}
		if then, err := e.host.StateAt(ctx, *c, "user", "user", id, 1); err != nil || !jsonContains(then, want) {
			t.Fatalf("%s's version 1: %s %v", c.Tenant, then, err)
		}
	}

	// A guest reads state only in the tenant of the command it decides.
	for _, tenant := range []string{"acme", "globex"} {
		c := abi.Caller{Tenant: tenant}
		dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "t-" + tenant, Caller: c})
	}
	_, seen := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "read", Resource: "thing", AggregateID: "t-globex",
		Payload: []byte(`{"id":"t-acme"}`), Caller: b})
	if seen.Data["found"] != false {
		t.Fatalf("globex's guest read acme's thing: %+v", seen.Data)
	}
	_, own := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "read", Resource: "thing", AggregateID: "t-globex",
		Payload: []byte(`{"id":"t-globex"}`), Caller: b})
	if own.Data["found"] != true {
		t.Fatalf("globex's guest cannot read its own thing: %+v", own.Data)
	}
}

func jsonContains(doc []byte, s string) bool { return strings.Contains(string(doc), s) }
