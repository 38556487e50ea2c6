package main

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver: what a tracing backend is sent.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	url   string
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
			return
		}
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.url = "http://" + ln.Addr().String()
	return c
}

// trace returns the spans received of one trace.
func (c *collector) trace(traceID string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if hex.EncodeToString(s.TraceId) == traceID {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// render draws a trace as a tree, as a tracing backend shows it: each span
// under its parent, with its start offset and duration.
func render(spans []*tracepb.Span) string {
	children := map[string][]*tracepb.Span{}
	ids := map[string]bool{}
	var t0 uint64
	for _, s := range spans {
		ids[hex.EncodeToString(s.SpanId)] = true
		if t0 == 0 || s.StartTimeUnixNano < t0 {
			t0 = s.StartTimeUnixNano
		}
	}
	var roots []*tracepb.Span
	for _, s := range spans {
		p := hex.EncodeToString(s.ParentSpanId)
		if ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s *tracepb.Span, depth int)
	walk = func(s *tracepb.Span, depth int) {
		fmt.Fprintf(&b, "%-56s +%8.3f ms %8.3f ms\n", strings.Repeat("  ", depth)+s.Name,
			float64(s.StartTimeUnixNano-t0)/1e6, float64(s.EndTimeUnixNano-s.StartTimeUnixNano)/1e6)
		kids := children[hex.EncodeToString(s.SpanId)]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTimeUnixNano < kids[j].StartTimeUnixNano })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

// A host pointed at an OTLP collector exports the trace of a command: the
// caller's traceparent is continued by the HTTP span, under which the
// dispatcher decides in the guest and commits; the event carries the trace
// on, so the inventory handler reacting to it, and the command it sends,
// are spans of the same trace.
func TestTracesExportedOverOTLP(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	buildPlugins(t, plugins, "../../plugins/examples/order", "../../plugins/examples/inventory")
	col := startCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.url)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // milliseconds: export soon
	t.Setenv("OTEL_SERVICE_NAME", "fluvius-test")
	const key = "an-admin-key-for-the-trace-test"
	p := startProcess(t, "--plugins-dir", plugins, "--data-dir", filepath.Join(dir, "data"), "--admin-key", key)
	within(t, "the handlers' subscriptions are claimed", 30*time.Second, func() bool {
		return p.subscription(t, key, "inventory.reserve-for-order").RunsHere
	})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", p.url+"/order:place-order/order/:new",
		strings.NewReader(`{"customer":"c1","items":[{"sku":"tea","quantity":2,"price_cents":450}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("placing the order: %d", res.StatusCode)
	}
	names := func() map[string]int {
		n := map[string]int{}
		for _, s := range col.trace(traceID) {
			n[s.Name]++
		}
		return n
	}
	within(t, "the handler's command is exported in the same trace", 30*time.Second, func() bool {
		return names()["dispatch inventory.reserve-stock"] == 1
	})
	spans := col.trace(traceID)
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	parentName := func(s *tracepb.Span) string {
		if p := byID[hex.EncodeToString(s.ParentSpanId)]; p != nil {
			return p.Name
		}
		return "remote:" + hex.EncodeToString(s.ParentSpanId)
	}
	want := map[string]string{
		"POST command":                        "remote:00f067aa0ba902b7",
		"dispatch order.place-order":          "POST command",
		"dispatch inventory.reserve-stock":    "handler inventory.reserve-for-order",
		"handler inventory.reserve-for-order": "dispatch order.place-order",
	}
	for _, s := range spans {
		if w, ok := want[s.Name]; ok && parentName(s) != w {
			t.Errorf("span %q has parent %q, want %q", s.Name, parentName(s), w)
		}
		if s.Name == "guest decide" || s.Name == "commit" {
			if pn := parentName(s); !strings.HasPrefix(pn, "dispatch ") {
				t.Errorf("span %q has parent %q, want a dispatch", s.Name, pn)
			}
		}
	}
	n := names()
	for name := range want {
		if n[name] != 1 {
			t.Errorf("the trace has %d spans %q", n[name], name)
		}
	}
	if n["guest decide"] < 2 || n["commit"] < 2 {
		t.Errorf("the trace lacks the guest's or the commit's spans: %v", n)
	}
	for _, s := range spans {
		if s.Name == "dispatch order.place-order" && (spanAttr(s, "fluvius.outcome") != "ok" || spanAttr(s, "fluvius.domain") != "order") {
			t.Errorf("dispatch attributes: %v", s.Attributes)
		}
	}
	if t.Failed() {
		t.Logf("received:\n%s", render(spans))
		return
	}
	t.Logf("the trace of one command, as exported:\n%s", render(spans))
}
