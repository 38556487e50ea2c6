package admin_test

import (
	"bufio"
	"bytes"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Every answer carries a request id; listed origins get CORS headers; a
// caller past its rate limit gets 429 with Retry-After, others do not.
func TestRequestIDsCORSAndRateLimits(t *testing.T) {
	s := startServerWith(t, t.TempDir(), nil, func(o *admin.Options) {
		o.CORSOrigins = []string{"https://app.example"}
		o.RateLimit = 5
	})
	ann := []string{"X-Fluvius-User", "ann"}
	r := s.do(t, "GET", "/_meta", "", ann...).want(t, 200)
	if len(r.header.Get("X-Request-ID")) < 16 {
		t.Fatalf("no request id: %v", r.header)
	}
	if got := s.do(t, "GET", "/_meta", "", append(ann, "X-Request-ID", "trace-42")...).header.Get("X-Request-ID"); got != "trace-42" {
		t.Fatalf("the client's request id came back as %q", got)
	}
	req, _ := http.NewRequest("OPTIONS", s.url+"/user:create-user/user/:new", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "Idempotency-Key, Content-Type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	req.Header.Set("Origin", "https://evil.example")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an unlisted origin was allowed: %v", res.Header)
	}
	// ann has used 2 of 5 (the preflights were anonymous, by address).
	for range 3 {
		s.do(t, "GET", "/_meta", "", ann...).want(t, 200)
	}
	limited := s.do(t, "GET", "/_meta", "", ann...).problem(t, 429, "rate-limited")
	if limited.header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", limited.header)
	}
	s.do(t, "GET", "/_meta", "", "X-Fluvius-User", "bob").want(t, 200)
	s.do(t, "GET", "/healthz", "", ann...).want(t, 200)
}

// A credential is a caller of its own only once it authenticates: made-up
// tokens all count against their address, so they cannot dodge the limit,
// while a real key keeps its own bucket. Proxy user headers are nobody's
// word when proxy headers are not trusted.
func TestRateLimitsAreNotDodgedByMadeUpCredentials(t *testing.T) {
	s := startServerOn(t, t.TempDir(), nil, func(h *host.Host, st store.Driver, o *admin.Options) {
		o.Auth = &auth.Authenticator{AdminKey: testAdminKey, Keys: auth.NewAPIKeys(st.(store.APIKeyStore))}
		o.RateLimit = 3
	})
	for i := range 3 {
		s.do(t, "GET", "/user.user/", "", "Authorization", fmt.Sprintf("Bearer made-up-%d", i)).want(t, 401)
	}
	s.do(t, "GET", "/user.user/", "", "Authorization", "Bearer made-up-3").problem(t, 429, "rate-limited")
	s.do(t, "GET", "/user.user/", "", "X-Fluvius-User", "mallory").problem(t, 429, "rate-limited")
	s.do(t, "GET", "/user.user/", "").problem(t, 429, "rate-limited")
	admin := []string{"Authorization", "Bearer " + testAdminKey}
	for range 3 {
		s.do(t, "GET", "/user.user/", "", admin...).want(t, 200)
	}
	s.do(t, "GET", "/user.user/", "", admin...).problem(t, 429, "rate-limited")
}

// A multipart body past the limit is refused like any other (413), before
// it is read: fasthttp must not parse it whole ahead of the routes. (The
// body is written while the answer is read, as the host answers early.)
func TestMultipartBodyIsBounded(t *testing.T) {
	s := startServer(t, t.TempDir())
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "big.bin")
	part.Write(bytes.Repeat([]byte("x"), 4<<20))
	mw.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /user:create-user/user/:new HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		mw.FormDataContentType(), body.Len())
	go conn.Write(body.Bytes()) // fails once the host has answered and closed
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("a 4 MiB multipart command body answered %d", res.StatusCode)
	}
}
