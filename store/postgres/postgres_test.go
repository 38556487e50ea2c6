package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func open(t *testing.T) store.Driver {
	d, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) { storetest.Exercise(t, open) }

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	d, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := d.MigrationStatus(ctx)
	if err != nil || len(st) == 0 || !st[0].Applied {
		t.Fatalf("status after open: %+v %v", st, err)
	}
	if err := d.MigrateDown(ctx, len(st)); err != nil {
		t.Fatal(err)
	}
	if st, _ = d.MigrationStatus(ctx); st[0].Applied {
		t.Fatal("still applied after down")
	}
	if err := d.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	// A second up is a no-op.
	if err := d.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{Stream: "s",
		Events: []store.NewEvent{{ID: "1", Type: "t"}}}); err != nil {
		t.Fatalf("append after down and up: %v", err)
	}
}
