package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// sseFrame is one frame of an event stream: an event, a comment
// (heartbeat) or a retry hint.
type sseFrame struct {
	id, event, data, retry string
	comment                bool
}

// sseClient reads an event stream over a real connection.
type sseClient struct {
	res    *http.Response
	frames chan sseFrame
	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
}

// openSSE opens GET path as an event stream, and fails the test unless it
// answers 200 text/event-stream.
func openSSE(t testing.TB, s *server, path string, headers ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s %s", path, res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	c := &sseClient{res: res, frames: make(chan sseFrame, 64), stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.frames)
	r := bufio.NewReader(c.res.Body)
	var f sseFrame
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		field, value, _ := strings.Cut(line, ": ")
		switch {
		case line == "":
			if f != (sseFrame{}) {
				select {
				case c.frames <- f:
				case <-c.stop:
					return
				}
			}
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
			f.comment = true
		case field == "id":
			f.id = value
		case field == "event":
			f.event = value
		case field == "data":
			f.data = value
		case field == "retry":
			f.retry = value
		}
	}
}

func (c *sseClient) close() {
	c.once.Do(func() {
		close(c.stop)
		c.cancel()
		c.res.Body.Close()
		<-c.done
	})
}

// frame returns the next frame of any kind; ok is false when the stream
// ended.
func (c *sseClient) frame(t testing.TB, within time.Duration) (sseFrame, bool) {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		return f, ok
	case <-time.After(within):
		t.Fatalf("no frame within %s", within)
	}
	return sseFrame{}, false
}

// liveEvent is an event frame's data.
type liveEvent struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Version     int64           `json:"version"`
	Position    int64           `json:"position"`
	Data        json.RawMessage `json:"data"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"created_at"`
	Domain      string          `json:"domain"`
	Resource    string          `json:"resource"`
	AggregateID string          `json:"aggregate_id"`
	Cursor      string          `json:"cursor"`
	frame       sseFrame
}

// next returns the next event, skipping heartbeats and hints; an error
// event fails the test.
func (c *sseClient) next(t testing.TB) liveEvent {
	t.Helper()
	for {
		f, ok := c.frame(t, 10*time.Second)
		if !ok {
			t.Fatal("the stream ended")
		}
		if f.comment || f.data == "" {
			continue
		}
		if f.event == "error" {
			t.Fatalf("the stream ended with %s", f.data)
		}
		var ev liveEvent
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatalf("frame data %q: %v", f.data, err)
		}
		if f.id != ev.Cursor || f.event != ev.Type {
			t.Fatalf("frame id %q event %q for %s", f.id, f.event, f.data)
		}
		ev.frame = f
		return ev
	}
}

// end reads the stream to its end and returns the error event's reason.
func (c *sseClient) end(t testing.TB) (reason string, events int) {
	t.Helper()
	for {
		f, ok := c.frame(t, 30*time.Second)
		if !ok {
			return reason, events
		}
		switch {
		case f.event == "error":
			var e map[string]string
			if err := json.Unmarshal([]byte(f.data), &e); err != nil || e["detail"] == "" {
				t.Fatalf("error frame %q", f.data)
			}
			reason = e["reason"]
		case f.data != "":
			events++
		}
	}
}

var (
	acmeAnn   = []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}
	globexBob = []string{"X-Fluvius-User", "bob", "X-Fluvius-Tenant", "globex"}
)

func createUser(t *testing.T, s *server, name string, headers ...string) string {
	t.Helper()
	return s.do(t, "POST", "/user:create-user/user/:new", `{"email":"`+name+`@example.com","name":"`+name+`"}`, headers...).
		want(t, 201).body["id"].(string)
}

func renameUser(t *testing.T, s *server, id, name string, headers ...string) {
	t.Helper()
	s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"`+name+`"}`, headers...).want(t, 200)
}

// expect reads events and checks each is the next of want (type and
// aggregate), in order.
func expect(t *testing.T, c *sseClient, want ...string) []liveEvent {
	t.Helper()
	var got []liveEvent
	for i := 0; i+1 < len(want); i += 2 {
		ev := c.next(t)
		if ev.Type != want[i] || ev.AggregateID != want[i+1] {
			t.Fatalf("event %d: %s of %s, want %s of %s", i/2, ev.Type, ev.AggregateID, want[i], want[i+1])
		}
		got = append(got, ev)
	}
	return got
}

// A client resuming with Last-Event-ID gets exactly the events it missed,
// in order, and then the live ones: no more, no fewer. after= resumes the
// same way, and Last-Event-ID (what an EventSource sends reconnecting to
// the URL it began with) wins over it.
func TestLiveEventsResume(t *testing.T) { onDrivers(t, testLiveEventsResume) }

func testLiveEventsResume(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	first := openSSE(t, s, "/_events?domain=user", acmeAnn...)
	if f, _ := first.frame(t, 10*time.Second); f.retry == "" {
		t.Fatalf("the stream begins with %+v, not a retry hint", f)
	}
	u1 := createUser(t, s, "ann", acmeAnn...)
	createUser(t, s, "bob", globexBob...)
	renameUser(t, s, u1, "Ann A", acmeAnn...)
	seen := expect(t, first, "user-created", u1, "user-updated", u1)
	created := seen[0]
	if created.Domain != "user" || created.Resource != "user" || created.Version != 1 || created.Position == 0 ||
		!strings.Contains(string(created.Data), `"ann@example.com"`) || !strings.Contains(string(created.Metadata), `"create-user"`) ||
		created.CreatedAt.IsZero() || created.ID == "" {
		t.Fatalf("event %s", created.frame.data)
	}
	first.close()

	// Missed while away: two of acme's, one of globex's between them.
	renameUser(t, s, u1, "Ann B", acmeAnn...)
	u2 := createUser(t, s, "cy", acmeAnn...)
	createUser(t, s, "dan", globexBob...)
	renameUser(t, s, u2, "Cy B", acmeAnn...)

	resumed := openSSE(t, s, "/_events?domain=user", append(acmeAnn, "Last-Event-ID", seen[1].Cursor)...)
	viaAfter := openSSE(t, s, "/_events?domain=user&after="+seen[1].Cursor, acmeAnn...)
	both := openSSE(t, s, "/_events?domain=user&after="+seen[0].Cursor, append(acmeAnn, "Last-Event-ID", seen[1].Cursor)...)
	missed := []string{"user-updated", u1, "user-created", u2, "user-updated", u2}
	for _, c := range []*sseClient{resumed, viaAfter, both} {
		got := expect(t, c, missed...)
		if got[0].Version != 3 || got[2].Version != 2 {
			t.Fatalf("versions %d %d", got[0].Version, got[2].Version)
		}
	}
	// Then live, and nothing came twice or between: the next event is the
	// one written next.
	renameUser(t, s, u1, "Ann C", acmeAnn...)
	u3 := createUser(t, s, "eve", acmeAnn...)
	for _, c := range []*sseClient{resumed, viaAfter, both} {
		expect(t, c, "user-updated", u1, "user-created", u3)
	}
}

// Another tenant's events never arrive, whichever the filter.
func TestLiveEventsTenants(t *testing.T) { onDrivers(t, testLiveEventsTenants) }

func testLiveEventsTenants(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	acme := openSSE(t, s, "/_events", acmeAnn...)
	globex := openSSE(t, s, "/_events?domain=user&resource=user", globexBob...)
	// The same id in both tenants: two aggregates.
	s.do(t, "POST", "/user:create-user/user/same", `{"email":"a@acme.com","name":"A"}`, acmeAnn...).want(t, 201)
	s.do(t, "POST", "/user:create-user/user/same", `{"email":"b@globex.com","name":"B"}`, globexBob...).want(t, 201)
	byID := openSSE(t, s, "/_events?domain=user&resource=user&id=same", globexBob...)
	renameUser(t, s, "same", "A2", acmeAnn...)
	renameUser(t, s, "same", "B2", globexBob...)
	a := expect(t, acme, "user-created", "same", "user-updated", "same")
	g := expect(t, globex, "user-created", "same", "user-updated", "same")
	if !strings.Contains(string(a[1].Data), "A2") || !strings.Contains(string(g[0].Data), "globex") || !strings.Contains(string(g[1].Data), "B2") {
		t.Fatalf("acme got %s, globex %s", a[1].Data, g[1].Data)
	}
	// This stream began about when globex's user was created: it may or
	// may not show that event, and shows globex's alone.
	for ev := byID.next(t); !strings.Contains(string(ev.Data), "B2"); ev = byID.next(t) {
		if !strings.Contains(string(ev.Data), "globex") {
			t.Fatalf("globex's stream of its aggregate got %s", ev.Data)
		}
	}
}

// Filters: a resource, an aggregate, event types (repeated or comma
// separated). Bad filters answer 400 with a problem; a domain or resource
// not served 404; a client that does not accept event streams 406; HEAD
// the head of a stream.
func TestLiveEventsFilters(t *testing.T) {
	s := startServer(t, t.TempDir())
	u1 := createUser(t, s, "ann")
	one := openSSE(t, s, "/_events?domain=user&resource=user&id="+u1)
	types := openSSE(t, s, "/_events?domain=user&type=user-deactivated,user-created")
	repeated := openSSE(t, s, "/_events?domain=user&type=user-deactivated&type=user-created")
	things := openSSE(t, s, "/_events?domain=faulty&resource=thing")
	u2 := createUser(t, s, "bob")
	renameUser(t, s, u1, "Ann B")
	s.do(t, "POST", "/faulty:create/thing/t1", `{}`).want(t, 201)
	s.do(t, "POST", "/user:deactivate-user/user/"+u2, `{"reason":"left"}`).want(t, 200)
	renameUser(t, s, u1, "Ann C")
	expect(t, one, "user-updated", u1, "user-updated", u1)
	expect(t, types, "user-created", u2, "user-deactivated", u2)
	expect(t, repeated, "user-created", u2, "user-deactivated", u2)
	expect(t, things, "touched", "t1")

	for _, q := range []string{"?domain=user&resource=user&id=x&id=y", "?resource=user", "?domain=user&id=x",
		"?domain=user&type=", "?domain=user&type=a,,b", "?domain=user&after=nope", "?domain=user&limit=3", "?after=1.-2"} {
		s.do(t, "GET", "/_events"+q, "").problem(t, 400, "invalid-query")
	}
	s.do(t, "GET", "/_events?domain=user", "", "Last-Event-ID", "x").problem(t, 400, "invalid-query")
	s.do(t, "GET", "/_events?domain=nope", "").problem(t, 404, "unknown-domain")
	s.do(t, "GET", "/_events?domain=user&resource=nope", "").problem(t, 404, "unknown-resource")
	s.do(t, "GET", "/_events?domain=user&resource=nope&id=x", "").problem(t, 404, "unknown-resource")
	s.do(t, "GET", "/_events", "", "Accept", "application/json").problem(t, 406, "not-acceptable")
	if r := s.do(t, "HEAD", "/_events?domain=user", "").want(t, 200); r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD: %v", r.header)
	}
}

// Reads are the caller's, by the same rules as GET .../events: without
// the read permission a stream of the resource or one aggregate is refused
// (403) before it starts, and a stream of the domain leaves those events
// out; with aggregate roles, a caller gets the events of the aggregates it
// holds a role on, as the state stands when the event goes out (a locker
// handed over goes on to its new owner). Without credentials where they are
// required, 401.
func TestLiveEventsAuthorization(t *testing.T) {
	s := startAuthorized(t, t.TempDir())
	adminKey := []string{"Authorization", "Bearer " + testAdminKey}
	kim := []string{"X-Fluvius-User", "kim", "X-Fluvius-Tenant", "acme", "X-Fluvius-Roles", "keeper"}
	ann := []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}
	eve := []string{"X-Fluvius-User", "eve", "X-Fluvius-Tenant", "acme"}
	for _, rule := range []string{`["role:keeper","acme","faulty:open-vault","run"]`, `["aggregate:owner","*","faulty.locker","read"]`,
		`["aggregate:owner","*","faulty:use-locker","run"]`} {
		s.do(t, "POST", "/_admin/policies", `{"type":"p","values":`+rule+`}`, adminKey...).want(t, 201)
	}
	s.do(t, "GET", "/_events?domain=faulty&resource=vault", "", kim...).problem(t, 403, "forbidden")
	s.do(t, "GET", "/_events?domain=faulty&resource=vault&id=v1", "", kim...).problem(t, 403, "forbidden")
	kimAll := openSSE(t, s, "/_events?domain=faulty", kim...)
	annLockers := openSSE(t, s, "/_events?domain=faulty&resource=locker", ann...)
	eveLockers := openSSE(t, s, "/_events?domain=faulty&resource=locker", eve...)

	s.do(t, "POST", "/faulty:open-vault/vault/v1", `{}`, kim...).want(t, 201)
	s.do(t, "POST", "/faulty:open-locker/locker/l1", `{}`, ann...).want(t, 201)
	s.do(t, "POST", "/faulty:use-locker/locker/l1", `{}`, ann...).want(t, 200)
	s.do(t, "POST", "/faulty:open-locker/locker/l2", `{}`, eve...).want(t, 201)
	expect(t, annLockers, "locker-opened", "l1", "locker-used", "l1")
	// eve's stream passed over ann's locker while ann owned it.
	expect(t, eveLockers, "locker-opened", "l2")

	s.do(t, "POST", "/faulty:hand-over-locker/locker/l1", `{"to":"eve"}`, ann...).want(t, 200)
	s.do(t, "POST", "/faulty:use-locker/locker/l1", `{}`, eve...).want(t, 200)
	s.do(t, "POST", "/faulty:open-locker/locker/l3", `{}`, ann...).want(t, 201)
	s.do(t, "POST", "/faulty:create/thing/t1", `{}`, kim...).want(t, 201)
	expect(t, eveLockers, "locker-handed-over", "l1", "locker-used", "l1")
	// ann's stream shows nothing of l1 once it is eve's: the next is l3.
	expect(t, annLockers, "locker-opened", "l3")
	// kim holds no read permission on vaults nor a role on a locker: the
	// thing is the first event kim's stream shows.
	expect(t, kimAll, "touched", "t1")

	// A stream of one locker is refused alike whether it exists or not.
	a := s.do(t, "GET", "/_events?domain=faulty&resource=locker&id=l3", "", eve...).problem(t, 403, "forbidden")
	b := s.do(t, "GET", "/_events?domain=faulty&resource=locker&id=none", "", eve...).problem(t, 403, "forbidden")
	if a.body["detail"] != b.body["detail"] {
		t.Errorf("refusals differ: %s / %s", a.raw, b.raw)
	}
	openSSE(t, s, "/_events?domain=faulty&resource=locker&id=l1", eve...).close()

	req := startServerOn(t, t.TempDir(), nil, func(_ *host.Host, st store.Driver, o *admin.Options) {
		o.Auth = &auth.Authenticator{RequireAuth: true, Keys: auth.NewAPIKeys(st.(store.APIKeyStore))}
	})
	req.do(t, "GET", "/_events?domain=user", "").problem(t, 401, "unauthenticated")
}

// A client that does not read is dropped once its buffer fills, and the
// host's memory does not grow with what is written meanwhile; when the
// client reads again, the stream ends with an error event saying why.
func TestLiveEventsSlowClient(t *testing.T) { onDrivers(t, testLiveEventsSlowClient) }

func testLiveEventsSlowClient(t *testing.T, fresh func() string) {
	var st store.Driver
	s := startServerOn(t, fresh(), nil, func(_ *host.Host, d store.Driver, o *admin.Options) {
		st, o.Live.Buffer, o.Live.SendBuffer = d, 64, 64<<10
	})
	id := createUser(t, s, "ann")
	renameUser(t, s, id, "Ann B")
	conn, err := dialSmallWindow(strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /_events?domain=user HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	br := bufio.NewReaderSize(conn, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", res, err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// The client reads nothing more while 2,000 events of 4 KiB are
	// written. They go straight to the store, in batches: a plugin's
	// instances would grow the heap as their own runtime pleases, and the
	// stream neither knows nor cares who wrote the events.
	before := heap()
	const batches, per, size = 40, 50, 4 << 10
	pad := strings.Repeat("x", size)
	for b := range batches {
		evs := make([]store.NewEvent, per)
		for i := range evs {
			evs[i] = store.NewEvent{ID: fmt.Sprintf("slow-%d-%d", b, i), Type: "user-updated",
				Data: []byte(`{"name":"` + pad + `"}`), Metadata: []byte(`{}`)}
		}
		if _, err := st.Executor().EventsAppend(context.Background(), &store.EventsAppendParams{
			StreamKey: store.StreamKey{Stream: host.Stream("user", "user", id)}, ExpectedVersion: store.AnyVersion,
			Events: evs, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew %d bytes while %d bytes of events were written to a client that reads nothing", grown, batches*per*size)
	if grown > batches*per*size/4 {
		t.Errorf("heap grew %d bytes", grown)
	}
	c := &sseClient{res: res, frames: make(chan sseFrame, 64), stop: make(chan struct{}), done: make(chan struct{}), cancel: func() {}}
	go c.read()
	defer c.close()
	reason, got := c.end(t)
	if reason != "slow-consumer" || got >= batches*per {
		t.Fatalf("the stream ended with %q after %d events", reason, got)
	}
}

// An idle stream sends a heartbeat comment every Heartbeat, and lives on
// past the server's write timeout: the timeout bounds each write only.
func TestLiveEventsHeartbeatAndWriteTimeout(t *testing.T) {
	s := startServerWith(t, t.TempDir(), nil, func(o *admin.Options) {
		o.WriteTimeout, o.Live.Heartbeat = 200*time.Millisecond, 50*time.Millisecond
	})
	c := openSSE(t, s, "/_events?domain=user")
	start, beats := time.Now(), 0
	for time.Since(start) < 5*200*time.Millisecond {
		f, ok := c.frame(t, 5*time.Second)
		if !ok {
			t.Fatalf("the stream ended after %s", time.Since(start))
		}
		if f.comment {
			beats++
		}
	}
	if beats < 5 {
		t.Fatalf("%d heartbeats in %s", beats, time.Since(start))
	}
	id := createUser(t, s, "ann")
	expect(t, c, "user-created", id)
}

// A host holds at most MaxClients streams: past it 503 with Retry-After,
// and a place is free again once a client has gone.
func TestLiveEventsLimit(t *testing.T) {
	s := startServerWith(t, t.TempDir(), nil, func(o *admin.Options) {
		o.Live.MaxClients, o.Live.Heartbeat = 1, 50*time.Millisecond
	})
	c := openSSE(t, s, "/_events")
	r := s.do(t, "GET", "/_events", "").problem(t, 503, "too-many-streams")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.header)
	}
	c.close()
	eventually(t, func() bool {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/_events", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode == 200
	})
}

// Stopping the server ends each stream with an error event saying so, and
// leaves no goroutine behind (TestMain checks).
func TestLiveEventsShutdown(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := openSSE(t, s, "/_events")
	id := createUser(t, s, "ann")
	expect(t, c, "user-created", id)
	s.stop()
	if reason, _ := c.end(t); reason != "shutting-down" {
		t.Fatalf("the stream ended with %q", reason)
	}
}
