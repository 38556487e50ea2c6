package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/openapi/openapitest"
	"fluvius.dev/fluvius/store"
)

// get fetches path raw, with optional header pairs.
func get(t *testing.T, s *server, path string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// apiDocument is what the tests read of /openapi.json.
type apiDocument struct {
	Info  struct{ Version, Description string }
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		RequestBody *struct {
			Content map[string]struct {
				Examples map[string]struct{ Value json.RawMessage }
			}
		} `json:"requestBody"`
	}
}

// TestOpenAPIServed checks the document a host serves for the example
// plugins it runs: valid OpenAPI 3.1 to libopenapi and to Redocly, the
// same commands and resources /_meta describes, cached until a plugin
// changes, and every request example a payload the host accepts.
func TestOpenAPIServed(t *testing.T) {
	var h *host.Host
	s := startServerOn(t, t.TempDir(), nil, func(hh *host.Host, _ store.Driver, _ *admin.Options) { h = hh })

	res, body := get(t, s, "/openapi.json")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || res.Header.Get("ETag") == "" {
		t.Fatalf("GET /openapi.json: %d %v %.300s", res.StatusCode, res.Header, body)
	}
	if res, _ := get(t, s, "/openapi.json", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", res.StatusCode)
	}

	// A plugin loaded changes the document: the cache follows.
	if _, err := h.LoadFile(context.Background(), orderWasm); err != nil {
		t.Fatal(err)
	}
	res2, doc := get(t, s, "/openapi.json")
	if res2.Header.Get("ETag") == res.Header.Get("ETag") || !strings.Contains(string(doc), `"/order:place-order/order/:new"`) {
		t.Fatalf("the document did not follow the new plugin: %s", res2.Header.Get("ETag"))
	}
	t.Logf("document for user, order and faulty: %d bytes", len(doc))
	if err := openapitest.Check(doc); err != nil {
		t.Fatal(err)
	}
	t.Run("redocly", func(t *testing.T) { openapitest.Lint(t, doc) })

	var d apiDocument
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Info.Description, "- `order`: Orders (revision 1, version module sha256 ") {
		t.Errorf("description:\n%s", d.Info.Description)
	}
	if _, ok := d.Paths["/_batch"]["post"]; !ok {
		t.Error("the batch route is not described")
	}
	if _, ok := d.Paths["/_media"]; ok {
		t.Error("media is described on a host that does not serve it")
	}

	// Everything /_meta lists is described.
	var domains struct{ Domains []struct{ Domain string } }
	if err := json.Unmarshal(s.do(t, "GET", "/_meta", "").want(t, 200).raw, &domains); err != nil {
		t.Fatal(err)
	}
	if len(domains.Domains) != 3 {
		t.Fatalf("domains %+v", domains)
	}
	for _, dom := range domains.Domains {
		var meta struct {
			Resources []struct{ URL, List string }
			Commands  []struct{ URLs []string }
		}
		if err := json.Unmarshal(s.do(t, "GET", "/_meta/"+dom.Domain, "").want(t, 200).raw, &meta); err != nil {
			t.Fatal(err)
		}
		var urls []string
		for _, r := range meta.Resources {
			urls = append(urls, r.URL, r.List, r.URL+"/events")
		}
		for _, c := range meta.Commands {
			urls = append(urls, c.URLs...)
		}
		for _, u := range urls {
			method, p, _ := strings.Cut(u, " ")
			if _, ok := d.Paths[p][strings.ToLower(method)]; !ok {
				t.Errorf("%s is in /_meta/%s but not in the document", u, dom.Domain)
			}
		}
	}

	// The host takes every request example of the example domains: none
	// is refused for its shape (400) or type (415). Commands on an
	// aggregate are sent to one that does not exist, which the payload
	// is checked before (404 then).
	sent := 0
	for p, item := range d.Paths {
		op, ok := item["post"]
		if !ok || !(strings.HasPrefix(p, "/user:") || strings.HasPrefix(p, "/order:")) {
			continue
		}
		target := strings.Replace(p, "{id}", "no-such-aggregate", 1)
		for name, ex := range op.RequestBody.Content["application/json"].Examples {
			r := s.do(t, "POST", target, string(ex.Value))
			if r.status == 400 || r.status == 415 || r.status >= 500 {
				t.Errorf("%s, example %s %s: %d %s", p, name, ex.Value, r.status, r.raw)
			}
			if strings.HasSuffix(p, "/:new") && r.status != 201 {
				t.Errorf("%s, example %s: %d %s", p, name, r.status, r.raw)
			}
			sent++
		}
	}
	if sent < 8 {
		t.Fatalf("%d examples sent", sent)
	}
}

// TestDocsServed checks /docs and its assets: a page that loads only
// same-origin files, each with its type, under a CSP without inline
// script.
func TestDocsServed(t *testing.T) {
	s := startServer(t, t.TempDir())
	res, page := get(t, s, "/docs")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", res.Header)
	}
	html := string(page)
	if regexp.MustCompile(`(?i)<script[^>]*>[^<\s]`).MatchString(html) || regexp.MustCompile(`(?i)\son[a-z]+=|\sstyle=`).MatchString(html) {
		t.Fatalf("inline script or style in the page:\n%s", html)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1)
	want := map[string]string{"docs/docs.js": "text/javascript", "docs/docs.css": "text/css", "openapi.json": "application/json"}
	found := map[string]bool{}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," {
			continue // the empty icon, so that the browser asks for no /favicon.ico
		}
		if strings.Contains(ref, "//") || strings.Contains(ref, ":") {
			t.Errorf("the page loads %s from elsewhere", ref)
			continue
		}
		ctype, known := want[ref]
		if !known {
			t.Errorf("the page refers to %s", ref)
			continue
		}
		found[ref] = true
		res, b := get(t, s, "/"+ref) // relative to /docs: the root
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) || len(b) == 0 {
			t.Errorf("%s: %d %q", ref, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if strings.HasPrefix(ref, "docs/") {
			if res2, _ := get(t, s, "/"+ref, "If-None-Match", res.Header.Get("ETag")); res2.StatusCode != 304 {
				t.Errorf("%s: If-None-Match answered %d", ref, res2.StatusCode)
			}
			if regexp.MustCompile(`https?://`).Match(b) {
				t.Errorf("%s names another origin", ref)
			}
		}
	}
	if len(found) != len(want) {
		t.Fatalf("the page refers to %v, want %v", found, want)
	}
}

// TestDocsInChromium renders /docs in a browser under its CSP: every
// operation of the document shows, nothing is refused or thrown, and "Try
// it" sends a command.
func TestDocsInChromium(t *testing.T) {
	ctx := newChrome(t)
	s := startServer(t, t.TempDir())
	var d apiDocument
	_, doc := get(t, s, "/openapi.json")
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range d.Paths {
		ops += len(item)
	}

	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError {
				problems = append(problems, "console: "+ev.Entry.Text)
			}
		}
	})
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.CaptureScreenshot(&buf).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(artifacts(t), name+".png"), buf, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- chromedp.Run(ctx, append(actions, shot(step))...) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(90 * time.Second):
			err = errors.New("no answer within 90 s")
		}
		if err != nil {
			var body string
			chromedp.Run(ctx, chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %v\nthe page says: %.2000s", step, err, body)
		}
	}

	var rendered string
	var articles int
	var found bool
	run("docs-01-rendered", chromedp.Navigate(s.url+"/docs"), chromedp.WaitVisible("body[data-rendered]", chromedp.ByQuery),
		chromedp.AttributeValue("body", "data-rendered", &rendered, &found, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("article.op").length`, &articles))
	if rendered == "error" || articles != ops {
		t.Fatalf("rendered %q: %d operations shown, the document has %d", rendered, articles, ops)
	}

	op := `#op-user\.create-user\.user`
	var status string
	run("docs-02-tried", chromedp.Click(op+` > details > summary`, chromedp.ByQuery),
		chromedp.Click(op+` form.try button`, chromedp.ByQuery),
		chromedp.WaitVisible(op+` .result .status`, chromedp.ByQuery),
		chromedp.Text(op+` .result .status`, &status, chromedp.ByQuery, chromedp.NodeVisible))
	if status != "201" {
		var out string
		chromedp.Run(ctx, chromedp.Text(op+` .result`, &out, chromedp.ByQuery))
		t.Fatalf("Try it answered %q: %s", status, out)
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatalf("the page had problems:\n%s", strings.Join(problems, "\n"))
	}
}
