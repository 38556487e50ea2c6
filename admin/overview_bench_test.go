package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/registry"
)

// BenchmarkOverviewFirstRender is the admin overview as an operator opens
// it on a busy host: twenty domains, each active through the registry,
// and 100,000 events in the store (20 domains x 500 aggregates x 10
// commands, sent through the dispatcher). Each iteration navigates a
// signed-in headless Chromium to /admin and reads the page's own timings:
// time to the last byte of the HTML, and to first contentful paint.
//
//	go test ./admin -run '^$' -bench BenchmarkOverviewFirstRender -benchtime 20x
func BenchmarkOverviewFirstRender(b *testing.B) {
	const domains, aggregates, perAggregate = 20, 500, 10
	ctx := newChrome(b)
	modules := b.TempDir()
	for i := range domains {
		out := filepath.Join(modules, fmt.Sprintf("d%02d.wasm", i))
		if err := wasmbuild.BuildWith(context.Background(), wasmbuild.Go, "../registry/testdata/tally", out,
			fmt.Sprintf("-ldflags=-X=main.domain=d%02d", i)); err != nil {
			b.Fatal(err)
		}
	}
	var h *host.Host
	s := startUIWith(b, func(hh *host.Host, reg *registry.Registry) {
		h = hh
		for i := range domains {
			wasm, err := os.ReadFile(filepath.Join(modules, fmt.Sprintf("d%02d.wasm", i)))
			if err != nil {
				b.Fatal(err)
			}
			up, err := reg.Upload(b.Context(), registry.Upload{Module: wasm, Actor: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := reg.UploadAndActivate(b.Context(), up, registry.Activation{Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1) - 1
				if n >= domains*aggregates {
					return
				}
				domain, id := fmt.Sprintf("d%02d", n%domains), fmt.Sprintf("t%06d", n)
				for k := range perAggregate {
					cmd := &host.Command{Domain: domain, Name: "add", Resource: "tally", AggregateID: id,
						Payload: []byte(`{"n":1}`), Caller: abi.Caller{UserID: "bench"}}
					if k == 0 {
						cmd.Name = "open"
					}
					if _, err := h.Dispatch(context.Background(), cmd); err != nil {
						failed.Store(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events written in %s", domains*aggregates*perAggregate, time.Since(start).Round(time.Millisecond))

	if err := chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin"), chromedp.WaitVisible("#credential", chromedp.ByQuery),
		chromedp.SendKeys("#credential", testAdminKey, chromedp.ByQuery), chromedp.Submit("#credential", chromedp.ByQuery),
		chromedp.WaitVisible("header.top", chromedp.ByQuery)); err != nil {
		b.Fatal(err)
	}
	// The page as served: every domain listed, ten recent events.
	var html string
	if err := chromedp.Run(ctx, chromedp.OuterHTML("html", &html, chromedp.ByQuery)); err != nil {
		b.Fatal(err)
	}
	if strings.Count(html, "/admin/domains/d") < domains {
		b.Fatalf("the overview does not list the %d domains", domains)
	}
	var ttlb, fcp []float64
	b.ResetTimer()
	for range b.N {
		var t struct {
			ResponseEnd float64 `json:"responseEnd"`
			FCP         float64 `json:"fcp"`
		}
		// Navigating to the same URL with a fresh timestamp keeps the
		// browser from serving it from anywhere but the host (the pages
		// are no-store anyway).
		if err := chromedp.Run(ctx, chromedp.Navigate(s.url+"/admin?t="+fmt.Sprint(time.Now().UnixNano())),
			chromedp.WaitVisible("header.top", chromedp.ByQuery),
			chromedp.Poll(`(() => {
				const p = performance.getEntriesByName("first-contentful-paint")[0];
				const n = performance.getEntriesByType("navigation")[0];
				return p && n && n.responseEnd > 0 ? {responseEnd: n.responseEnd, fcp: p.startTime} : null;
			})()`, &t, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			b.Fatal(err)
		}
		ttlb, fcp = append(ttlb, t.ResponseEnd), append(fcp, t.FCP)
	}
	b.StopTimer()
	b.ReportMetric(median(ttlb), "html-ms")
	b.ReportMetric(median(fcp), "first-paint-ms")
	b.ReportMetric(float64(len(html)), "html-bytes")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
