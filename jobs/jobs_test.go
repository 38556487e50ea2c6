package jobs

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

	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
	"fluvius.dev/fluvius/subscribe"
)

var (
	ctx              = context.Background()
	relay, cacheDir  string
	order, inventory string // the examples
	quiet            = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fluvius-jobs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "cache")
	for src, dst := range map[string]*string{"../subscribe/testdata/relay": &relay, "../plugins/examples/order": &order, "../plugins/examples/inventory": &inventory} {
		*dst = filepath.Join(dir, filepath.Base(src)+".wasm")
		if err := wasmbuild.GoBuild(ctx, src, *dst); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
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

// quickRetry retries a failed job 20 ms later, whatever its attempt.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(20 * time.Millisecond)
}

// fixture is a host serving relay with its job queue and subscriptions
// (the handlers and the job outbox) running.
type fixture struct {
	st store.Driver
	h  *host.Host
	q  *Queue
	r  *subscribe.Runner
}

func start(t *testing.T, driver string, modules ...string) *fixture {
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
	h, err := host.New(ctx, host.Config{Store: st, CacheDir: cacheDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	if len(modules) == 0 {
		modules = []string{relay}
	}
	for _, m := range modules {
		if _, err := h.LoadFile(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	logger := quiet
	if os.Getenv("FLUVIUS_TEST_RIVER_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	q, err := New(ctx, h, Options{FetchPollInterval: 50 * time.Millisecond, RetryPolicy: quickRetry{}, Rescan: 50 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	r, err := subscribe.New(h, subscribe.Options{Internal: []subscribe.Internal{q.Outbox()}, Backoff: 5 * time.Millisecond,
		Rescan: 50 * time.Millisecond, Lease: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(ctx)
	t.Cleanup(r.Close)
	// Subscriptions start at the head: the test's events come after.
	eventually(t, "the subscriptions are held", func() bool { return len(r.Running()) == len(h.Handlers())+1 })
	return &fixture{st: st, h: h, q: q, r: r}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
	}
}

func (f *fixture) dispatch(t *testing.T, cmd *host.Command) *host.CommandResult {
	t.Helper()
	if cmd.Caller.UserID == "" {
		cmd.Caller = abi.Caller{UserID: "ann", Tenant: "acme"}
	}
	res, err := f.h.Dispatch(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Name, err)
	}
	return res
}

type note struct {
	id, item string
	n        float64
	meta     map[string]any
	tenant   string
}

// notes lists the notes written, from the feed.
func (f *fixture) notes(t *testing.T) []note {
	t.Helper()
	var out []note
	var after store.Cursor
	for {
		page, err := f.st.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			if ev.Type != "note-written" {
				continue
			}
			var d struct {
				Item string  `json:"item"`
				N    float64 `json:"n"`
			}
			json.Unmarshal(ev.Data, &d)
			var m map[string]any
			json.Unmarshal(ev.Metadata, &m)
			_, id, _ := strings.Cut(ev.Stream, "/")
			out = append(out, note{id: id, item: d.Item, n: d.N, meta: m, tenant: ev.Tenant})
		}
		after = page[len(page)-1].Cursor()
	}
}

func (f *fixture) notesOf(t *testing.T, item string) []note {
	var out []note
	for _, n := range f.notes(t) {
		if n.item == item {
			out = append(out, n)
		}
	}
	return out
}

func (f *fixture) job(t *testing.T, name string) []Job {
	t.Helper()
	list, err := f.q.List(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []Job
	for _, j := range list {
		if j.Job == name {
			out = append(out, j)
		}
	}
	return out
}

// A command's job is enqueued once the command commits, from its event,
// and runs once: its command carries the job as caller and cause, in the
// tenant of the command that enqueued it. A handler's job runs too.
func TestJobsFromCommandsAndHandlers(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			f := start(t, driver)
			item := f.dispatch(t, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true, Payload: []byte(`{"n":5}`)}).AggregateID
			// The stamp is sent in a trace: the job's run continues it.
			traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
			spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
			traced := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
			if _, err := f.h.Dispatch(traced, &host.Command{Domain: "relay", Name: "stamp-item", Resource: "item", AggregateID: item,
				Caller: abi.Caller{UserID: "ann", Tenant: "acme"}}); err != nil {
				t.Fatal(err)
			}
			// copy writes one note of the item; the stamp job another.
			eventually(t, "the stamp job's note", func() bool { return len(f.notesOf(t, item)) == 2 })
			var stamped *note
			for _, n := range f.notesOf(t, item) {
				if caller, _ := n.meta["caller"].(map[string]any); caller["user_id"] == "job:relay.stamp" {
					stamped = &n
				}
			}
			if stamped == nil || stamped.tenant != "acme" || !strings.HasPrefix(fmt.Sprint(stamped.meta["causation_id"]), "job:") {
				t.Fatalf("the stamp job's note: %+v", stamped)
			}
			if tp := fmt.Sprint(stamped.meta["traceparent"]); !strings.HasPrefix(tp, "00-"+traceID.String()+"-") {
				t.Fatalf("the stamp job's note is not in the stamp's trace: traceparent %q", tp)
			}
			eventually(t, "the stamp job completed", func() bool {
				jobs := f.job(t, "stamp")
				return len(jobs) == 1 && jobs[0].State == "completed" && jobs[0].Tenant == "acme" && jobs[0].Attempt == 1
			})
			// A handler enqueues too: copy does for n = 77.
			other := f.dispatch(t, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true, Payload: []byte(`{"n":77}`)}).AggregateID
			eventually(t, "the handler's job's note", func() bool { return len(f.notesOf(t, other)) == 2 })
			time.Sleep(200 * time.Millisecond)
			if got := len(f.notesOf(t, item)); got != 2 {
				t.Fatalf("the first item has %d notes", got)
			}
		})
	}
}

// A job that fails is retried (River's retries) until it passes; one whose
// command is refused for good is cancelled at once, not retried.
func TestJobRetriesAndRefusals(t *testing.T) {
	f := start(t, "sqlite")
	item := f.dispatch(t, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true, Payload: []byte(`{"n":3}`)}).AggregateID
	f.dispatch(t, &host.Command{Domain: "relay", Name: "stamp-item", Resource: "item", AggregateID: item, Payload: []byte(`{"job":"flaky"}`)})
	eventually(t, "the flaky job passes", func() bool { return len(f.notesOf(t, "flaky")) == 1 })
	if n := f.notesOf(t, "flaky")[0]; n.n != 3 {
		t.Fatalf("the flaky job passed on attempt %v, want 3", n.n)
	}
	eventually(t, "the flaky job completed", func() bool {
		j := f.job(t, "flaky")
		return len(j) == 1 && j[0].State == "completed" && j[0].Attempt == 3 && len(j[0].Errors) == 2
	})
	// An item of n 0: the stamp's note is refused by its schema.
	zero := f.dispatch(t, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true, Payload: []byte(`{"n":0}`)}).AggregateID
	f.dispatch(t, &host.Command{Domain: "relay", Name: "stamp-item", Resource: "item", AggregateID: zero})
	eventually(t, "the refused stamp cancelled", func() bool {
		for _, j := range f.job(t, "stamp") {
			if j.State == "cancelled" && j.Attempt == 1 && len(j.Errors) == 1 && strings.Contains(j.Errors[0], "invalid-payload") {
				return true
			}
		}
		return false
	})
}

// A schedule in the manifest runs the job on its own (relay's tick, every
// second; one run per minute at most, as each minute's run is unique).
func TestScheduledJob(t *testing.T) {
	f := start(t, "sqlite")
	eventually(t, "a tick", func() bool { return len(f.notesOf(t, "tick")) >= 1 })
	time.Sleep(1500 * time.Millisecond)
	if got := len(f.notesOf(t, "tick")); got > 2 {
		t.Fatalf("%d ticks in under two seconds: the minute's run was not unique", got)
	}
	if n := f.notesOf(t, "tick")[0]; n.meta["caller"].(map[string]any)["user_id"] != "job:relay.tick" || n.tenant != "" {
		t.Fatalf("the tick's note: %+v", n)
	}
}

// Reading the outbox again (a host that died before its checkpoint)
// enqueues nothing twice.
func TestOutboxRedeliveryEnqueuesOnce(t *testing.T) {
	f := start(t, "sqlite")
	subs := f.st.(store.SubscriptionStore)
	var before store.Cursor
	for _, s := range mustList(t, subs) {
		if s.Name == OutboxSubscription {
			before = s.Cursor
		}
	}
	var items []string
	for i := range 5 {
		id := f.dispatch(t, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i+1))}).AggregateID
		f.dispatch(t, &host.Command{Domain: "relay", Name: "stamp-item", Resource: "item", AggregateID: id})
		items = append(items, id)
	}
	eventually(t, "five stamps", func() bool { return len(f.job(t, "stamp")) == 5 })
	// copy has written its notes before its runner stops.
	eventually(t, "copy caught up", func() bool {
		for _, s := range mustList(t, subs) {
			if s.Name == "relay.copy" && s.Lag == 0 && s.Delivered >= 5 {
				return true
			}
		}
		return false
	})
	f.r.Close()
	// Rewind the outbox and read it again.
	eventually(t, "the lease released", func() bool {
		_, err := subs.SubscriptionClaim(ctx, OutboxSubscription, "rewinder", time.Minute)
		return err == nil
	})
	if err := subs.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: OutboxSubscription, Owner: "rewinder", Cursor: before}); err != nil {
		t.Fatal(err)
	}
	subs.SubscriptionRelease(ctx, OutboxSubscription, "rewinder")
	r2, err := subscribe.New(f.h, subscribe.Options{Internal: []subscribe.Internal{f.q.Outbox()}, Only: []string{OutboxSubscription}, Rescan: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r2.Start(ctx)
	defer r2.Close()
	eventually(t, "the outbox read again", func() bool {
		for _, s := range mustList(t, subs) {
			if s.Name == OutboxSubscription && s.Lag == 0 && s.Delivered >= 20 {
				return true
			}
		}
		return false
	})
	if got := len(f.job(t, "stamp")); got != 5 {
		t.Fatalf("%d stamp jobs after the outbox was read twice, want 5", got)
	}
	for _, id := range items {
		// copy's note and the stamp's.
		eventually(t, "each item stamped once", func() bool { return len(f.notesOf(t, id)) == 2 })
	}
}

func mustList(t *testing.T, subs store.SubscriptionStore) []*store.Subscription {
	t.Helper()
	list, err := subs.SubscriptionList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// eventsOfType returns the feed's events of a type.
func (f *fixture) eventsOfType(t *testing.T, typ string) []*store.Event {
	t.Helper()
	var out []*store.Event
	var after store.Cursor
	for {
		page, err := f.st.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			if ev.Type == typ {
				out = append(out, ev)
			}
		}
		after = page[len(page)-1].Cursor()
	}
}

func metaOf(t *testing.T, ev *store.Event) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(ev.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The example, end to end: an order placed in one domain reserves stock in
// another through inventory's handler, which also schedules a reminder job
// a day on; cancelling the order releases the reservation. The issued
// commands carry the event as causation, the order's command as
// correlation, the handler as caller and the order's tenant.
func TestOrderReservesStock(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			f := start(t, driver, order, inventory)
			placed := f.dispatch(t, &host.Command{Domain: "order", Name: "place-order", Resource: "order", New: true,
				Payload: []byte(`{"customer":"ann","items":[{"sku":"tea","quantity":2,"price_cents":450}]}`), Caller: abi.Caller{UserID: "ann", Tenant: "acme"}})
			other := f.dispatch(t, &host.Command{Domain: "order", Name: "place-order", Resource: "order", New: true,
				Payload: []byte(`{"customer":"bob","items":[{"sku":"cup","quantity":1,"price_cents":900}]}`), Caller: abi.Caller{UserID: "bob", Tenant: "globex"}})
			var reserved []*store.Event
			eventually(t, "two reservations", func() bool { reserved = f.eventsOfType(t, "stock-reserved"); return len(reserved) == 2 })
			placedEvent := f.eventsOfType(t, "order-placed")[0]
			for _, ev := range reserved {
				var d struct {
					OrderID string `json:"order_id"`
				}
				json.Unmarshal(ev.Data, &d)
				want := map[string]string{placed.AggregateID: "acme", other.AggregateID: "globex"}[d.OrderID]
				if ev.Tenant != want {
					t.Fatalf("the reservation of order %s is in tenant %q, want %q", d.OrderID, ev.Tenant, want)
				}
				if ev.Tenant != "acme" {
					continue
				}
				m := metaOf(t, ev)
				caller, _ := m["caller"].(map[string]any)
				if m["causation_id"] != placedEvent.ID || m["correlation_id"] != metaOf(t, placedEvent)["command_id"] ||
					caller["user_id"] != "handler:inventory.reserve-for-order" || caller["tenant"] != "acme" {
					t.Fatalf("the reservation's metadata: %v (order-placed %s)", m, placedEvent.ID)
				}
			}
			// Each reservation's reminder waits a day.
			eventually(t, "two reminders scheduled", func() bool {
				jobs := f.job(t, "remind-held-stock")
				return len(jobs) == 2 && jobs[0].State == "scheduled" && jobs[0].ScheduledAt.After(time.Now().Add(23*time.Hour))
			})
			f.dispatch(t, &host.Command{Domain: "order", Name: "cancel-order", Resource: "order", AggregateID: placed.AggregateID,
				Payload: []byte(`{"reason":"changed my mind"}`), Caller: abi.Caller{UserID: "ann", Tenant: "acme"}})
			var released []*store.Event
			eventually(t, "the reservation released", func() bool { released = f.eventsOfType(t, "stock-released"); return len(released) == 1 })
			if caller, _ := metaOf(t, released[0])["caller"].(map[string]any); released[0].Tenant != "acme" || caller["user_id"] != "handler:inventory.release-for-order" {
				t.Fatalf("released: %+v %v", released[0], caller)
			}
		})
	}
}
