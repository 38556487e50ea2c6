package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlite"
	"fluvius.dev/fluvius/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) store.Driver {
	d, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fluvius.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) { storetest.Exercise(t, open) }

func TestMigrations(t *testing.T) {
	storetest.ExerciseMigrations(t, func(t *testing.T) store.Migrator {
		d, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}

// Data written by one Driver is there for the next one on the same file.
func TestDurableAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	d, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{Stream: "s",
		Events: []store.NewEvent{{ID: "1", Type: "t", Data: []byte(`{"a":1}`)}}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{Stream: "s"})
	if err != nil || len(evs) != 1 || string(evs[0].Data) != `{"a":1}` {
		t.Fatalf("after reopen: %v %+v", err, evs)
	}
}
