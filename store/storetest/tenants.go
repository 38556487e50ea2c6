package storetest

import (
	"errors"
	"testing"

	"fluvius.dev/fluvius/store"
)

// The tenant is part of every key: the same stream name and the same state
// id in two tenants are two streams and two records, each with its own
// versions, and no read of one tenant returns the other's.
func testTenantsAreSeparate(t *testing.T, d store.Driver) {
	x := d.Executor()
	acme := store.StreamKey{Tenant: "acme", Stream: "user.user/u1"}
	globex := store.StreamKey{Tenant: "globex", Stream: "user.user/u1"}
	for _, k := range []store.StreamKey{acme, globex} {
		res, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: k, Events: newEvents(k.Tenant, 2)})
		if err != nil || res.Version != 2 || res.Events[0].Tenant != k.Tenant {
			t.Fatalf("appending to %+v: %+v %v", k, res, err)
		}
	}
	if _, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: acme, ExpectedVersion: 2,
		Events: newEvents("acme-3", 1)}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[store.StreamKey]int64{acme: 3, globex: 2, {Stream: "user.user/u1"}: 0} {
		v, err := x.StreamVersion(ctx, k)
		if err != nil || v != want {
			t.Fatalf("version of %+v: %d %v, want %d", k, v, err, want)
		}
		evs, err := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: k})
		if err != nil || int64(len(evs)) != want {
			t.Fatalf("reading %+v: %d events %v, want %d", k, len(evs), err, want)
		}
		for _, ev := range evs {
			if ev.Tenant != k.Tenant || ev.Stream != k.Stream {
				t.Fatalf("reading %+v returned an event of %s/%s", k, ev.Tenant, ev.Stream)
			}
		}
	}
	feed, _ := readFeedN(t, d, store.Cursor{}, 5)
	tenants := map[string]int{}
	for _, ev := range feed {
		tenants[ev.Tenant]++
	}
	if tenants["acme"] != 3 || tenants["globex"] != 2 {
		t.Fatalf("the feed carries tenants %v", tenants)
	}

	a := store.StateKey{Tenant: "acme", Domain: "user", Resource: "user", ID: "u1"}
	g := store.StateKey{Tenant: "globex", Domain: "user", Resource: "user", ID: "u1"}
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: a, Data: []byte(`{"who":"acme"}`), Version: 3, ETag: "3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.StateGet(ctx, &g); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex reads acme's record: %v", err)
	}
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: g, Data: []byte(`{"who":"globex"}`), Version: 2, ETag: "2"}); err != nil {
		t.Fatalf("the same id in another tenant: %v", err)
	}
	// An update addressed to one tenant never touches the other's record.
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: g, Data: []byte(`{}`), Version: 4, ExpectedVersion: 3, ETag: "4"}); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("globex updated at acme's version: %v", err)
	}
	for k, want := range map[store.StateKey]string{a: `{"who":"acme"}`, g: `{"who":"globex"}`} {
		rec, err := x.StateGet(ctx, &k)
		if err != nil || !jsonEqual(rec.Data, want) || rec.Tenant != k.Tenant {
			t.Fatalf("%+v: %+v %v", k, rec, err)
		}
	}

	// Group commit: a command in each tenant on the same stream name and id.
	cmd := func(tenant string) *store.CommandWrite {
		c := command("shared", 0, 1, "")
		c.Append.Tenant, c.State.Tenant = tenant, tenant
		return c
	}
	res, err := d.CommitCommands(ctx, []*store.CommandWrite{cmd("acme"), cmd("globex"), cmd("acme")})
	if err != nil || res[0] != nil || res[1] != nil || !errors.Is(res[2], store.ErrVersionConflict) {
		t.Fatalf("commands in two tenants: %v %v", res, err)
	}
}
