package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

var ctx = context.Background()

// Callers: alice (of the default tenant) creates the users of these tests;
// acme is a caller of tenant acme; nobody is anonymous.
var (
	alice  = abi.Caller{UserID: "alice"}
	acme   = abi.Caller{UserID: "mallory", Tenant: "acme"}
	nobody = abi.Caller{}
)

type answer struct {
	ID      string            `json:"id"`
	Data    map[string]any    `json:"data"`
	Events  []host.EventView  `json:"events"`
	Version int64             `json:"version"`
	ETag    string            `json:"etag"`
	Extra   map[string]string `json:"-"`
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func dispatch(t *testing.T, h *host.Host, cmd host.Command) (*host.CommandResult, answer) {
	t.Helper()
	res, err := h.Dispatch(ctx, &cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Name, err)
	}
	var a answer
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatalf("%s answered %s: %v", cmd.Name, res.Body, err)
	}
	return res, a
}

func createUser(t *testing.T, h *host.Host, email string) answer {
	t.Helper()
	res, a := dispatch(t, h, host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"` + email + `","name":"Ann"}`), Caller: alice})
	if !res.Created || a.Version != 1 || a.ID == "" || len(a.Events) != 1 {
		t.Fatalf("create: %+v %s", res, res.Body)
	}
	return a
}

func wantError(t *testing.T, err error, kind host.Kind, code string) *host.Error {
	t.Helper()
	var he *host.Error
	if !errors.As(err, &he) {
		t.Fatalf("want a host error %s, got %v", code, err)
	}
	if he.Kind != kind || he.Code != code {
		t.Fatalf("want kind %d code %s, got kind %d code %s: %s", kind, code, he.Kind, he.Code, he.Message)
	}
	return he
}

func TestLoadReadsManifest(t *testing.T) {
	e := newEnv(t, nil)
	p := e.host.Plugin("user")
	if p == nil {
		t.Fatal("user plugin not active")
	}
	m := p.Manifest()
	if m.Meta.Title != "Users" || len(m.Commands) != 4 || m.Command("create-user").EvtKey != "user-created" {
		t.Fatalf("manifest %+v", m)
	}
	if len(p.ID()) != 64 || p.Instances() != 1 {
		t.Fatalf("id %q instances %d", p.ID(), p.Instances())
	}
}

func TestCommandLifecycle(t *testing.T) { onDrivers(t, testCommandLifecycle) }

func testCommandLifecycle(t *testing.T, driver string) {
	e := newEnvOn(t, driver, nil)
	created := createUser(t, e.host, "ann@example.com")
	if created.Data["email"] != "ann@example.com" || created.Data["status"] != "active" {
		t.Fatalf("created %+v", created.Data)
	}
	_, updated := dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"Ann B"}`), Caller: abi.Caller{UserID: "bob"}})
	if updated.Version != 2 || updated.Data["name"] != "Ann B" || updated.ETag == created.ETag {
		t.Fatalf("updated %+v", updated)
	}
	rec, err := e.host.State(ctx, alice, "user", "user", created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 2 || rec.ETag != updated.ETag || rec.Tenant != "" || rec.CreatedBy != "alice" || rec.UpdatedBy != "bob" {
		t.Fatalf("state record %+v", rec)
	}
	evs, err := e.host.Events(ctx, alice, "user", "user", created.ID, 0, 0, 0)
	if err != nil || len(evs) != 2 || evs[0].Type != "user-created" || evs[1].Type != "user-updated" {
		t.Fatalf("events %v %+v", err, evs)
	}
	var meta map[string]any
	json.Unmarshal(evs[1].Metadata, &meta)
	if meta["command"] != "update-user" || meta["caller"].(map[string]any)["user_id"] != "bob" {
		t.Fatalf("metadata %s", evs[1].Metadata)
	}
	// Replaying the events through the plugin gives the stored state, and
	// time travel gives the state as it was.
	now, err := e.host.StateAt(ctx, alice, "user", "user", created.ID, 0)
	if err != nil || !jsonEqual(now, rec.Data) {
		t.Fatalf("replayed %s, stored %s (%v)", now, rec.Data, err)
	}
	then, err := e.host.StateAt(ctx, alice, "user", "user", created.ID, 1)
	if err != nil || !strings.Contains(string(then), `"name":"Ann"`) {
		t.Fatalf("state at version 1: %s %v", then, err)
	}
	_, err = e.host.StateAt(ctx, alice, "user", "user", created.ID, 9)
	wantError(t, err, host.KindNotFound, "version-not-found")
}

func TestDomainErrorWritesNothing(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"not-an-email","name":"Ann"}`)})
	he := wantError(t, err, host.KindDomain, "invalid-email")
	if !strings.Contains(he.Message, "not-an-email") {
		t.Fatalf("message %q", he.Message)
	}
	created := createUser(t, e.host, "ann@example.com")
	dispatch(t, e.host, host.Command{Domain: "user", Name: "deactivate-user", Resource: "user", AggregateID: created.ID})
	_, err = e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"Zed"}`)})
	wantError(t, err, host.KindDomain, "user-deactivated")
	evs, _ := e.store.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{})
	if len(evs) != 2 {
		t.Fatalf("%d events stored, want create and deactivate only", len(evs))
	}
}

func TestBadCommands(t *testing.T) {
	e := newEnv(t, nil)
	created := createUser(t, e.host, "ann@example.com")
	cases := []struct {
		cmd  host.Command
		kind host.Kind
		code string
	}{
		{host.Command{Domain: "nope", Name: "create-user", Resource: "user", New: true}, host.KindNotFound, "unknown-domain"},
		{host.Command{Domain: "user", Name: "nope", Resource: "user", New: true}, host.KindNotFound, "unknown-command"},
		{host.Command{Domain: "user", Name: "create-user", Resource: "nope", New: true}, host.KindNotFound, "unknown-resource"},
		{host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: "missing", Payload: []byte(`{"name":"x"}`)}, host.KindNotFound, "aggregate-not-found"},
		{host.Command{Domain: "user", Name: "update-user", Resource: "user", New: true}, host.KindInvalid, "aggregate-id-required"},
		{host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true, Payload: []byte(`{"email":"a@b.co"}`)}, host.KindInvalid, "invalid-payload"},
		{host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true, Payload: []byte(`{"email":"a@b.co","name":"A","admin":true}`)}, host.KindInvalid, "invalid-payload"},
		{host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true, Payload: []byte(`{"email":`)}, host.KindInvalid, "malformed-json"},
		{host.Command{Domain: "user", Name: "create-user", Resource: "user", AggregateID: created.ID, Payload: []byte(`{"email":"a@b.co","name":"A"}`)}, host.KindConflict, "aggregate-exists"},
		{host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID, IfMatch: "stale", Payload: []byte(`{"name":"B"}`)}, host.KindPreconditionFailed, "precondition-failed"},
		// If-Match on an aggregate that does not exist: 404, not 412.
		{host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: "missing", IfMatch: "1", Payload: []byte(`{"name":"B"}`)}, host.KindNotFound, "aggregate-not-found"},
	}
	for _, c := range cases {
		_, err := e.host.Dispatch(ctx, &c.cmd)
		he := wantError(t, err, c.kind, c.code)
		if c.code == "invalid-payload" && he.Details == nil {
			t.Errorf("%s: no violations in details", c.cmd.Payload)
		}
	}
	// A matching If-Match goes through.
	dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID,
		IfMatch: created.ETag, Payload: []byte(`{"name":"B"}`)})
}

// Concurrent commands on one aggregate: every one either lands on its own
// version or is refused; none is lost.
func TestConcurrentCommandsOnOneAggregate(t *testing.T) {
	onDrivers(t, testConcurrentCommandsOnOneAggregate)
}

// 64 clients update one aggregate at once, none with If-Match: on one host
// they queue and every one of them succeeds (before the queue, 46 of 64 got
// a 409 after exhausting their retries).
func testConcurrentCommandsOnOneAggregate(t *testing.T, driver string) {
	e := newEnvOn(t, driver, nil)
	created := createUser(t, e.host, "ann@example.com")
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user",
				AggregateID: created.ID, Payload: []byte(fmt.Sprintf(`{"name":"name %d"}`, i))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if he := host.AsError(err); he.Kind != host.KindConflict {
			t.Errorf("unexpected error: %v", err)
		}
	}
	rec, _ := e.host.State(ctx, alice, "user", "user", created.ID)
	evs, _ := e.host.Events(ctx, alice, "user", "user", created.ID, 0, 0, 0)
	if ok != n || rec.Version != int64(1+ok) || len(evs) != 1+ok {
		t.Fatalf("%d commands succeeded; state at version %d with %d events", ok, rec.Version, len(evs))
	}
}

func TestIdempotencyKey(t *testing.T) { onDrivers(t, testIdempotencyKey) }

func testIdempotencyKey(t *testing.T, driver string) {
	e := newEnvOn(t, driver, nil)
	cmd := host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true, IdempotencyKey: "k1",
		Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Caller: abi.Caller{UserID: "alice"}}
	first, err := e.host.Dispatch(ctx, &cmd)
	if err != nil {
		t.Fatal(err)
	}
	again := cmd
	again.AggregateID = ""
	second, err := e.host.Dispatch(ctx, &again)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Replayed || string(second.Body) != string(first.Body) || !second.Created {
		t.Fatalf("second call not replayed: %+v", second)
	}
	evs, _ := e.store.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{})
	if len(evs) != 1 {
		t.Fatalf("%d events for one idempotent command", len(evs))
	}
	other := cmd
	other.AggregateID = ""
	other.Payload = []byte(`{"email":"bob@example.com","name":"Bob"}`)
	_, err = e.host.Dispatch(ctx, &other)
	wantError(t, err, host.KindDomain, "idempotency-key-reused")
	// The same key from another caller is another key.
	bob := other
	bob.Caller = abi.Caller{UserID: "bob"}
	if _, err := e.host.Dispatch(ctx, &bob); err != nil {
		t.Fatal(err)
	}
}

func TestStateSurvivesRestart(t *testing.T) { onDrivers(t, testStateSurvivesRestart) }

func testStateSurvivesRestart(t *testing.T, driver string) {
	e := newEnvOn(t, driver, nil)
	created := createUser(t, e.host, "ann@example.com")
	e.stop()
	e.start(t, nil)
	e.load(t, ctx)
	rec, err := e.host.State(ctx, alice, "user", "user", created.ID)
	if err != nil || rec.Version != 1 {
		t.Fatalf("after restart: %v %+v", err, rec)
	}
	_, a := dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"After Restart"}`)})
	if a.Version != 2 {
		t.Fatalf("update after restart: %+v", a)
	}
}

func TestNoEventsWritesNothing(t *testing.T) {
	e := newEnv(t, nil)
	_, a := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "t1"})
	_, noop := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "noop", Resource: "thing", AggregateID: "t1"})
	if noop.Data["nothing"] != "happened" || noop.Version != 1 || noop.ETag != a.ETag || len(noop.Events) != 0 {
		t.Fatalf("noop answered %+v", noop)
	}
}

// The guest reads state through fluvius_state_v1.get and logs through
// fluvius_log_v1.write.
func TestGuestReadsState(t *testing.T) {
	e := newEnv(t, nil)
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "a"})
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "b"})
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "touch", Resource: "thing", AggregateID: "b"})
	_, a := dispatch(t, e.host, host.Command{Domain: "faulty", Name: "read", Resource: "thing", AggregateID: "a",
		Payload: []byte(`{"id":"b"}`)})
	if a.Data["found"] != true || a.Data["version"] != float64(2) || a.Data["data"].(map[string]any)["n"] != float64(2) {
		t.Fatalf("read answered %+v", a.Data)
	}
	_, a = dispatch(t, e.host, host.Command{Domain: "faulty", Name: "read", Resource: "thing", AggregateID: "a",
		Payload: []byte(`{"id":"nobody"}`)})
	if a.Data["found"] != false {
		t.Fatalf("read of a missing record answered %+v", a.Data)
	}
}

func TestDomainErrorDetails(t *testing.T) {
	e := newEnv(t, nil)
	dispatch(t, e.host, host.Command{Domain: "faulty", Name: "create", Resource: "thing", AggregateID: "a"})
	_, err := e.host.Dispatch(ctx, &host.Command{Domain: "faulty", Name: "fail", Resource: "thing", AggregateID: "a"})
	he := wantError(t, err, host.KindDomain, "nope")
	if d, _ := json.Marshal(he.Details); string(d) != `{"why":"testing"}` {
		t.Fatalf("details %s", d)
	}
}

// A command is one guest call: the host writes requests into the buffer an
// instance already gave it, and asks for a new one only when a request does
// not fit (here a replay of many events), after which the larger buffer
// serves again.
func TestOneGuestCallPerCommand(t *testing.T) {
	e := newEnv(t, func(c *host.Config) { c.MaxInstances = 1 })
	p := e.host.Plugin("user")
	created := createUser(t, e.host, "ann@example.com")
	for i := 0; i < 300; i++ {
		dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID,
			Payload: []byte(fmt.Sprintf(`{"name":"Ann %d with a name long enough to make the stream large"}`, i))})
	}
	calls, buffers := p.CallStats()
	if calls != 301 || buffers != 1 {
		t.Fatalf("301 commands made %d guest calls and %d buffer calls; want 301 and 1", calls, buffers)
	}
	// 300 events of ~70 bytes: the replay's request is over the first buffer.
	if _, err := e.host.StateAt(ctx, alice, "user", "user", created.ID, 300); err != nil {
		t.Fatal(err)
	}
	if _, buffers = p.CallStats(); buffers != 2 {
		t.Fatalf("a request larger than the buffer made %d buffer calls in all; want 2", buffers)
	}
	dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID,
		Payload: []byte(`{"name":"Ann again"}`)})
	if calls, buffers = p.CallStats(); calls != 303 || buffers != 2 {
		t.Fatalf("after the replay: %d calls, %d buffer calls", calls, buffers)
	}
}

// Time travel by time: the state as it was at a moment, its version with
// it; before the aggregate existed, 404.
func TestStateAtTime(t *testing.T) {
	var now atomic.Int64
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	now.Store(t0.UnixNano())
	e := newEnv(t, func(c *host.Config) { c.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	ann := abi.Caller{UserID: "ann", Tenant: "acme"}
	_, created := dispatch(t, e.host, host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Caller: ann})
	for i, name := range []string{"Ann B", "Ann C"} {
		now.Store(t0.Add(time.Duration(i+1) * time.Hour).UnixNano())
		dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID,
			Payload: []byte(`{"name":"` + name + `"}`), Caller: ann})
	}
	for _, c := range []struct {
		at      time.Time
		version int64
		name    string
	}{
		{t0, 1, "Ann"}, {t0.Add(59 * time.Minute), 1, "Ann"}, {t0.Add(time.Hour), 2, "Ann B"}, {t0.Add(5 * time.Hour), 3, "Ann C"},
	} {
		data, v, err := e.host.StateAtTime(ctx, ann, "user", "user", created.ID, c.at)
		if err != nil || v != c.version || !strings.Contains(string(data), `"name":"`+c.name+`"`) {
			t.Errorf("at %s: version %d %s %v, want %d %s", c.at, v, data, err, c.version, c.name)
		}
	}
	_, _, err := e.host.StateAtTime(ctx, ann, "user", "user", created.ID, t0.Add(-time.Second))
	wantError(t, err, host.KindNotFound, "aggregate-not-found")
	// Another tenant's aggregate is as absent at any time.
	_, _, err = e.host.StateAtTime(ctx, abi.Caller{UserID: "bob", Tenant: "globex"}, "user", "user", created.ID, t0.Add(5*time.Hour))
	wantError(t, err, host.KindNotFound, "aggregate-not-found")
}
