package authz_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func openStore(t testing.TB) *sqlite.Driver {
	t.Helper()
	d, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newAuthorizer(t testing.TB, s store.PolicyStore) *authz.Authorizer {
	t.Helper()
	a, err := authz.New(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func p(v ...string) store.PolicyRule { return store.PolicyRule{Type: "p", Values: v} }
func g(v ...string) store.PolicyRule { return store.PolicyRule{Type: "g", Values: v} }

func TestGrants(t *testing.T) {
	a := newAuthorizer(t, openStore(t))
	clerk := abi.Caller{UserID: "carl", Tenant: "acme", Roles: []string{"clerk"}}
	ann := abi.Caller{UserID: "ann", Tenant: "acme"}
	if ok, _ := a.Allowed(clerk, nil, "bank:withdraw", authz.ActionRun); ok {
		t.Fatal("allowed with no rules")
	}
	for _, r := range []store.PolicyRule{
		p("role:clerk", "acme", "bank:withdraw", "run"),
		g("ann", "role:clerk", "acme"),
		p("role:auditor", "*", "bank.*", "read"),
		p("aggregate:owner", "*", "bank:close", "run"),
	} {
		if err := a.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		who            abi.Caller
		held           []string
		object, action string
		want           bool
	}{
		{clerk, nil, "bank:withdraw", "run", true},                                        // a role from the credentials
		{ann, nil, "bank:withdraw", "run", true},                                          // a role held in the tenant
		{abi.Caller{UserID: "ann", Tenant: "globex"}, nil, "bank:withdraw", "run", false}, // ann is no clerk in globex
		{abi.Caller{UserID: "carl", Tenant: "globex", Roles: []string{"clerk"}}, nil, "bank:withdraw", "run", false},
		{clerk, nil, "bank:deposit", "run", false},                                                              // another object
		{clerk, nil, "bank:withdraw", "read", false},                                                            // another action
		{abi.Caller{UserID: "x", Tenant: "any", Roles: []string{"auditor"}}, nil, "bank.account", "read", true}, // * tenant, bank.* object
		{abi.Caller{UserID: "x", Tenant: "any", Roles: []string{"auditor"}}, nil, "order.order", "read", false},
		// Roles on one aggregate: the owner may close it; a member, or
		// a caller holding nothing on it, may not, and "owner" as a
		// tenant role is not ownership.
		{ann, []string{"owner"}, "bank:close", "run", true},
		{ann, []string{"member"}, "bank:close", "run", false},
		{ann, nil, "bank:close", "run", false},
		{abi.Caller{UserID: "ann", Tenant: "acme", Roles: []string{"owner"}}, nil, "bank:close", "run", false},
	} {
		if ok, err := a.Allowed(c.who, c.held, c.object, c.action); ok != c.want || err != nil {
			t.Errorf("%+v %s %s: %v %v, want %v", c.who, c.action, c.object, ok, err, c.want)
		}
	}
	if err := a.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"too", "few"}}); err == nil {
		t.Error("a malformed rule was stored")
	}
	if err := a.Remove(ctx, g("ann", "role:clerk", "acme")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Allowed(ann, nil, "bank:withdraw", "run"); ok {
		t.Fatal("a removed role still grants")
	}
}

// A change made through one authorizer (one host) is enforced by another
// sharing the store within about a second.
func TestChangesReachOtherHosts(t *testing.T) {
	s := openStore(t)
	one, two := newAuthorizer(t, s), newAuthorizer(t, s)
	clerk := abi.Caller{UserID: "carl", Tenant: "acme", Roles: []string{"clerk"}}
	if err := one.Add(ctx, p("role:clerk", "acme", "bank:withdraw", "run")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * authz.PollInterval) // generous: CI machines are loaded
	for {
		if ok, _ := two.Allowed(clerk, nil, "bank:withdraw", "run"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the grant did not reach the other host")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Many goroutines ask while rules come and go: no race (run under -race),
// and every answer is one the rules allowed at some point.
func TestEnforcementWhilePoliciesChange(t *testing.T) {
	a := newAuthorizer(t, openStore(t))
	if err := a.Add(ctx, p("role:reader", "acme", "shop.*", "read")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wrong, asked atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reader := abi.Caller{UserID: fmt.Sprint("u", i), Tenant: "acme", Roles: []string{"reader"}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				// The reader grant is never touched: it must always hold.
				if ok, err := a.Allowed(reader, nil, "shop.order", "read"); !ok || err != nil {
					wrong.Add(1)
				}
				// Writes come and go: any answer is fine, but no error.
				if _, err := a.Allowed(reader, nil, "shop:place", "run"); err != nil {
					wrong.Add(1)
				}
				asked.Add(1)
			}
		}()
	}
	for i := 0; i < 30; i++ {
		r := p("role:reader", "acme", "shop:place", "run")
		if err := a.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := a.Remove(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if wrong.Load() > 0 || asked.Load() == 0 {
		t.Fatalf("%d wrong answers out of %d", wrong.Load(), asked.Load())
	}
}

// BenchmarkAllowed10k is one check against 10,000 rules (100 tenants of 100
// rules each), as a command makes it: a (role, tenant, object) seen for the
// first time, and one seen before (by another user of the same role).
func BenchmarkAllowed10k(b *testing.B) {
	s := openStore(b)
	for tenant := 0; tenant < 100; tenant++ {
		for obj := 0; obj < 100; obj++ {
			if err := s.PolicyAdd(ctx, p("role:clerk", fmt.Sprint("t", tenant), fmt.Sprintf("d%d:c", obj), "run")); err != nil {
				b.Fatal(err)
			}
		}
	}
	a := newAuthorizer(b, s)
	b.Run("first-sight", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++ // 10,000 distinct (tenant, object) pairs before any repeats
			c := abi.Caller{UserID: fmt.Sprint("u", n), Tenant: fmt.Sprint("t", (n/100)%100), Roles: []string{"clerk"}}
			if ok, err := a.Allowed(c, nil, fmt.Sprintf("d%d:c", n%100), "run"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("seen", func(b *testing.B) {
		c := abi.Caller{UserID: "someone-new", Tenant: "t7", Roles: []string{"clerk"}}
		for b.Loop() {
			if ok, err := a.Allowed(c, nil, "d42:c", "run"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
