package admin_test

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
)

// startUI starts a host with the registry, API keys and the admin key.
func startUI(t *testing.T) *server { return startUIWith(t, nil) }

// startUIWith is startUI, handing the host and its registry to with before
// the server starts.
func startUIWith(t testing.TB, with func(*host.Host, *registry.Registry)) *server {
	return startServerOn(t, t.TempDir(), nil, func(h *host.Host, st store.Driver, o *admin.Options) {
		keys := st.(store.APIKeyStore)
		o.APIKeys = keys
		az, err := authz.New(t.Context(), st.(store.PolicyStore), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		o.Authz = az
		o.Auth = &auth.Authenticator{AdminKey: testAdminKey, Keys: auth.NewAPIKeys(keys)}
		blobs, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		reg := registry.New(h, st.(store.PluginStore), blobs, nil, registry.Options{})
		if err := reg.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(reg.Close)
		o.Registry = reg
		if with != nil {
			with(h, reg)
		}
	})
}

// browser is an HTTP client with cookies, as a browser signs in.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (b *browser) keep(res *http.Response) (int, string) {
	b.t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, string(body)
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.keep(res)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.keep(res)
}

// The admin UI over plain HTTP: sign-in, sessions, CSRF, and each page's
// action going through the same services as the API.
func TestAdminUIFlows(t *testing.T) {
	s := startUI(t)
	b := newBrowser(t, s.url)
	// Nothing but the sign-in page without a session.
	if code, body := b.get("/admin"); code != 200 || !strings.Contains(body, "Sign in") {
		t.Fatalf("no session: %d", code)
	}
	if code, body := b.post("/admin/login", url.Values{"credential": {"wrong"}}); code != 401 || !strings.Contains(body, "not accepted") {
		t.Fatalf("a wrong key: %d %s", code, body)
	}
	code, body := b.post("/admin/login", url.Values{"credential": {testAdminKey}})
	if code != 200 || !strings.Contains(body, "Overview") || b.csrf == "" {
		t.Fatalf("signed in: %d %s", code, body)
	}
	// A form without its token, or with another's, is refused.
	if code, _ := b.post("/admin/keys", url.Values{"name": {"x"}}); code != 403 {
		t.Fatalf("no CSRF token: %d", code)
	}
	// Upload a version (multipart, the token first), then activate it.
	// Without the token the module is not even read, and nothing is stored.
	user, _ := os.ReadFile(filepath.Join(pluginsDir, "user.wasm"))
	// Each request gets a buffer of its own: the host may answer (403)
	// before the client has written the body, which it is still reading.
	form := new(bytes.Buffer)
	mw := multipart.NewWriter(form)
	part, _ := mw.CreateFormFile("module", "user.wasm")
	part.Write(user)
	mw.Close()
	// The host answers 403 and closes without reading the module; a
	// client still writing it may see the connection reset before the
	// answer (as under the race detector's pace). Either way it is refused.
	res, err := b.c.Post(s.url+"/admin/plugins", mw.FormDataContentType(), form)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatal(err)
	}
	if err == nil {
		if code, body := b.keep(res); code != 403 || !strings.Contains(body, "csrf") {
			t.Fatalf("an upload without its token: %d", code)
		}
	}
	if _, body := b.get("/admin/plugins"); !strings.Contains(body, "holds no plugin") {
		t.Fatal("a refused upload was stored")
	}
	form = new(bytes.Buffer)
	mw = multipart.NewWriter(form)
	mw.WriteField("csrf", b.csrf)
	part, _ = mw.CreateFormFile("module", "user.wasm")
	part.Write(user)
	mw.Close()
	res, err = b.c.Post(s.url+"/admin/plugins", mw.FormDataContentType(), form)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := b.keep(res); code != 200 || !strings.Contains(body, "Uploaded user version 1") {
		t.Fatalf("upload: %d %s", code, body)
	}
	if code, body := b.get("/admin/plugins/user/versions/1/activate"); code != 200 || !strings.Contains(body, "streams replayed") {
		t.Fatalf("verification: %d %s", code, body)
	}
	if code, body := b.post("/admin/plugins/user/versions/1/activate", url.Values{"csrf": {b.csrf}, "revision": {"0"}}); code != 200 ||
		!strings.Contains(body, "Version 1 is active") {
		t.Fatalf("activate: %d %s", code, body)
	}
	// A second version (a rebuild: the same manifest), compared with the first.
	form = new(bytes.Buffer)
	mw = multipart.NewWriter(form)
	mw.WriteField("csrf", b.csrf)
	part, _ = mw.CreateFormFile("module", "user2.wasm")
	part.Write(withCustomSection(user, "2"))
	mw.Close()
	if res, err = b.c.Post(s.url+"/admin/plugins", mw.FormDataContentType(), form); err != nil {
		t.Fatal(err)
	}
	if code, body := b.keep(res); code != 200 || !strings.Contains(body, "Uploaded user version 2") {
		t.Fatalf("a second upload: %d", code)
	}
	if code, body := b.get("/admin/plugins/user/diff"); code != 200 || !strings.Contains(body, "0 of ") || !strings.Contains(body, "create-user") {
		t.Fatalf("diff: %d %s", code, body)
	}
	// Scenarios against the version, in a throwaway host.
	scen, _ := os.ReadFile("../plugins/examples/user/scenarios.json")
	form = new(bytes.Buffer)
	mw = multipart.NewWriter(form)
	mw.WriteField("csrf", b.csrf)
	part, _ = mw.CreateFormFile("scenarios", "scenarios.json")
	part.Write(scen)
	mw.Close()
	if res, err = b.c.Post(s.url+"/admin/plugins/user/versions/1/test", mw.FormDataContentType(), form); err != nil {
		t.Fatal(err)
	}
	if code, body := b.keep(res); code != 200 || !strings.Contains(body, "passed, 0 failed") {
		t.Fatalf("scenarios: %d %s", code, body)
	}
	// Policies: add, test, remove.
	rule := url.Values{"csrf": {b.csrf}, "type": {"p"}, "values": {"role:clerk, acme, user:create-user, run"}}
	if code, body := b.post("/admin/policies", rule); code != 200 || !strings.Contains(body, "Rule added") {
		t.Fatalf("add a rule: %d %s", code, body)
	}
	if code, body := b.post("/admin/policies/test", url.Values{"csrf": {b.csrf}, "user": {"ann"}, "tenant": {"acme"},
		"roles": {"clerk"}, "object": {"user:create-user"}, "action": {"run"}}); code != 200 || !strings.Contains(body, ": allowed") {
		t.Fatalf("test a request: %d %s", code, body)
	}
	if code, body := b.post("/admin/policies/remove", url.Values{"csrf": {b.csrf}, "type": {"p"},
		"values": {`["role:clerk","acme","user:create-user","run"]`}}); code != 200 || !strings.Contains(body, "Rule removed") {
		t.Fatalf("remove a rule: %d %s", code, body)
	}
	// A command from its generated form, checked by the host.
	if code, body := b.get("/admin/domains/user"); code != 200 || !strings.Contains(body, `name="email"`) || !strings.Contains(body, "required") {
		t.Fatalf("domain page: %d", code)
	}
	code, body = b.post("/admin/domains/user/commands/create-user", url.Values{"csrf": {b.csrf}, "_resource": {"user"},
		"email": {"ann@example.com"}, "name": {"Ann"}, "tags": {"ops, dev"}})
	if code != 200 || !strings.Contains(body, "Answer 201") || !strings.Contains(body, "&#34;ops&#34;") {
		t.Fatalf("send: %d %s", code, body)
	}
	link := regexp.MustCompile(`href="(/admin/resources/user\.user/[^"]+)"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatal("no link to the aggregate")
	}
	if code, body := b.post("/admin/domains/user/commands/create-user", url.Values{"csrf": {b.csrf}, "_resource": {"user"},
		"email": {"nope"}, "name": {"Bo"}}); code != 422 || !strings.Contains(body, "invalid-email") {
		t.Fatalf("a refused command: %d", code)
	}
	// The overview counts them (one refused) and shows the recent event.
	if code, body := b.get("/admin"); code != 200 || !strings.Contains(body, "<td>2</td><td>1</td><td>0</td>") || !strings.Contains(body, "user-created") {
		t.Fatalf("overview: %d %s", code, body)
	}
	// Find it with a filter; open it; travel to version 1.
	if code, body := b.get("/admin/resources/user.user?query=" + url.QueryEscape(`{"name.has":"ann"}`)); code != 200 || !strings.Contains(body, "1 found") {
		t.Fatalf("resources: %d %s", code, body)
	}
	if code, body := b.get("/admin/resources/user.user?query=" + url.QueryEscape(`{"nope":1}`)); code != 400 || !strings.Contains(body, "unknown field") {
		t.Fatalf("a bad filter: %d", code)
	}
	if code, body := b.get(link[1] + "?version=1"); code != 200 || !strings.Contains(body, "user-created") || !strings.Contains(body, "at version 1") {
		t.Fatalf("aggregate: %d %s", code, body)
	}
	// Keys: create (shown once), revoke.
	code, body = b.post("/admin/keys", url.Values{"csrf": {b.csrf}, "name": {"billing"}, "roles": {"admin"}})
	key := regexp.MustCompile(`<pre id="new-key">(fk_[^<]+)</pre>`).FindStringSubmatch(body)
	if code != 200 || key == nil {
		t.Fatalf("create a key: %d %s", code, body)
	}
	// A session signed in with that key ends when the key is revoked.
	other := newBrowser(t, s.url)
	if code, body := other.post("/admin/login", url.Values{"credential": {key[1]}}); code != 200 || !strings.Contains(body, "Overview") {
		t.Fatalf("sign in with the new key: %d", code)
	}
	id := regexp.MustCompile(`fk_([^_]+)_`).FindStringSubmatch(key[1])[1]
	if code, body := b.post("/admin/keys/"+id+"/revoke", url.Values{"csrf": {b.csrf}}); code != 200 || !strings.Contains(body, "revoked") {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if _, body := other.get("/admin"); !strings.Contains(body, "Sign in") {
		t.Fatal("a session outlived its revoked key")
	}
	// Page weight: each page's HTML, and the one stylesheet and script
	// every page shares (for the note; nothing is asserted of it).
	for _, page := range []string{"/admin", "/admin/plugins", "/admin/plugins/user", "/admin/domains/user", "/admin/resources/user.user",
		link[1], "/admin/events", "/admin/keys", "/admin/static/app.css", "/admin/static/app.js"} {
		_, body := b.get(page)
		t.Logf("page weight %s: %d bytes", page, len(body))
	}
	// Sign out.
	b.post("/admin/logout", url.Values{"csrf": {b.csrf}})
	if _, body := b.get("/admin"); !strings.Contains(body, "Sign in") {
		t.Fatal("signed out, still in")
	}
}
