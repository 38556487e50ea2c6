package host_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/query"
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

// Roles on one aggregate: a locker's owner and members are named in its
// state, and policies grant to "aggregate:owner" and "aggregate:member".
// The owner may use its locker, a member may read it, others neither; a
// stranger gets the same 403 for a locker that exists and one that does
// not, and an owner loses the grant on another's locker. Guest Can counts
// the roles too; auth_required refuses the anonymous.
func TestAggregateRoles(t *testing.T) { onDrivers(t, testAggregateRoles) }

func testAggregateRoles(t *testing.T, driver string) {
	var az *authz.Authorizer
	e := newEnvOn(t, driver, func(c *host.Config) {
		var err error
		if az, err = authz.New(ctx, c.Store.(store.PolicyStore), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		c.Authorizer = az
	})
	for _, r := range [][]string{
		{"aggregate:owner", "*", "faulty:use-locker", "run"},
		{"aggregate:owner", "*", "faulty.locker", "read"},
		{"aggregate:member", "*", "faulty.locker", "read"},
		{"aggregate:member", "*", "faulty:locker-contents", "inspect"},
	} {
		if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: r}); err != nil {
			t.Fatal(err)
		}
	}
	ann := abi.Caller{UserID: "ann", Tenant: "acme"}
	bob := abi.Caller{UserID: "bob", Tenant: "acme"}
	eve := abi.Caller{UserID: "eve", Tenant: "acme"}
	_, opened := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "open-locker", Resource: "locker", New: true,
		Payload: []byte(`{"members":["bob"]}`), Caller: ann})
	mine := opened.ID
	_, other := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "open-locker", Resource: "locker", New: true,
		Payload: []byte(`{}`), Caller: eve})

	use := func(c abi.Caller, id, ifMatch string) error {
		_, err := e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "use-locker", Resource: "locker", AggregateID: id,
			Payload: []byte(`{}`), Caller: c, IfMatch: ifMatch})
		return err
	}
	if err := use(ann, mine, ""); err != nil {
		t.Fatalf("the owner uses her locker: %v", err)
	}
	refusal := wantError(t, use(bob, mine, ""), host.KindForbidden, "forbidden").Message
	// Neither existence nor If-Match is answered before the refusal.
	for name, err := range map[string]error{
		"a locker that does not exist": use(bob, "no-such-locker", ""),
		"a stale If-Match":             use(bob, mine, "1"),
		"another's locker":             use(ann, other.ID, ""),
		"another tenant":               use(abi.Caller{UserID: "ann", Tenant: "globex"}, mine, ""),
	} {
		if he := wantError(t, err, host.KindForbidden, "forbidden"); he.Message != refusal {
			t.Errorf("%s: %q, want the same refusal %q", name, he.Message, refusal)
		}
	}
	// Reads: owner and member, not a stranger, alike for a missing locker.
	for _, c := range []abi.Caller{ann, bob} {
		if rec, err := e.host.State(ctx, c, "faulty", "locker", mine); err != nil || rec.Version != 2 {
			t.Fatalf("%s reads the locker: %+v %v", c.UserID, rec, err)
		}
		if _, err := e.host.Events(ctx, c, "faulty", "locker", mine, 0, 10, 0); err != nil {
			t.Fatalf("%s reads the locker's events: %v", c.UserID, err)
		}
	}
	for _, id := range []string{mine, "no-such-locker"} {
		_, err := e.host.State(ctx, eve, "faulty", "locker", id)
		wantError(t, err, host.KindForbidden, "forbidden")
		_, err = e.host.StateAt(ctx, eve, "faulty", "locker", id, 1)
		wantError(t, err, host.KindForbidden, "forbidden")
	}
	// Lists are row-scoped: each caller sees the lockers it holds a role
	// on that a policy lets read; a tenant-wide grant sees them all.
	lockers := func(c abi.Caller) []string {
		t.Helper()
		res, err := e.host.List(ctx, c, "faulty", "locker", query.Request{Sort: "_id"})
		if err != nil {
			t.Fatalf("%s lists: %v", c.UserID, err)
		}
		var out []string
		for _, r := range res.Records {
			out = append(out, r.ID)
		}
		sort.Strings(out)
		return out
	}
	both := []string{mine, other.ID}
	sort.Strings(both)
	for c, want := range map[*abi.Caller][]string{&ann: {mine}, &bob: {mine}, &eve: {other.ID}, {UserID: "carl", Tenant: "acme"}: nil} {
		if got := lockers(*c); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", c.UserID, got, want)
		}
	}
	if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"role:auditor", "acme", "faulty.locker", "read"}}); err != nil {
		t.Fatal(err)
	}
	if got := lockers(abi.Caller{UserID: "ida", Tenant: "acme", Roles: []string{"auditor"}}); !slices.Equal(got, both) {
		t.Errorf("an auditor sees %v", got)
	}
	// The vault grants no role: a list without the grant is a 403.
	_, err := e.host.List(ctx, ann, "faulty", "vault", query.Request{})
	wantError(t, err, host.KindForbidden, "forbidden")

	// A role given in the tenant ("owner" from a token) is not ownership.
	wantError(t, use(abi.Caller{UserID: "carl", Tenant: "acme", Roles: []string{"owner"}}, mine, ""), host.KindForbidden, "forbidden")

	// Guest Can: members may inspect the contents, the owner may not.
	peek := func(c abi.Caller) any {
		_, a := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "peek-locker", Resource: "locker", AggregateID: mine,
			Payload: []byte(`{}`), Caller: c})
		return a.Data["contents"]
	}
	if got := peek(bob); got != "visible" {
		t.Errorf("member peeks: %v", got)
	}
	if got := peek(ann); got != "hidden" {
		t.Errorf("owner peeks: %v", got)
	}
	// auth_required: anonymous callers are refused with 401 whatever the policies.
	_, err = e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "peek-locker", Resource: "locker", AggregateID: mine,
		Payload: []byte(`{}`), Caller: abi.Caller{Tenant: "acme"}})
	wantError(t, err, host.KindUnauthenticated, "authentication-required")
}

// The roles held are read from the state each command is decided on,
// never remembered: once ann hands her locker over to bob, she holds
// nothing on it and he owns it.
func TestHeldRolesFollowState(t *testing.T) {
	e := newEnvOn(t, "sqlite", func(c *host.Config) { c.Authorizer = ownerOnly{} })
	ann, bob := abi.Caller{UserID: "ann", Tenant: "acme"}, abi.Caller{UserID: "bob", Tenant: "acme"}
	_, opened := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "open-locker", Resource: "locker", New: true,
		Payload: []byte(`{"members":["bob","cy"]}`), Caller: ann})
	use := func(c abi.Caller) error {
		_, err := e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "use-locker", Resource: "locker",
			AggregateID: opened.ID, Payload: []byte(`{}`), Caller: c})
		return err
	}
	for _, c := range []struct {
		who abi.Caller
		ok  bool
	}{{ann, true}, {bob, false}, {abi.Caller{UserID: "cy", Tenant: "acme"}, false}, {abi.Caller{Tenant: "acme"}, false}} {
		if err := use(c.who); (err == nil) != c.ok {
			t.Errorf("user %q: %v, want allowed=%v", c.who.UserID, err, c.ok)
		}
	}
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "hand-over-locker", Resource: "locker",
		AggregateID: opened.ID, Payload: []byte(`{"to":"bob"}`), Caller: ann})
	wantError(t, use(ann), host.KindForbidden, "forbidden")
	if err := use(bob); err != nil {
		t.Fatalf("the new owner: %v", err)
	}
}

// ownerOnly grants exactly to holders of "owner" on the aggregate.
type ownerOnly struct{}

func (ownerOnly) Allowed(_ abi.Caller, held []string, _, _ string) (bool, error) {
	for _, r := range held {
		if r == "owner" {
			return true, nil
		}
	}
	return false, nil
}

// A plugin queries the read models of its own domain while deciding, in
// the command's tenant only; a query its resource cannot serve is refused
// with the reason.
func TestGuestQuery(t *testing.T) {
	e := newEnvOn(t, "sqlite", nil)
	for _, c := range []abi.Caller{{UserID: "ann", Tenant: "acme"}, {UserID: "bob", Tenant: "acme"}, {UserID: "ann", Tenant: "globex"}} {
		dispatch(t, e.host, host.Command{Domain: "faulty", Name: "open-locker", Resource: "locker", New: true, Payload: []byte(`{}`), Caller: c})
	}
	ann := abi.Caller{UserID: "ann", Tenant: "acme"}
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "q", Caller: ann})
	find := func(payload string) (answer, error) {
		res, err := e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "find", Resource: "thing", AggregateID: "q",
			Payload: []byte(payload), Caller: ann})
		var a answer
		if err == nil {
			json.Unmarshal(res.Body, &a)
		}
		return a, err
	}
	a, err := find(`{"filter":"{\"owner\":\"ann\"}"}`)
	if err != nil || a.Data["total"] != 1.0 || len(a.Data["ids"].([]any)) != 1 {
		t.Fatalf("ann's lockers in acme: %+v %v", a.Data, err)
	}
	if a, err = find(`{"filter":"{}","limit":1}`); err != nil || a.Data["total"] != 2.0 || len(a.Data["ids"].([]any)) != 1 {
		t.Fatalf("acme's lockers, one a page: %+v %v", a.Data, err)
	}
	_, err = find(`{"filter":"{\"colour\":\"red\"}"}`)
	if he := wantError(t, err, host.KindDomain, "query-refused"); !strings.Contains(he.Message, `unknown field "colour"`) {
		t.Fatalf("a refused query says %q", he.Message)
	}
	_, err = find(`{"filter":"{}","limit":500}`)
	wantError(t, err, host.KindDomain, "query-refused")
}
