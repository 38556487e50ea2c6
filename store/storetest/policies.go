package storetest

import (
	"errors"
	"slices"
	"testing"

	"fluvius.dev/fluvius/store"
)

// Policies: added once, listed, removed once; every change bumps the
// version hosts poll.
func testPolicies(t *testing.T, d store.Driver) {
	ps, ok := d.(store.PolicyStore)
	if !ok {
		t.Fatalf("%s does not keep policies (store.PolicyStore)", d.Name())
	}
	v0, err := ps.PolicyVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := store.PolicyRule{Type: "p", Values: []string{"role:clerk", "acme", "bank:withdraw", "run"}}
	g := store.PolicyRule{Type: "g", Values: []string{"ann", "role:clerk", "acme"}}
	for _, r := range []store.PolicyRule{p, g} {
		if err := ps.PolicyAdd(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.PolicyAdd(ctx, p); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a rule added twice: %v", err)
	}
	if err := ps.PolicyAdd(ctx, store.PolicyRule{Type: "p", Values: make([]string, 7)}); err == nil {
		t.Fatal("a rule of 7 values was stored")
	}
	list, err := ps.PolicyList(ctx)
	if err != nil || len(list) != 2 || list[0].Type != "g" || !slices.Equal(list[1].Values, p.Values) {
		t.Fatalf("list %+v %v", list, err)
	}
	v1, _ := ps.PolicyVersion(ctx)
	if v1 != v0+2 {
		t.Fatalf("version %d after two changes from %d", v1, v0)
	}
	if err := ps.PolicyRemove(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := ps.PolicyRemove(ctx, g); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rule removed twice: %v", err)
	}
	if v2, _ := ps.PolicyVersion(ctx); v2 != v1+1 {
		t.Fatalf("version %d after a removal from %d", v2, v1)
	}
}
