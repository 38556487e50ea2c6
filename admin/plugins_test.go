package admin_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
)

// startWithRegistry starts a server whose management API drives a plugin
// registry over its store, modules up to maxModule bytes.
func startWithRegistry(t *testing.T, where string, maxModule int64) *server {
	return startServerOn(t, where, nil, func(h *host.Host, st store.Driver, o *admin.Options) {
		o.Auth = &auth.Authenticator{TrustProxyHeaders: true, AdminKey: testAdminKey}
		o.MaxModuleBytes = maxModule
		blobs, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		reg := registry.New(h, st.(store.PluginStore), blobs, nil, registry.Options{MaxModuleBytes: maxModule})
		if err := reg.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(reg.Close)
		o.Registry = reg
	})
}

// withCustomSection returns the module with a custom section appended: the
// same plugin in other bytes, as a rebuild gives.
func withCustomSection(wasm []byte, tag string) []byte {
	payload := "\x04test" + tag
	return append(append([]byte{}, wasm...), append([]byte{0, byte(len(payload))}, payload...)...)
}

// The management API over HTTP: admin credentials only; uploads raw and
// multipart, refusals as problems; list, show with history and ETag;
// activate with If-Match, roll back, disable, delete.
func TestPluginsAPI(t *testing.T) { onDrivers(t, testPluginsAPI) }

func testPluginsAPI(t *testing.T, fresh func() string) {
	user, err := os.ReadFile(filepath.Join(pluginsDir, "user.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	s := startWithRegistry(t, fresh(), int64(len(user))+64)
	admin := []string{"Authorization", "Bearer " + testAdminKey}
	wasm := append([]string{"Content-Type", "application/wasm"}, admin...)

	s.do(t, "GET", "/_admin/plugins", "").problem(t, 401, "unauthenticated")
	s.do(t, "POST", "/_admin/plugins", "\x00asm", "Content-Type", "application/wasm").problem(t, 401, "unauthenticated")

	up := s.do(t, "POST", "/_admin/plugins", string(user), wasm...).want(t, 201)
	if v := up.body["version"].(map[string]any); up.body["domain"] != "user" || v["version"] != 1.0 || v["status"] != "uploaded" || v["toolchain"] != "go" {
		t.Fatalf("upload: %s", up.raw)
	}
	if again := s.do(t, "POST", "/_admin/plugins", string(user), wasm...).want(t, 200); again.body["existed"] != true {
		t.Fatalf("the same module again: %s", again.raw)
	}
	// Multipart, with the module in its "module" part.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("module", "user.wasm")
	part.Write(withCustomSection(user, "2"))
	mw.Close()
	s.do(t, "POST", "/_admin/plugins", form.String(), append([]string{"Content-Type", mw.FormDataContentType()}, admin...)...).want(t, 201)

	// Refusals, each saying what is wrong.
	s.do(t, "POST", "/_admin/plugins", "not a module", wasm...).problem(t, 400, "not-wasm")
	s.do(t, "POST", "/_admin/plugins", string(user[:len(user)/3]), wasm...).problem(t, 400, "module-refused")
	refusedEarly(t, s, "/_admin/plugins", len(user)+100, 413, "module-too-large", wasm...)
	s.do(t, "POST", "/_admin/plugins?domain=bank", string(user), wasm...).problem(t, 409, "domain-mismatch")
	// (A small body: one past the limit is refused before it is read, and
	// the client may see the connection close while it still writes.)
	s.do(t, "POST", "/_admin/plugins", "\x00asm", append([]string{"Content-Type", "text/plain"}, admin...)...).problem(t, 415, "unsupported-media-type")
	s.do(t, "POST", "/_admin/plugins", "", wasm...).problem(t, 400, "module-missing")

	list := s.do(t, "GET", "/_admin/plugins", "", admin...).want(t, 200)
	if ps := list.body["plugins"].([]any); len(ps) != 1 || ps[0].(map[string]any)["active_version"] != nil {
		t.Fatalf("list: %s", list.raw)
	}
	act := s.do(t, "POST", "/_admin/plugins/user/activate", `{"version":1}`, admin...).want(t, 200)
	if act.header.Get("ETag") != `"r1"` || act.body["version"].(map[string]any)["status"] != "active" {
		t.Fatalf("activate: %v %s", act.header, act.raw)
	}
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201)
	s.do(t, "POST", "/_admin/plugins/user/activate", `{"version":2}`, append([]string{"If-Match", `"r7"`}, admin...)...).problem(t, 412, "precondition-failed")
	two := s.do(t, "POST", "/_admin/plugins/user/activate", `{"version":2}`, append([]string{"If-Match", `"r1"`}, admin...)...).want(t, 200)
	if rep := two.body["verification"].(map[string]any); rep["checked"] != 1.0 || two.body["previous_version"] != 1.0 {
		t.Fatalf("activate 2: %s", two.raw)
	}
	s.do(t, "POST", "/_admin/plugins/user/activate", `{}`, admin...).problem(t, 400, "invalid-payload")
	s.do(t, "POST", "/_admin/plugins/user/activate", `{"version":9}`, admin...).problem(t, 404, "version-not-found")
	back := s.do(t, "POST", "/_admin/plugins/user/rollback", "", admin...).want(t, 200)
	if back.body["version"].(map[string]any)["version"] != 1.0 {
		t.Fatalf("rollback: %s", back.raw)
	}
	show := s.do(t, "GET", "/_admin/plugins/user", "", admin...).want(t, 200)
	if show.header.Get("ETag") != `"r3"` || len(show.body["versions"].([]any)) != 2 || len(show.body["history"].([]any)) != 5 {
		t.Fatalf("show: %v %s", show.header, show.raw)
	}
	if m := show.body["versions"].([]any)[0].(map[string]any)["manifest"].(map[string]any); m["domain"] != "user" {
		t.Fatalf("the active version's manifest: %v", m)
	}
	s.do(t, "GET", "/_admin/plugins/nope", "", admin...).problem(t, 404, "unknown-domain")
	s.do(t, "DELETE", "/_admin/plugins/user/versions/1", "", admin...).problem(t, 409, "version-active")
	s.do(t, "DELETE", "/_admin/plugins/user/versions/2", "", admin...).want(t, 204)
	s.do(t, "GET", "/_admin/plugins/user/versions/2", "", admin...).problem(t, 404, "version-not-found")
	s.do(t, "POST", "/_admin/plugins/user/disable", "", admin...).want(t, 200)
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"bo@example.com","name":"Bo"}`).problem(t, 404, "unknown-domain")
	// Upload and activate in one request.
	one := s.do(t, "POST", "/_admin/plugins?activate=true", string(withCustomSection(user, "3")), wasm...).want(t, 201)
	if one.body["version"].(map[string]any)["status"] != "active" || one.body["verification"] == nil {
		t.Fatalf("upload and activate: %s", one.raw)
	}
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"bo@example.com","name":"Bo"}`).want(t, 201)
}

// Bodies past the limit are refused on every route but the upload, also
// when they come without a length (chunked); a chunked body within it is
// read.
func TestChunkedBodies(t *testing.T) {
	s := startServer(t, t.TempDir())
	send := func(body string) int {
		req, _ := http.NewRequest("POST", s.url+"/user:create-user/user/:new", struct{ *strings.Reader }{strings.NewReader(body)})
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1 // chunked
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(`{"email":"ann@example.com","name":"Ann"}`); got != 201 {
		t.Fatalf("a small chunked body: %d", got)
	}
	if got := send(`{"email":"ann@example.com","name":"` + strings.Repeat("a", 80<<10) + `"}`); got != 413 {
		t.Fatalf("a large chunked body: %d", got)
	}
}

// A body refused before it is read ends the connection: its bytes are
// never parsed as the next request (here, one smuggled in the body).
func TestUnreadBodyClosesConnection(t *testing.T) {
	s := startServer(t, t.TempDir())
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	smuggled := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	body := smuggled + strings.Repeat(" ", 100<<10-len(smuggled))
	fmt.Fprintf(conn, "POST /user:create-user/user/:new HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	go conn.Write([]byte(body)) // may fail once the host closes
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 413 || !resp.Close {
		t.Fatalf("%s, close %v", resp.Status, resp.Close)
	}
	if next, err := http.ReadResponse(r, nil); err == nil {
		t.Fatalf("a second answer came on the connection: %s", next.Status)
	}
}

// Requests sent without pause over HTTP through 20 activations and
// rollbacks made over HTTP: not one fails.
func TestNoFailedRequestsThroughActivations(t *testing.T) {
	user, err := os.ReadFile(filepath.Join(pluginsDir, "user.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	s := startWithRegistry(t, t.TempDir(), 64<<20)
	admin := []string{"Authorization", "Bearer " + testAdminKey}
	wasm := append([]string{"Content-Type", "application/wasm"}, admin...)
	s.do(t, "POST", "/_admin/plugins?activate=true", string(user), wasm...).want(t, 201)
	s.do(t, "POST", "/_admin/plugins", string(withCustomSection(user, "2")), wasm...).want(t, 201)
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201).body["id"].(string)
	stop := make(chan struct{})
	type result struct{ sent, failed int }
	results := make(chan result, 4)
	client := &http.Client{}
	for w := 0; w < 4; w++ {
		go func() {
			var r result // each update names Ann anew: the domain refuses one that changes nothing
			defer func() { results <- r }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var res *http.Response
				var err error
				if r.sent%2 == 0 {
					res, err = client.Post(s.url+"/user:update-user/user/"+id, "application/json", strings.NewReader(fmt.Sprintf(`{"name":"Ann %d-%d"}`, w, r.sent)))
				} else {
					res, err = client.Get(s.url + "/user.user/" + id)
				}
				r.sent++
				if err != nil {
					r.failed++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 {
					r.failed++
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if i%2 == 0 {
			s.do(t, "POST", "/_admin/plugins/user/activate", `{"version":2}`, admin...).want(t, 200)
		} else {
			s.do(t, "POST", "/_admin/plugins/user/rollback", "", admin...).want(t, 200)
		}
	}
	close(stop)
	var total result
	for w := 0; w < 4; w++ {
		r := <-results
		total.sent += r.sent
		total.failed += r.failed
	}
	if total.failed != 0 || total.sent == 0 {
		t.Fatalf("%d of %d requests failed through 20 activations", total.failed, total.sent)
	}
	t.Logf("%d requests through 20 activations, none failed", total.sent)
}
