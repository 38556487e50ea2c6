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
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{Stream: "s",
		Events: []store.NewEvent{{ID: "1", Type: "t"}}}); err != nil {
		t.Fatalf("append after down and up: %v", err)
	}
}
