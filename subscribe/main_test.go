package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
)

var (
	ctx                     = context.Background()
	relay, order, inventory string // built modules
	cacheDir                string
	quiet                   = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fluvius-subscribe-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "cache")
	relay = filepath.Join(dir, "relay.wasm")
	if err := wasmbuild.GoBuild(ctx, "testdata/relay", relay); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	pgtest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// openStore opens a fresh store: a SQLite file, or a PostgreSQL database.
func openStore(t testing.TB, driver string) store.Driver {
	t.Helper()
	var st store.Driver
	var err error
	if driver == "postgres" {
		st, err = postgres.Open(ctx, pgtest.URL(t), postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "fluvius.db"), sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens a store on an existing database, as a second host does.
func openPostgres(t testing.TB, url string) store.Driver {
	t.Helper()
	st, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newHost serves the given modules over st.
func newHost(t testing.TB, st store.Driver, modules ...string) *host.Host {
	t.Helper()
	h, err := host.New(ctx, host.Config{Store: st, CacheDir: cacheDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	for _, m := range modules {
		if _, err := h.LoadFile(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// start runs a Runner for the test's duration with fast retries.
func start(t testing.TB, h *host.Host, opts Options) *Runner {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff = 5 * time.Millisecond
	}
	if opts.Rescan == 0 {
		opts.Rescan = 50 * time.Millisecond
	}
	if opts.Lease == 0 {
		opts.Lease = 2 * time.Second
	}
	r, err := New(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(ctx)
	t.Cleanup(r.Close)
	// A subscription starts at the head of the feed when first claimed:
	// the events a test sends must come after.
	want := len(h.Handlers())
	if len(opts.Only) > 0 {
		want = len(opts.Only)
	}
	eventually(t, "the runner holds its subscriptions", func() bool { return len(r.Running()) == want })
	return r
}

func dispatch(t testing.TB, h *host.Host, cmd *host.Command) *host.CommandResult {
	t.Helper()
	res, err := h.Dispatch(ctx, cmd)
	if err != nil {
		t.Fatalf("%s:%s: %v", cmd.Domain, cmd.Name, err)
	}
	return res
}

// feed reads the whole feed (what a follower can read now).
func feed(t testing.TB, st store.Driver) []*store.Event {
	t.Helper()
	var out []*store.Event
	var after store.Cursor
	for {
		page, err := st.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Cursor()
	}
}

// eventsOfType returns the feed's events of a type.
func eventsOfType(t testing.TB, st store.Driver, typ string) []*store.Event {
	var out []*store.Event
	for _, ev := range feed(t, st) {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// eventually polls cond until it holds, or fails after 60 s saying what.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
	}
}

func subscription(t testing.TB, r *Runner, name string) *store.Subscription {
	t.Helper()
	list, err := r.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// caughtUp reports whether a subscription has handled the whole feed.
func caughtUp(t testing.TB, r *Runner, name string, delivered int64) bool {
	s := subscription(t, r, name)
	return s != nil && s.Lag == 0 && s.Delivered >= delivered
}

type metadata struct {
	CommandID     string `json:"command_id"`
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	Caller        struct {
		UserID string `json:"user_id"`
		Tenant string `json:"tenant"`
	} `json:"caller"`
}

func metaOf(t testing.TB, ev *store.Event) metadata {
	var m metadata
	if err := json.Unmarshal(ev.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func caller(user, tenant string) abi.Caller { return abi.Caller{UserID: user, Tenant: tenant} }

func dataOf(ev *store.Event) map[string]any {
	var m map[string]any
	json.Unmarshal(ev.Data, &m)
	return m
}

func streamID(ev *store.Event) string {
	_, id, _ := strings.Cut(ev.Stream, "/")
	return id
}
