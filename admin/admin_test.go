package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/blob/miniotest"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
)

var (
	pluginsDir string
	cacheDir   string
	// orderWasm is the order example, loaded by the tests that need it
	// (pluginsDir's plugins are loaded by every test server).
	orderWasm string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fluvius-admin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginsDir, cacheDir = filepath.Join(dir, "plugins"), filepath.Join(dir, "cache")
	for _, src := range []string{"../plugins/examples/user", "../host/testdata/faulty"} {
		if err := wasmbuild.GoBuild(context.Background(), src, filepath.Join(pluginsDir, filepath.Base(src)+".wasm")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	orderWasm = filepath.Join(dir, "order.wasm")
	if err := wasmbuild.GoBuild(context.Background(), "../plugins/examples/order", orderWasm); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	pgtest.Stop()
	miniotest.Stop()
	if code == 0 {
		// fasthttp keeps a process-wide date ticker, and its worker pool
		// cleaner sleeps out its interval after a shutdown; neither is ours.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// server is a real host behind a real listener.
type server struct {
	url   string
	where string
	stop  func()
}

// onDrivers runs an HTTP test against a host on each store driver: fresh
// gives the test a fresh place for its data.
func onDrivers(t *testing.T, fn func(t *testing.T, fresh func() string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func() string { return t.TempDir() }) })
	t.Run("postgres", func(t *testing.T) { fn(t, func() string { return pgtest.URL(t) }) })
}

// where is a directory for SQLite or a postgres:// URL.
func startServer(t testing.TB, where string) *server {
	t.Helper()
	return startServerWith(t, where, nil, nil)
}

// startServerWith is startServer with the host's and the HTTP layer's
// configuration changed by hostMod and adminMod (either may be nil).
func startServerWith(t testing.TB, where string, hostMod func(*host.Config), adminMod func(*admin.Options)) *server {
	t.Helper()
	var withHost func(*host.Host, store.Driver, *admin.Options)
	if adminMod != nil {
		withHost = func(_ *host.Host, _ store.Driver, o *admin.Options) { adminMod(o) }
	}
	return startServerOn(t, where, hostMod, withHost)
}

// startServerOn is startServerWith with the HTTP layer's configuration
// changed knowing the host and its store.
func startServerOn(t testing.TB, where string, hostMod func(*host.Config), adminMod func(*host.Host, store.Driver, *admin.Options)) *server {
	t.Helper()
	ctx := context.Background()
	var st store.Driver
	var err error
	if strings.HasPrefix(where, "postgres://") {
		st, err = postgres.Open(ctx, where, postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(where, "fluvius.db"), sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := host.Config{Store: st, CacheDir: cacheDir, Logger: log}
	if hostMod != nil {
		hostMod(&cfg)
	}
	h, err := host.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.LoadDir(ctx, pluginsDir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The tests speak for their callers through the headers a trusted
	// proxy would set, unless adminMod configures authentication.
	opts := admin.Options{Logger: log, BodyLimit: 64 << 10, Auth: &auth.Authenticator{TrustProxyHeaders: true}}
	if adminMod != nil {
		adminMod(h, st, &opts)
	}
	srv := admin.New(h, opts)
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	s := &server{url: "http://" + ln.Addr().String(), where: where}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		srv.Shutdown(ctx)
		<-done
		h.Close(ctx)
		st.Close()
		http.DefaultClient.CloseIdleConnections()
	}
	t.Cleanup(s.stop)
	return s
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (s *server) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := response{status: res.StatusCode, header: res.Header}
	r.raw, _ = io.ReadAll(res.Body)
	if len(r.raw) > 0 {
		if err := json.Unmarshal(r.raw, &r.body); err != nil {
			t.Fatalf("%s %s answered non-JSON %q", method, path, r.raw)
		}
	}
	return r
}

func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// problem checks an error answer is a problem body with the given code.
func (r response) problem(t *testing.T, status int, code string) response {
	t.Helper()
	r.want(t, status)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q for a problem", ct)
	}
	if r.body["code"] != code || r.body["status"] != float64(status) || r.body["detail"] == "" || r.body["title"] == "" {
		t.Fatalf("problem %s, want code %s", r.raw, code)
	}
	return r
}

func TestUserWalkthrough(t *testing.T) { onDrivers(t, testUserWalkthrough) }

func testUserWalkthrough(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	created := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`,
		"X-Fluvius-User", "alice").want(t, 201)
	id := created.body["id"].(string)
	if created.header.Get("Location") != "/user.user/"+id || created.header.Get("ETag") != `"`+created.body["etag"].(string)+`"` {
		t.Fatalf("headers %v", created.header)
	}
	if created.body["version"] != float64(1) || created.body["data"].(map[string]any)["email"] != "ann@example.com" {
		t.Fatalf("created %s", created.raw)
	}
	evs := created.body["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["type"] != "user-created" {
		t.Fatalf("events %v", evs)
	}

	state := s.do(t, "GET", "/user.user/"+id, "").want(t, 200)
	if state.body["version"] != float64(1) || state.body["created_by"] != "alice" || state.body["tenant"] != nil {
		t.Fatalf("state %s", state.raw)
	}
	s.do(t, "GET", "/user.user/"+id, "", "If-None-Match", state.header.Get("ETag")).want(t, 304)

	updated := s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"Ann B"}`, "If-Match", state.header.Get("ETag")).want(t, 200)
	if updated.body["version"] != float64(2) || updated.body["data"].(map[string]any)["name"] != "Ann B" {
		t.Fatalf("updated %s", updated.raw)
	}
	// The old ETag is stale now.
	s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"Ann C"}`, "If-Match", state.header.Get("ETag")).
		problem(t, 412, "precondition-failed")

	events := s.do(t, "GET", "/user.user/"+id+"/events", "").want(t, 200)
	list := events.body["events"].([]any)
	if len(list) != 2 || list[1].(map[string]any)["metadata"].(map[string]any)["command"] != "update-user" {
		t.Fatalf("events %s", events.raw)
	}
	page := s.do(t, "GET", "/user.user/"+id+"/events?after=1&limit=1", "").want(t, 200)
	if l := page.body["events"].([]any); len(l) != 1 || l[0].(map[string]any)["version"] != float64(2) {
		t.Fatalf("page %s", page.raw)
	}
	old := s.do(t, "GET", "/user.user/"+id+"?version=1", "").want(t, 200)
	if old.body["data"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("state at version 1: %s", old.raw)
	}

	s.do(t, "POST", "/user:deactivate-user/user/"+id, `{"reason":"left"}`).want(t, 200)
	refused := s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"Zed"}`).problem(t, 422, "user-deactivated")
	if !strings.Contains(refused.body["detail"].(string), "deactivated") {
		t.Fatalf("detail %s", refused.raw)
	}
}

func TestErrorsAreProblems(t *testing.T) { onDrivers(t, testErrorsAreProblems) }

func testErrorsAreProblems(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201).body["id"].(string)
	s.do(t, "POST", "/nope:create-user/user/:new", `{}`).problem(t, 404, "unknown-domain")
	s.do(t, "POST", "/user:nope/user/:new", `{}`).problem(t, 404, "unknown-command")
	s.do(t, "POST", "/user:create-user/nope/:new", `{}`).problem(t, 404, "unknown-resource")
	s.do(t, "POST", "/user:update-user/user/missing", `{"name":"x"}`).problem(t, 404, "aggregate-not-found")
	s.do(t, "GET", "/user.user/missing", "").problem(t, 404, "aggregate-not-found")
	s.do(t, "GET", "/user.nope/x", "").problem(t, 404, "unknown-resource")
	s.do(t, "GET", "/nothing", "").problem(t, 404, "no-route")
	s.do(t, "POST", "/user:create-user/user", `{}`).problem(t, 404, "no-route")
	s.do(t, "PUT", "/user.user/"+id, `{}`).problem(t, 405, "method-not-allowed")
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":`).problem(t, 400, "malformed-json")
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"a@b.co","name":"A","n\u0061me":"`+strings.Repeat("x", 300)+`"}`).
		problem(t, 400, "duplicate-property")
	bad := s.do(t, "POST", "/user:create-user/user/:new", `{"email":42,"extra":1}`).problem(t, 400, "invalid-payload")
	if v := bad.body["details"].([]any); len(v) != 3 { // email type, extra unknown, name required
		t.Fatalf("violations %s", bad.raw)
	}
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"nope","name":"Ann"}`).problem(t, 422, "invalid-email")
	// Every store must take what one takes: U+0000 is refused up front.
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"a@b.co","name":"A\u0000B"}`).problem(t, 400, "invalid-payload")
	s.do(t, "POST", "/user:create-user/user/"+id, `{"email":"b@example.com","name":"B"}`).problem(t, 409, "aggregate-exists")
	s.do(t, "POST", "/user:update-user/user/:new", `{"name":"x"}`).problem(t, 400, "aggregate-id-required")
	s.do(t, "POST", "/user:create-user/user/:new", `email=a`, "Content-Type", "application/x-www-form-urlencoded").
		problem(t, 415, "unsupported-media-type")
	// A body over the limit is refused from its Content-Length, before it
	// is read: the request is sent without its body, so the test never
	// writes into a connection the server has closed.
	tooLarge(t, s, "/user:create-user/user/:new", 70<<10)
	s.do(t, "GET", "/user.user/"+id+"/events?limit=0", "").problem(t, 400, "invalid-query")
	s.do(t, "POST", "/user:update-user/user/"+strings.Repeat("x", 300), `{"name":"x"}`).problem(t, 400, "invalid-id")
	s.do(t, "POST", "/user:update-user/user/a%01b", `{"name":"x"}`).problem(t, 400, "invalid-id")
	s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"x"}`, "Idempotency-Key", strings.Repeat("k", 300)).problem(t, 400, "invalid-id")
	s.do(t, "GET", "/user.user/"+id+"?version=x", "").problem(t, 400, "invalid-query")
	// After all that, nothing was written but the one user.
	evs := s.do(t, "GET", "/user.user/"+id+"/events", "").want(t, 200)
	if len(evs.body["events"].([]any)) != 1 {
		t.Fatalf("bad requests wrote events: %s", evs.raw)
	}
}

func TestPluginTrapIs500AndHostServesOn(t *testing.T) {
	s := startServer(t, t.TempDir())
	s.do(t, "POST", "/faulty:create/thing/t1", `{}`).want(t, 201)
	p := s.do(t, "POST", "/faulty:panic/thing/t1", `{}`).problem(t, 500, "plugin-failed")
	if strings.Contains(string(p.raw), "deliberate") {
		t.Fatalf("the guest's internals leaked to the client: %s", p.raw)
	}
	s.do(t, "POST", "/faulty:touch/thing/t1", `{}`).want(t, 200)
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201)
}

func TestIdempotencyKeyHeader(t *testing.T) { onDrivers(t, testIdempotencyKeyHeader) }

func testIdempotencyKeyHeader(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	first := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`, "Idempotency-Key", "abc").want(t, 201)
	again := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`, "Idempotency-Key", "abc").want(t, 201)
	if !bytes.Equal(first.raw, again.raw) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs: %s vs %s", first.raw, again.raw)
	}
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"bob@example.com","name":"Bob"}`, "Idempotency-Key", "abc").
		problem(t, 422, "idempotency-key-reused")
}

func TestMeta(t *testing.T) {
	s := startServer(t, t.TempDir())
	list := s.do(t, "GET", "/_meta", "").want(t, 200)
	if d := list.body["domains"].([]any); len(d) != 2 {
		t.Fatalf("domains %s", list.raw)
	}
	m := s.do(t, "GET", "/_meta/user", "").want(t, 200)
	var create map[string]any
	for _, c := range m.body["commands"].([]any) {
		if c.(map[string]any)["name"] == "create-user" {
			create = c.(map[string]any)
		}
	}
	if create == nil || create["urls"].([]any)[0] != "POST /user:create-user/user/:new" || create["evt_key"] != "user-created" {
		t.Fatalf("create-user %v", create)
	}
	props := create["payload"].(map[string]any)["properties"].(map[string]any)
	if props["email"].(map[string]any)["type"] != "string" {
		t.Fatalf("payload schema %v", create["payload"])
	}
	s.do(t, "GET", "/_meta/nope", "").problem(t, 404, "unknown-domain")
	s.do(t, "GET", "/healthz", "").want(t, 200)
}

func TestStateSurvivesRestart(t *testing.T) { onDrivers(t, testStateSurvivesRestart) }

func testStateSurvivesRestart(t *testing.T, fresh func() string) {
	dir := fresh()
	s := startServer(t, dir)
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201).body["id"].(string)
	s.stop()
	s = startServer(t, dir)
	if st := s.do(t, "GET", "/user.user/"+id, "").want(t, 200); st.body["data"].(map[string]any)["email"] != "ann@example.com" {
		t.Fatalf("after restart %s", st.raw)
	}
	s.do(t, "POST", "/user:update-user/user/"+id, `{"name":"Ann B"}`).want(t, 200)
}

// Requests Fiber would answer in plain text get problem bodies too.
func TestMalformedRequestsAreProblems(t *testing.T) {
	s := startServer(t, t.TempDir())
	addr := strings.TrimPrefix(s.url, "http://")
	for _, c := range []struct {
		req    string
		status string
		code   string
	}{
		{"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", "501", "method-not-implemented"},
		{"get /user.user/x HTTP/1.1\r\nHost: x\r\n\r\n", "501", "method-not-implemented"},
		{"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", "400", "bad-request"},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "400", "bad-request"},
		{"\x00\x01\x02\r\n\r\n", "400", "bad-request"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, c.req)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", c.req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		var p map[string]any
		if resp.Status[:3] != c.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p["code"] != c.code {
			t.Errorf("%q: %s %s %s", c.req, resp.Status, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(string(body), "Content-Length: abc") {
			t.Errorf("%q: the problem quotes the raw request: %s", c.req, body)
		}
	}
}

// Reads are bounded: time travel refuses a replay past its bounds with 413
// (the current version comes from the state record, replayed or not), and
// an events page ends at a byte bound with a cursor to the rest.
func TestReadsAreBounded(t *testing.T) {
	s := startServerWith(t, t.TempDir(), func(c *host.Config) { c.MaxReplayEvents, c.MaxReplayBytes = 3, 300 },
		func(o *admin.Options) { o.EventsPageBytes = 50 })
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201).body["id"].(string)
	for i := 0; i < 4; i++ {
		s.do(t, "POST", "/user:update-user/user/"+id, fmt.Sprintf(`{"name":"Ann %d"}`, i)).want(t, 200)
	}
	if got := s.do(t, "GET", "/user.user/"+id+"?version=3", "").want(t, 200).body["data"].(map[string]any)["name"]; got != "Ann 1" {
		t.Fatalf("version 3 is named %v", got)
	}
	s.do(t, "GET", "/user.user/"+id+"?version=4", "").problem(t, 413, "replay-too-large")
	if got := s.do(t, "GET", "/user.user/"+id+"?version=5", "").want(t, 200).body["data"].(map[string]any)["name"]; got != "Ann 3" {
		t.Fatalf("the current version is named %v", got)
	}
	s.do(t, "GET", "/user.user/"+id+"?version=6", "").problem(t, 404, "version-not-found")
	// Events of about 200 bytes: three of them are over the replay's
	// 300-byte bound, two are not.
	big := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"bob@example.com","name":"Bob"}`).want(t, 201).body["id"].(string)
	for _, c := range "bcd" {
		s.do(t, "POST", "/user:update-user/user/"+big, `{"name":"`+strings.Repeat(string(c), 190)+`"}`).want(t, 200)
	}
	if st := s.do(t, "GET", "/user.user/"+big+"?version=2", "").want(t, 200); st.body["version"] != float64(2) {
		t.Fatalf("version 2: %s", st.raw)
	}
	s.do(t, "GET", "/user.user/"+big+"?version=3", "").problem(t, 413, "replay-too-large")

	// Pages: the first event's data is 41 bytes, the others 16, so a 50-byte page
	// ends after a few events, and following next_after reads them all.
	versions := []float64{}
	after := 0.0
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("more pages than events")
		}
		page := s.do(t, "GET", fmt.Sprintf("/user.user/%s/events?after=%d", id, int(after)), "").want(t, 200)
		evs := page.body["events"].([]any)
		if len(evs) == 0 || len(evs) >= 5 && pages == 0 {
			t.Fatalf("page %d has %d events: %s", pages, len(evs), page.raw)
		}
		for _, ev := range evs {
			versions = append(versions, ev.(map[string]any)["version"].(float64))
		}
		next, ok := page.body["next_after"].(float64)
		if !ok {
			break
		}
		after = next
	}
	if fmt.Sprint(versions) != "[1 2 3 4 5]" {
		t.Fatalf("paged versions %v", versions)
	}
}

// Over HTTP too, a tenant sees only its own aggregates: another tenant's id
// answers exactly as a missing one, and the same id can be created there.
func TestTenantsOverHTTP(t *testing.T) { onDrivers(t, testTenantsOverHTTP) }

func testTenantsOverHTTP(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	acme, globex := []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}, []string{"X-Fluvius-User", "bob", "X-Fluvius-Tenant", "globex"}
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@acme.com","name":"Ann"}`, acme...).want(t, 201).body["id"].(string)
	for _, target := range []string{id, "no-such-id"} {
		missing := s.do(t, "GET", "/user.user/"+target, "", globex...).problem(t, 404, "aggregate-not-found")
		if strings.Contains(string(missing.raw), "acme") {
			t.Fatalf("the problem names the other tenant: %s", missing.raw)
		}
		s.do(t, "GET", "/user.user/"+target+"/events", "", globex...).problem(t, 404, "aggregate-not-found")
		s.do(t, "GET", "/user.user/"+target+"?version=1", "", globex...).problem(t, 404, "aggregate-not-found")
		s.do(t, "POST", "/user:update-user/user/"+target, `{"name":"Bob"}`, globex...).problem(t, 404, "aggregate-not-found")
	}
	s.do(t, "POST", "/user:create-user/user/"+id, `{"email":"bob@globex.com","name":"Bob"}`, globex...).want(t, 201)
	if name := s.do(t, "GET", "/user.user/"+id, "", acme...).want(t, 200).body["data"].(map[string]any)["name"]; name != "Ann" {
		t.Fatalf("acme's user is named %v", name)
	}
	if name := s.do(t, "GET", "/user.user/"+id, "", globex...).want(t, 200).body["data"].(map[string]any)["name"]; name != "Bob" {
		t.Fatalf("globex's user is named %v", name)
	}
}

// tooLarge sends the head of a POST announcing a body of n bytes and the
// start of it, and checks the answer is 413 body-too-large with a problem
// body.
func tooLarge(t *testing.T, s *server, path string, n int) {
	t.Helper()
	refusedEarly(t, s, path, n, 413, "body-too-large", "Content-Type", "application/json")
}

// refusedEarly sends the head of a POST announcing a body of n bytes and
// the first 16 KiB of it (what fits in the socket's buffers, so writing it
// cannot fail when the host answers and closes), and checks the answer is
// a problem with the status and code.
func refusedEarly(t *testing.T, s *server, path string, n, status int, code string, headers ...string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", path, n)
	for i := 0; i+1 < len(headers); i += 2 {
		head += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	fmt.Fprint(conn, head+"\r\n")
	conn.Write(make([]byte, min(n, 16<<10)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var p map[string]any
	if resp.StatusCode != status || json.Unmarshal(body, &p) != nil || p["code"] != code {
		t.Fatalf("a %d-byte body: %s %s", n, resp.Status, body)
	}
}
