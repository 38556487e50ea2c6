package live_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/live"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
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

// onDrivers runs a test against a fresh SQLite store and a fresh
// PostgreSQL schema.
func onDrivers(t *testing.T, fn func(t *testing.T, st store.Driver)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fluvius.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

var eventIDs atomic.Int64

// appendEvents appends n events of one type to a stream of a tenant, each
// with data of size bytes at least, and returns them.
func appendEvents(t testing.TB, st store.Driver, tenant, stream, typ string, n, size int) []*store.Event {
	t.Helper()
	pad := make([]byte, max(size-16, 0))
	for i := range pad {
		pad[i] = 'x'
	}
	evs := make([]store.NewEvent, n)
	for i := range evs {
		evs[i] = store.NewEvent{ID: "e" + strconv.FormatInt(eventIDs.Add(1), 10), Type: typ,
			Data: []byte(`{"pad":"` + string(pad) + `"}`), Metadata: []byte(`{}`)}
	}
	res, err := st.Executor().EventsAppend(context.Background(), &store.EventsAppendParams{
		StreamKey: store.StreamKey{Tenant: tenant, Stream: stream}, ExpectedVersion: store.AnyVersion, Events: evs, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return res.Events
}

// next waits for the subscription's next event, failing the test after
// within.
func next(t testing.TB, s *live.Subscription, within time.Duration) *live.Event {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	ev, err := s.Next(timer.C)
	if err != nil {
		t.Fatalf("the subscription ended: %v", err)
	}
	if ev == nil {
		t.Fatalf("no event within %s", within)
	}
	return ev
}

// feedAfter reads the whole feed after a cursor, as a follower would.
func feedAfter(t testing.TB, st store.Driver, after store.Cursor) []*store.Event {
	t.Helper()
	var out []*store.Event
	for {
		evs, err := st.Executor().EventsReadAll(context.Background(), &store.EventsReadAllParams{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Cursor()
	}
}
