package host_test

import (
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Permissions a plugin declares are checked before anything is read: a
// caller without the grant gets 403 naming the permission, for an aggregate
// that exists and one that does not alike; a grant (to a role the caller's
// credentials carry) lets it in; what declares nothing needs no grant.
func TestDeclaredPermissions(t *testing.T) { onDrivers(t, testDeclaredPermissions) }

func testDeclaredPermissions(t *testing.T, driver string) {
	// The host is started with an authorizer over its own store.
	var az *authz.Authorizer
	e := newEnvOn(t, driver, func(c *host.Config) {
		var err error
		if az, err = authz.New(ctx, c.Store.(store.PolicyStore), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		c.Authorizer = az
	})

	keeper := abi.Caller{UserID: "kim", Tenant: "acme", Roles: []string{"keeper"}}
	open := func(c abi.Caller, id string) error {
		_, err := e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "open-vault", Resource: "vault", AggregateID: id,
			Payload: []byte(`{}`), Caller: c})
		return err
	}
	he := wantError(t, open(keeper, "v1"), host.KindForbidden, "forbidden")
	if !strings.Contains(he.Message, "run on faulty:open-vault") {
		t.Fatalf("the 403 does not name the permission: %s", he.Message)
	}
	if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"role:keeper", "acme", "faulty:open-vault", "run"}}); err != nil {
		t.Fatal(err)
	}
	if err := open(keeper, "v1"); err != nil {
		t.Fatalf("with the grant: %v", err)
	}
	// The grant is acme's: the same role in another tenant has none.
	wantError(t, open(abi.Caller{UserID: "kim", Tenant: "globex", Roles: []string{"keeper"}}, "v1"), host.KindForbidden, "forbidden")

	// Reads of the vault need faulty.vault; for v1 (which exists) and v2
	// (which does not) the answer is the same 403.
	for _, id := range []string{"v1", "v2"} {
		_, err := e.host.State(ctx, keeper, "faulty", "vault", id)
		wantError(t, err, host.KindForbidden, "forbidden")
	}
	if err := az.Add(ctx, store.PolicyRule{Type: "g", Values: []string{"kim", "role:auditor", "acme"}}); err != nil {
		t.Fatal(err)
	}
	if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"role:auditor", "*", "faulty.*", "read"}}); err != nil {
		t.Fatal(err)
	}
	if rec, err := e.host.State(ctx, abi.Caller{UserID: "kim", Tenant: "acme"}, "faulty", "vault", "v1"); err != nil || rec.Version != 1 {
		t.Fatalf("kim, auditor of acme by a g rule: %+v %v", rec, err)
	}
	// A guest asks a finer question while deciding (Call.Can): for the
	// command's own caller, in its tenant.
	ask := func(c abi.Caller) any {
		_, a := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "can", Resource: "thing", AggregateID: "t-" + c.Tenant,
			Payload: []byte(`{"action":"approve","object":"faulty:big-amounts"}`), Caller: c})
		return a.Data["allowed"]
	}
	for _, tenant := range []string{"acme", "globex"} {
		dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "t-" + tenant,
			Caller: abi.Caller{Tenant: tenant}})
	}
	if got := ask(keeper); got != false {
		t.Fatalf("Can before the grant: %v", got)
	}
	if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"role:keeper", "acme", "faulty:big-amounts", "approve"}}); err != nil {
		t.Fatal(err)
	}
	if got := ask(keeper); got != true {
		t.Fatalf("Can after the grant: %v", got)
	}
	if got := ask(abi.Caller{UserID: "kim", Tenant: "globex", Roles: []string{"keeper"}}); got != false {
		t.Fatalf("Can in another tenant: %v", got)
	}

	// Things declare nothing: no grant needed.
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "t1", Caller: keeper})
}
