package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
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
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "s"},
		Events: []store.NewEvent{{ID: "1", Type: "t", Data: []byte(`{"a":1}`)}}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}})
	if err != nil || len(evs) != 1 || string(evs[0].Data) != `{"a":1}` {
		t.Fatalf("after reopen: %v %+v", err, evs)
	}
}

func TestTenantMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	d, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	n := 0
	storetest.ExerciseTenantMigration(t, d, func(a storetest.V1Aggregate) error {
		stream := a.Domain + "." + a.Resource + "/" + a.ID
		for v := 1; v <= a.Events; v++ {
			n++
			if _, err := raw.Exec(`INSERT INTO events (id, stream, version, type, data, metadata, created_at)
				VALUES (?, ?, ?, 't', '{}', '{}', 1)`, fmt.Sprint("old-", n), stream, v); err != nil {
				return err
			}
		}
		if a.NoState {
			return nil
		}
		_, err := raw.Exec(`INSERT INTO states (domain, resource, id, data, version, etag, tenant, created_at, updated_at)
			VALUES (?, ?, ?, '{}', ?, 'e', ?, 1, 1)`, a.Domain, a.Resource, a.ID, a.Events, a.Tenant)
		return err
	})
}
