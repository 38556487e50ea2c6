package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
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
	storetest.ExerciseMigrations(t, func(t *testing.T) store.Migrator {
		d, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}

// Regression: the feed once sorted transaction ids as text, so a
// transaction numbered 10000 came before one numbered 9999. Burn
// transaction ids up to a power of ten and append on either side of it.
func TestFeedOrdersTransactionIDsAsNumbers(t *testing.T) {
	ctx := context.Background()
	d, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var next uint64
	if err := d.Pool().QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint + 1`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	boundary := uint64(10)
	for boundary <= next+2 {
		boundary *= 10
	}
	// Leave two ids below the boundary (other sessions may take some too, so
	// aim a little lower and check below).
	burn := int64(boundary - next - 3)
	if _, err := d.Pool().Exec(ctx, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`, burn)); err != nil {
		t.Fatal(err)
	}
	x := d.Executor()
	var evs []*store.Event
	for i := 0; i < 6; i++ {
		res, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: fmt.Sprint("s", i)},
			Events: []store.NewEvent{{ID: fmt.Sprint("e", i), Type: "t"}}})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, res.Events[0])
	}
	if evs[0].TxID >= boundary || evs[len(evs)-1].TxID < boundary {
		t.Fatalf("appends at transactions %d..%d do not straddle %d", evs[0].TxID, evs[len(evs)-1].TxID, boundary)
	}
	var got []string
	var after store.Cursor
	for len(got) < len(evs) {
		page, err := x.EventsReadAll(ctx, &store.EventsReadAllParams{After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			got = append(got, ev.ID)
			after = ev.Cursor()
		}
		if len(page) == 0 {
			d.WaitForEvents(ctx, after)
		}
	}
	if fmt.Sprint(got) != "[e0 e1 e2 e3 e4 e5]" {
		t.Fatalf("feed order %v", got)
	}
}

func TestTenantMigration(t *testing.T) {
	url := pgtest.URL(t)
	d, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	n := 0
	storetest.ExerciseTenantMigration(t, d, func(a storetest.V1Aggregate) error {
		ctx := context.Background()
		stream := a.Domain + "." + a.Resource + "/" + a.ID
		for v := 1; v <= a.Events; v++ {
			n++
			if _, err := raw.Exec(ctx, `INSERT INTO events (id, stream, version, type, data, metadata, created_at)
				VALUES ($1, $2, $3, 't', '{}', '{}', now())`, fmt.Sprint("old-", n), stream, v); err != nil {
				return err
			}
		}
		if a.NoState {
			return nil
		}
		_, err := raw.Exec(ctx, `INSERT INTO states (domain, resource, id, data, version, etag, tenant, created_at, updated_at)
			VALUES ($1, $2, $3, '{}', $4, 'e', $5, now(), now())`, a.Domain, a.Resource, a.ID, a.Events, a.Tenant)
		return err
	})
}
