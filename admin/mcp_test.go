package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/mcp"
	"fluvius.dev/fluvius/store"
)

// bearerTransport adds a bearer token to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// startMCP serves the examples with authentication (API keys, the admin
// key), policies and the MCP endpoint; h is the host, for loading more.
func startMCP(t *testing.T) (*server, *host.Host) {
	t.Helper()
	var hh *host.Host
	var az *authz.Authorizer
	withAuthz := func(c *host.Config) {
		var err error
		if az, err = authz.New(t.Context(), c.Store.(store.PolicyStore), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		c.Authorizer = az
	}
	s := startServerOn(t, t.TempDir(), withAuthz, func(h *host.Host, st store.Driver, o *admin.Options) {
		hh = h
		keys := st.(store.APIKeyStore)
		o.APIKeys = keys
		o.Authz = az
		o.Auth = &auth.Authenticator{AdminKey: testAdminKey, Keys: auth.NewAPIKeys(keys), RequireAuth: true}
		svc := mcp.New(h, mcp.Options{Auth: o.Auth, Rescan: 50 * time.Millisecond})
		svc.Start(t.Context())
		t.Cleanup(svc.Close)
		o.MCP = svc
	})
	return s, hh
}

// connect opens an MCP session with the Go SDK's client over the real
// listener.
func connect(t *testing.T, url, token string, onChange func()) *sdk.ClientSession {
	t.Helper()
	return connectLogged(t, url, token, onChange, nil)
}

// connectLogged is connect, writing the session's JSON-RPC messages to log.
func connectLogged(t *testing.T, url, token string, onChange func(), log io.Writer) *sdk.ClientSession {
	t.Helper()
	opts := &sdk.ClientOptions{}
	if onChange != nil {
		opts.ToolListChangedHandler = func(context.Context, *sdk.ToolListChangedRequest) { onChange() }
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "fluvius-test", Version: "1"}, opts)
	var rt http.RoundTripper = bearerTransport{token}
	if log != nil {
		rt = &wireLog{inner: rt, w: log}
	}
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: &http.Client{Transport: rt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// An agent over MCP: it lists the tools its grants allow, sends a command
// through the dispatcher, reads the aggregate as a resource, meets a domain
// error as a tool error, and is refused without credentials; the tools
// follow plugin activation.
func TestMCPSession(t *testing.T) {
	s, h := startMCP(t)
	ctx := context.Background()
	made := s.do(t, "POST", "/_admin/api-keys", `{"name":"agent","tenant":"acme","roles":["clerk"]}`, bearer(testAdminKey)...).want(t, 201)
	key := made.body["key"].(string)

	// Without credentials: 401, with the challenge.
	res, err := http.Post(s.url+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("without credentials: %d %v", res.StatusCode, res.Header)
	}

	changed := make(chan struct{}, 8)
	var transcript bytes.Buffer
	cs := connectLogged(t, s.url, key, func() { changed <- struct{}{} }, &transcript)
	defer func() { t.Logf("the session's messages:\n%s", transcript.String()) }()
	names := toolNames(t, cs)
	for _, want := range []string{"user.create-user", "user.update-user", "user.user.list", "faulty.create"} {
		if !slices.Contains(names, want) {
			t.Fatalf("tool %s missing from %v", want, names)
		}
	}
	// A command whose policy the caller is not granted is not listed.
	if slices.Contains(names, "faulty.open-vault") {
		t.Fatalf("a command the caller may not send is listed: %v", names)
	}
	// Granted to its role, a new session lists it.
	s.do(t, "POST", "/_admin/policies", `{"type":"p","values":["role:clerk","acme","faulty:open-vault","run"]}`, bearer(testAdminKey)...).want(t, 201)
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(toolNames(t, connect(t, s.url, key, nil)), "faulty.open-vault") {
		if time.Now().After(deadline) {
			t.Fatal("a granted command is not listed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A command, through the dispatcher, in the key's tenant.
	call, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "user.create-user",
		Arguments: map[string]any{"payload": map[string]any{"email": "ann@example.com", "name": "Ann"}}})
	if err != nil || call.IsError {
		t.Fatalf("create-user: %+v %v", call, err)
	}
	body := call.StructuredContent.(map[string]any)
	id := body["id"].(string)
	if body["version"] != float64(1) || body["data"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("the answer: %v", body)
	}
	// The same aggregate as a resource.
	read, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "fluvius://user/user/" + id})
	if err != nil || len(read.Contents) != 1 || !strings.Contains(read.Contents[0].Text, `"Ann"`) {
		t.Fatalf("reading the state: %+v %v", read, err)
	}
	evs, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "fluvius://user/user/" + id + "/events"})
	if err != nil || !strings.Contains(evs.Contents[0].Text, `"user-created"`) {
		t.Fatalf("reading the events: %+v %v", evs, err)
	}
	// Another tenant's key finds nothing there.
	other := s.do(t, "POST", "/_admin/api-keys", `{"name":"other","tenant":"globex"}`, bearer(testAdminKey)...).want(t, 201).body["key"].(string)
	if _, err := connect(t, s.url, other, nil).ReadResource(ctx, &sdk.ReadResourceParams{URI: "fluvius://user/user/" + id}); err == nil {
		t.Fatal("another tenant read the aggregate")
	}
	// A domain error is a tool error with the plugin's code.
	bad, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "user.create-user",
		Arguments: map[string]any{"payload": map[string]any{"email": "not-an-address", "name": "Bo"}}})
	if err != nil || !bad.IsError || bad.StructuredContent.(map[string]any)["code"] != "invalid-email" {
		t.Fatalf("a domain error: %+v %v", bad, err)
	}
	// A payload failing its schema is refused by the host as over REST.
	if bad, _ := cs.CallTool(ctx, &sdk.CallToolParams{Name: "user.update-user",
		Arguments: map[string]any{"id": "nobody", "payload": map[string]any{"name": "X"}}}); bad == nil || !bad.IsError ||
		bad.StructuredContent.(map[string]any)["code"] != "aggregate-not-found" {
		t.Fatalf("a missing aggregate: %+v", bad)
	}
	// A list tool queries the resource.
	list, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "user.user.list", Arguments: map[string]any{"query": map[string]any{"name": "Ann"}}})
	if err != nil || list.IsError || list.StructuredContent.(map[string]any)["total"] != float64(1) {
		t.Fatalf("listing: %+v %v", list, err)
	}

	// Loading the order domain changes the tools: the session is told.
	if _, err := h.LoadFile(ctx, orderWasm); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("no tools/list_changed after a plugin was loaded")
	}
	if names := toolNames(t, cs); !slices.Contains(names, "order.place-order") {
		t.Fatalf("the new domain's tools are not listed: %v", names)
	}
	// A revoked key ends its session's use at the next call.
	s.do(t, "DELETE", "/_admin/api-keys/"+made.body["id"].(string), "", bearer(testAdminKey)...).want(t, 204)
	if after, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "user.user.list", Arguments: map[string]any{}}); err == nil && !after.IsError {
		t.Fatalf("a revoked key's session was answered: %+v", after)
	}
	raw, _ := json.Marshal(call)
	t.Logf("a tool call answered %.300s", raw)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// The same endpoint through the TypeScript SDK (@modelcontextprotocol/sdk,
// installed by scripts/install-mcp-client.sh), run by node.
func TestMCPTypeScriptClient(t *testing.T) {
	modules := os.Getenv("FLUVIUS_MCP_TS")
	if modules == "" {
		if home, err := os.UserCacheDir(); err == nil {
			modules = filepath.Join(home, "fluvius", "mcp-ts", "node_modules")
		}
	}
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(modules, "@modelcontextprotocol", "sdk")); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs the TypeScript MCP client: scripts/install-mcp-client.sh, and node")
		}
		t.Skip("the TypeScript MCP SDK is not installed (scripts/install-mcp-client.sh)")
	}
	s, _ := startMCP(t)
	key := s.do(t, "POST", "/_admin/api-keys", `{"name":"ts","tenant":"acme"}`, bearer(testAdminKey)...).want(t, 201).body["key"].(string)
	// ES modules resolve packages beside the script, not by NODE_PATH.
	dir := t.TempDir()
	script, _ := os.ReadFile(filepath.Join("testdata", "mcp-client.mjs"))
	os.WriteFile(filepath.Join(dir, "mcp-client.mjs"), script, 0o644)
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "mcp-client.mjs"), s.url+"/mcp", key).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Tools   []string       `json:"tools"`
		Created map[string]any `json:"created"`
		State   map[string]any `json:"state"`
		Error   struct {
			IsError bool   `json:"isError"`
			Code    string `json:"code"`
		} `json:"error"`
		Anonymous string `json:"anonymous"`
	}
	if err := json.Unmarshal(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:], &got); err != nil {
		t.Fatalf("the client printed %s", out)
	}
	if !slices.Contains(got.Tools, "user.create-user") || got.Created["version"] != float64(1) ||
		got.State["data"].(map[string]any)["name"] != "Tess" || !got.Error.IsError || got.Error.Code != "invalid-email" ||
		!strings.Contains(got.Anonymous, "401") {
		t.Fatalf("the TypeScript client saw %s", out)
	}
	t.Logf("the TypeScript client saw %s", out)
}

// wireLog writes what goes over the wire of an MCP session: each request's
// method and JSON body, and each answer's body as the client reads it
// (server-sent events included).
type wireLog struct {
	inner http.RoundTripper
	mu    sync.Mutex
	w     io.Writer
}

func (l *wireLog) write(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func (l *wireLog) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	l.write("> %s %s %s\n", r.Method, r.URL.Path, bytes.TrimSpace(body))
	res, err := l.inner.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	l.write("< %d %s\n", res.StatusCode, res.Header.Get("Content-Type"))
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(res.Body, writerFunc(func(p []byte) (int, error) {
		l.write("< %s\n", bytes.TrimSpace(p))
		return len(p), nil
	})), res.Body}
	return res, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
