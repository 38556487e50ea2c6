package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/miniotest"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/media"
	"fluvius.dev/fluvius/store"
)

// mediaLimit bounds uploads in these tests.
const mediaLimit = 1 << 20

// pdf is a file that sniffs as application/pdf.
func pdf(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, "%PDF-1.7\n")
	return b
}

// startMedia serves the order example with the media service over blobs.
func startMedia(t *testing.T, where string, blobs blob.Store) (*server, store.MediaStore) {
	t.Helper()
	var ms store.MediaStore
	s := startServerOn(t, where, nil, func(h *host.Host, st store.Driver, o *admin.Options) {
		if _, err := h.LoadFile(context.Background(), orderWasm); err != nil {
			t.Fatal(err)
		}
		svc, err := media.New(h, media.Config{Blobs: blobs, MaxBytes: mediaLimit, Secret: bytes.Repeat([]byte("k"), 32)})
		if err != nil {
			t.Fatal(err)
		}
		o.Media, ms = svc, st.(store.MediaStore)
	})
	return s, ms
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %.300q", r.status, r.body)
	}
	return m
}

// call sends a request as a caller of a tenant (the test servers trust the
// proxy headers).
func call(t *testing.T, method, url string, body io.Reader, user, tenant string, headers ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Fluvius-User", user)
	}
	if tenant != "" {
		req.Header.Set("X-Fluvius-Tenant", tenant)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{status: res.StatusCode, header: res.Header, body: b}
}

func multipartBody(name string, content []byte) (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, _ := w.CreateFormFile("file", name)
	part.Write(content)
	w.Close()
	return &buf, w.FormDataContentType()
}

func wantStatus(t *testing.T, r rawResponse, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.500s", r.status, status, r.body)
	}
	if code != "" {
		if m := r.json(t); m["code"] != code {
			t.Fatalf("problem %s, want %s", r.body, code)
		}
	}
}

func TestMediaLocal(t *testing.T) {
	onDrivers(t, func(t *testing.T, fresh func() string) {
		blobs, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		exerciseMedia(t, fresh(), blobs)
	})
}

func TestMediaS3(t *testing.T) {
	onDrivers(t, func(t *testing.T, fresh func() string) {
		blobs, err := blob.NewS3(context.Background(), miniotest.Config(t))
		if err != nil {
			t.Fatal(err)
		}
		exerciseMedia(t, fresh(), blobs)
	})
}

// exerciseMedia is the media suite, the same on every blob backend.
func exerciseMedia(t *testing.T, where string, blobs blob.Store) {
	s, ms := startMedia(t, where, blobs)
	content := pdf(300 << 10)
	sum := sha256.Sum256(content)

	// Upload as a form; the name is cleaned, never a path.
	body, ct := multipartBody("../../etc/invoice.pdf", content)
	up := call(t, "POST", s.url+"/_media", body, "ann", "acme", "Content-Type", ct)
	wantStatus(t, up, 201, "")
	meta := up.json(t)
	id := meta["id"].(string)
	if meta["name"] != "invoice.pdf" || meta["size"] != float64(len(content)) || meta["content_type"] != "application/pdf" ||
		meta["sha256"] != hex.EncodeToString(sum[:]) || meta["owner"] != "ann" || up.header.Get("Location") != "/_media/"+id {
		t.Fatalf("the upload's metadata: %v (Location %s)", meta, up.header.Get("Location"))
	}

	// Download, whole, by range, and not again when unchanged.
	got := call(t, "GET", s.url+"/_media/"+id, nil, "ann", "acme")
	if got.status != 200 || !bytes.Equal(got.body, content) || got.header.Get("Content-Type") != "application/pdf" ||
		got.header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || got.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(got.header.Get("Content-Disposition"), `filename=invoice.pdf`) {
		t.Fatalf("download: %d, %d bytes, headers %v", got.status, len(got.body), got.header)
	}
	for _, rg := range []struct {
		header   string
		from, to int
	}{{"bytes=0-99", 0, 100}, {"bytes=1000-", 1000, len(content)}, {"bytes=-10", len(content) - 10, len(content)},
		{fmt.Sprintf("bytes=%d-99999999", len(content)-5), len(content) - 5, len(content)}} {
		part := call(t, "GET", s.url+"/_media/"+id, nil, "ann", "acme", "Range", rg.header)
		want := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to-1, len(content))
		if part.status != 206 || !bytes.Equal(part.body, content[rg.from:rg.to]) || part.header.Get("Content-Range") != want {
			t.Fatalf("range %s: %d, %d bytes, Content-Range %q", rg.header, part.status, len(part.body), part.header.Get("Content-Range"))
		}
	}
	bad := call(t, "GET", s.url+"/_media/"+id, nil, "ann", "acme", "Range", fmt.Sprintf("bytes=%d-", len(content)))
	if bad.status != 416 || bad.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(content)) {
		t.Fatalf("an unsatisfiable range: %d %v", bad.status, bad.header)
	}
	if r := call(t, "GET", s.url+"/_media/"+id, nil, "ann", "acme", "If-None-Match", got.header.Get("ETag")); r.status != 304 || len(r.body) != 0 {
		t.Fatalf("If-None-Match: %d, %d bytes", r.status, len(r.body))
	}

	// Another tenant, and another user of the tenant, are told nothing.
	wantStatus(t, call(t, "GET", s.url+"/_media/"+id, nil, "ann", "globex"), 404, "media-not-found")
	wantStatus(t, call(t, "GET", s.url+"/_media/"+id+"/meta", nil, "bob", "acme"), 404, "media-not-found")
	wantStatus(t, call(t, "DELETE", s.url+"/_media/"+id, nil, "bob", "acme"), 404, "media-not-found")

	// The same content again is stored once.
	again := call(t, "POST", s.url+"/_media?name=copy.pdf", bytes.NewReader(content), "ann", "acme", "Content-Type", "application/octet-stream")
	wantStatus(t, again, 201, "")
	copyID := again.json(t)["id"].(string)
	a, _ := ms.MediaGet(context.Background(), "acme", id)
	b, _ := ms.MediaGet(context.Background(), "acme", copyID)
	if copyID == id || a.BlobKey != b.BlobKey {
		t.Fatalf("the same content was stored twice: %s %s", a.BlobKey, b.BlobKey)
	}

	// The type is sniffed, and checked; the size is bounded; neither
	// leaves anything behind.
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...)
	wantStatus(t, call(t, "POST", s.url+"/_media?name=tool.pdf", bytes.NewReader(elf), "ann", "acme", "Content-Type", "application/pdf"),
		415, "media-type-refused")
	big := pdf(mediaLimit + 1)
	// A length past the limit is refused before the body is read (the
	// client sends only its start, as one that stops on an early answer).
	wantStatus(t, rawPost(t, s.url, "/_media?name=big.pdf", big[:64<<10], len(big)), 413, "media-too-large")
	// A body streamed without a length crosses the limit mid-way.
	wantStatus(t, rawPost(t, s.url, "/_media?name=big.pdf", big, -1), 413, "media-too-large")
	wantStatus(t, call(t, "POST", s.url+"/_media", strings.NewReader(""), "ann", "acme"), 400, "media-empty")
	if _, err := ms.MediaBySHA256(context.Background(), "acme", sha(big)); err == nil {
		t.Fatal("a refused upload was recorded")
	}

	// Attached to an order, the file is read under the order's rules.
	order := s.do(t, "POST", "/order:place-order/order/:new", `{"customer":"ann","items":[{"sku":"tea","quantity":1,"price_cents":450}]}`,
		"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme").want(t, 201).body["id"].(string)
	s.do(t, "POST", "/order:attach-document/order/"+order, `{"media_id":"missing"}`,
		"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme").problem(t, 422, "media-not-found")
	s.do(t, "POST", "/order:attach-document/order/"+order, `{"media_id":"`+id+`"}`,
		"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "globex").problem(t, 404, "aggregate-not-found")
	s.do(t, "POST", "/order:attach-document/order/"+order, `{"media_id":"`+id+`"}`,
		"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme").want(t, 200)
	m := call(t, "GET", s.url+"/_media/"+id+"/meta", nil, "bob", "acme")
	wantStatus(t, m, 200, "")
	refs := m.json(t)["attached_to"].([]any)
	if len(refs) != 1 || refs[0].(map[string]any)["id"] != order || refs[0].(map[string]any)["domain"] != "order" {
		t.Fatalf("attached to: %v", refs)
	}
	if r := call(t, "GET", s.url+"/_media/"+id, nil, "bob", "acme"); r.status != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("a reader of the order reading its document: %d", r.status)
	}
	wantStatus(t, call(t, "GET", s.url+"/_media/"+id, nil, "bob", "globex"), 404, "media-not-found")
	wantStatus(t, call(t, "DELETE", s.url+"/_media/"+id, nil, "ann", "acme"), 409, "media-in-use")
	wantStatus(t, call(t, "DELETE", s.url+"/_media/"+id, nil, "bob", "acme"), 403, "forbidden")

	// A signed URL opens the file without credentials, and only that file.
	su := call(t, "GET", s.url+"/_media/"+id+"/url?ttl=60", nil, "ann", "acme")
	wantStatus(t, su, 200, "")
	link := su.json(t)["url"].(string)
	if !strings.HasPrefix(link, "http") {
		link = s.url + link
	}
	if r := call(t, "GET", link, nil, "", ""); r.status != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("the signed URL: %d, %d bytes", r.status, len(r.body))
	}
	if strings.HasPrefix(link, s.url) {
		wantStatus(t, call(t, "GET", strings.Replace(link, id, copyID, 1), nil, "", ""), 403, "invalid-signature")
		wantStatus(t, call(t, "GET", strings.Replace(link, "signature=", "signature=0", 1), nil, "", ""), 403, "invalid-signature")
	}

	// Deleting: the copy goes, and the shared blob stays for the original.
	if r := call(t, "DELETE", s.url+"/_media/"+copyID, nil, "ann", "acme"); r.status != 204 {
		t.Fatalf("deleting the copy: %d %s", r.status, r.body)
	}
	wantStatus(t, call(t, "GET", s.url+"/_media/"+copyID, nil, "ann", "acme"), 404, "media-not-found")
	if r := call(t, "GET", s.url+"/_media/"+id, nil, "ann", "acme"); r.status != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("the original after its copy was deleted: %d", r.status)
	}
	lone := call(t, "POST", s.url+"/_media?name=note.txt", strings.NewReader("just a note\n"), "ann", "acme")
	wantStatus(t, lone, 201, "")
	loneID := lone.json(t)["id"].(string)
	loneMedia, _ := ms.MediaGet(context.Background(), "acme", loneID)
	if r := call(t, "DELETE", s.url+"/_media/"+loneID, nil, "ann", "acme"); r.status != 204 {
		t.Fatalf("deleting: %d", r.status)
	}
	if rc, err := blobs.Get(context.Background(), loneMedia.BlobKey); err == nil {
		rc.Close()
		t.Fatal("the blob of a deleted media stayed behind")
	}
	// Anonymous callers are refused where authentication is on; here the
	// test server trusts proxy headers, so a caller without them is the
	// anonymous default tenant, which has none of acme's files.
	wantStatus(t, call(t, "GET", s.url+"/_media/"+id, nil, "", ""), 404, "media-not-found")
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// rawPost sends a request over a connection of its own, as ann of acme:
// with Content-Length length and only body's bytes (an early answer is read
// without the rest), or chunked when length is -1. It reads the answer
// after writing, so a server that answers and closes early cannot reset
// the client mid-write.
func rawPost(t *testing.T, base, path string, body []byte, length int) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: test\r\nX-Fluvius-User: ann\r\nX-Fluvius-Tenant: acme\r\nContent-Type: application/octet-stream\r\n", path)
	if length >= 0 {
		fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", length)
		w.Write(body)
	} else {
		fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
		for b := body; len(b) > 0; {
			n := min(len(b), 32<<10)
			fmt.Fprintf(w, "%x\r\n", n)
			w.Write(b[:n])
			w.WriteString("\r\n")
			b = b[n:]
		}
		w.WriteString("0\r\n\r\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{status: res.StatusCode, header: res.Header, body: b}
}
