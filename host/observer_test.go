package host_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// recorder is an Observer keeping what it hears.
type recorder struct {
	mu       sync.Mutex
	commands []host.CommandStats
	batches  []int
}

func (r *recorder) Command(s host.CommandStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = append(r.commands, s)
}

func (r *recorder) Commit(n int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, n)
}

func (r *recorder) last() host.CommandStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commands[len(r.commands)-1]
}

// The observer hears each command once, under the plugin's names, with
// its outcome, the guest's time and fuel, its commit, and the conflicts
// it met: here a second host whose cached state went stale decides again.
func TestObserverHearsCommands(t *testing.T) {
	rec := &recorder{}
	a := newEnv(t, func(c *host.Config) { c.Observer = rec })
	b := &env{path: a.path}
	b.start(t, nil)
	b.load(t, ctx)

	u := createUser(t, a.host, "ann@example.com")
	s := rec.last()
	if s.Domain != "user" || s.Command != "create-user" || s.Outcome != "ok" || s.Decide <= 0 || s.Commit <= 0 ||
		s.Fuel <= 0 || s.Conflicts != 0 {
		t.Fatalf("a create: %+v", s)
	}
	if rec.batches[len(rec.batches)-1] != 1 {
		t.Fatalf("commit batches: %v", rec.batches)
	}
	update := func(h *host.Host, name string) error {
		_, err := h.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: u.ID,
			Payload: []byte(`{"name":"` + name + `"}`), Caller: alice})
		return err
	}
	// a caches version 1 and writes 2; b writes 3; a decides on its cached
	// 2, conflicts, and decides again on 3.
	if err := update(a.host, "A"); err != nil {
		t.Fatal(err)
	}
	if err := update(b.host, "B"); err != nil {
		t.Fatal(err)
	}
	if err := update(a.host, "C"); err != nil {
		t.Fatal(err)
	}
	if s := rec.last(); s.Command != "update-user" || s.Outcome != "ok" || s.Conflicts != 1 {
		t.Fatalf("an update decided twice: %+v", s)
	}
	_, err := a.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"nope","name":"Bo"}`), Caller: alice})
	if err == nil {
		t.Fatal("a bad email was taken")
	}
	if s := rec.last(); s.Outcome != "refused" || s.Commit != 0 {
		t.Fatalf("a refusal: %+v", s)
	}
	// An unknown domain is no series: nothing of a request's making
	// becomes a label.
	n := len(rec.commands)
	a.host.Dispatch(ctx, &host.Command{Domain: "no-such-domain", Name: "x", Resource: "x", New: true, Caller: alice})
	if len(rec.commands) != n {
		t.Fatalf("an unknown domain was observed: %+v", rec.last())
	}
}

// A command's events carry the W3C trace context it was dispatched in, even
// where this host records no spans: a handler on another host, or a tool
// reading the feed, continues the trace.
func TestTraceContextInEventMetadata(t *testing.T) {
	e := newEnv(t, nil)
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	tctx := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	res, err := e.host.Dispatch(tctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Caller: alice})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey: store.StreamKey{Stream: host.Stream("user", "user", res.AggregateID)}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	var meta struct {
		TraceParent string `json:"traceparent"`
	}
	json.Unmarshal(evs[0].Metadata, &meta)
	if meta.TraceParent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent %q in %s", meta.TraceParent, evs[0].Metadata)
	}
	// Without a trace, none is made up.
	res, err = e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"bo@example.com","name":"Bo"}`), Caller: alice})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ = e.store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey: store.StreamKey{Stream: host.Stream("user", "user", res.AggregateID)}})
	if len(evs) != 1 || bytes.Contains(evs[0].Metadata, []byte("traceparent")) {
		t.Fatalf("metadata of an untraced command: %v", evs)
	}
}
