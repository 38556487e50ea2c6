package storetest

import (
	"context"
	"testing"

	"fluvius.dev/fluvius/store"
)

// ExerciseMigrations checks a driver's migrations: everything is applied
// after opening, down really undoes up (every step reverts and the schema
// comes back whole), and a second up changes nothing.
func ExerciseMigrations(t *testing.T, open func(t *testing.T) store.Migrator) {
	ctx := context.Background()
	d := open(t)
	st, err := d.MigrationStatus(ctx)
	if err != nil || len(st) == 0 {
		t.Fatalf("status after open: %+v %v", st, err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Fatalf("%03d_%s not applied after open", s.Version, s.Name)
		}
	}
	if err := d.MigrateDown(ctx, len(st)); err != nil {
		t.Fatal(err)
	}
	st, _ = d.MigrationStatus(ctx)
	for _, s := range st {
		if s.Applied {
			t.Fatalf("%03d_%s still applied after down", s.Version, s.Name)
		}
	}
	if err := d.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MigrateUp(ctx); err != nil {
		t.Fatalf("a second up: %v", err)
	}
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "s"},
		Events: []store.NewEvent{{ID: "1", Type: "t"}}}); err != nil {
		t.Fatalf("append after down and up: %v", err)
	}
}

// V1Aggregate is an aggregate as a database at migration 1 (before the
// tenant was part of the keys) holds it: a stream "domain.resource/id" of
// Events events, and unless NoState a state record naming Tenant.
type V1Aggregate struct {
	Tenant, Domain, Resource, ID string
	Events                       int
	NoState                      bool
}

// ExerciseTenantMigration checks that migrating a database written before
// tenants were part of the keys moves its data: each aggregate lands in the
// tenant its state record names (events without a state in the default
// tenant), keeps its versions and positions, and the same id can then be
// created in another tenant. insertV1 writes an aggregate in the driver's
// migration-1 schema.
func ExerciseTenantMigration(t *testing.T, d store.Migrator, insertV1 func(a V1Aggregate) error) {
	ctx := context.Background()
	st, err := d.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MigrateDown(ctx, len(st)-1); err != nil {
		t.Fatal(err)
	}
	old := []V1Aggregate{
		{Tenant: "", Domain: "user", Resource: "user", ID: "u1", Events: 2},
		{Tenant: "acme", Domain: "user", Resource: "user", ID: "u2", Events: 3},
		{Domain: "order", Resource: "order", ID: "o1", Events: 1, NoState: true},
	}
	for _, a := range old {
		if err := insertV1(a); err != nil {
			t.Fatalf("writing %+v at migration 1: %v", a, err)
		}
	}
	if err := d.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	x := d.Executor()
	maxPos := int64(0)
	for _, a := range old {
		k := store.StreamKey{Tenant: a.Tenant, Stream: a.Domain + "." + a.Resource + "/" + a.ID}
		evs, err := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: k})
		if err != nil || len(evs) != a.Events {
			t.Fatalf("%+v after the migration: %d events, %v", k, len(evs), err)
		}
		for i, ev := range evs {
			if ev.Tenant != a.Tenant || ev.Version != int64(i+1) {
				t.Fatalf("%+v: event %d is %s version %d", k, i, ev.Tenant, ev.Version)
			}
			maxPos = max(maxPos, ev.Position)
		}
		if a.NoState {
			continue
		}
		rec, err := x.StateGet(ctx, &store.StateKey{Tenant: a.Tenant, Domain: a.Domain, Resource: a.Resource, ID: a.ID})
		if err != nil || rec.Version != int64(a.Events) {
			t.Fatalf("state of %+v after the migration: %+v %v", a, rec, err)
		}
	}
	if evs, _ := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "user.user/u2"}}); len(evs) != 0 {
		t.Fatalf("acme's events are also in the default tenant")
	}
	// The same id in the default tenant is a new aggregate now.
	k := store.StateKey{Domain: "user", Resource: "user", ID: "u2"}
	res, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "user.user/u2"},
		Events: []store.NewEvent{{ID: "new-u2", Type: "t"}}})
	if err != nil || res.Events[0].Position <= maxPos {
		t.Fatalf("appending after the migration: %+v %v (positions so far up to %d)", res, err, maxPos)
	}
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(`{}`), Version: 1, ETag: "1"}); err != nil {
		t.Fatalf("the same id in the default tenant: %v", err)
	}
}
