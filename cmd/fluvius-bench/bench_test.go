package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%v of 1..100 ms: %v, want %v", tc.p, got, tc.want)
		}
	}
	// Few samples: p99 of three is the largest, p50 the middle one.
	three := []time.Duration{1, 2, 3}
	if percentile(three, 99) != 3 || percentile(three, 50) != 2 {
		t.Errorf("p99, p50 of 1,2,3: %v, %v", percentile(three, 99), percentile(three, 50))
	}
	if percentile(nil, 50) != 0 {
		t.Error("an empty set has a percentile")
	}
}

func TestMixPickGivesTheShares(t *testing.T) {
	ms, err := parseMixes("mix")
	if err != nil {
		t.Fatal(err)
	}
	m := ms[0]
	if m.total() != 100 {
		t.Fatalf("mix weights sum to %d", m.total())
	}
	got := map[op]int{}
	for r := range m.total() {
		got[m.pick(r)]++
	}
	if got[opCreate] != 20 || got[opUpdateCold] != 50 || got[opQuery] != 30 || len(got) != 3 {
		t.Fatalf("shares of 100 picks: %v", got)
	}
	if m.pick(0) != opCreate || m.pick(19) != opCreate || m.pick(20) != opUpdateCold || m.pick(99) != opQuery {
		t.Fatal("pick does not follow the parts in order")
	}
}

func TestParseMixesRunsInFixedOrder(t *testing.T) {
	ms, err := parseMixes("mix, create,query,create")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "query,mix,create" {
		t.Fatalf("order %v", names)
	}
	if _, err := parseMixes("creates"); err == nil {
		t.Fatal("an unknown mix is accepted")
	}
	if _, err := parseClients("1,8,x"); err == nil {
		t.Fatal("a bad client count is accepted")
	}
	if c, err := parseClients("1, 64"); err != nil || len(c) != 2 || c[1] != 64 {
		t.Fatalf("clients %v %v", c, err)
	}
}

func TestFormatTableAligns(t *testing.T) {
	out := formatTable([]cell{
		{Store: "sqlite", Mix: "create", Clients: 1, PerSecond: 812.4, P50ms: 1.234, P99ms: 12.34},
		{Store: "postgres", Mix: "update-hot", Clients: 64, PerSecond: 95, P50ms: 250, P99ms: 1500,
			Errors: 12, ErrorsBy: map[string]int{"409": 10, "transport": 2}},
		{Store: "-", Mix: "decide native", Clients: 1, PerSecond: 400000},
	})
	want := `store     mix            clients  commands/s     p50     p99  errors
sqlite    create               1         812  1.23ms  12.3ms  0
postgres  update-hot          64          95   250ms  1500ms  12 (409:10 transport:2)
-         decide native        1      400000       -       -  0
`
	if out != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out, want)
	}
	held := formatHeld([]cell{{Store: "sqlite", Mix: "query", Aggregates: 1004}, {Store: "sqlite", Mix: "query", Aggregates: 1004},
		{Store: "sqlite", Mix: "mix", Aggregates: 7705}, {Store: "postgres", Mix: "query", Aggregates: 1004}, {Store: "postgres", Mix: "naive-insert"}})
	if held != "users held as each mix began, sqlite: query 1004, mix 7705\nusers held as each mix began, postgres: query 1004\n" {
		t.Fatalf("held:\n%s", held)
	}
	for v, want := range map[float64]string{0.0024: "2.40us", 0.0241: "24.1us", 0.5: "500us", 0.0005: "500ns"} {
		if got := formatMs(v); got != want {
			t.Errorf("formatMs(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestDriveCountsByCompletionInTheWindow(t *testing.T) {
	calls := 0
	w := drive(context.Background(), 1, 20*time.Millisecond, 60*time.Millisecond, func(context.Context, int, *rand.Rand) string {
		calls++
		time.Sleep(5 * time.Millisecond)
		if calls%2 == 0 {
			return "409"
		}
		return ""
	})
	done, failed := len(w.latencies), w.errors["409"]
	// About 16 calls in all, 12 of them in the window; sleeping only
	// bounds from below, so allow a slow machine fewer.
	if done+failed > 13 || done+failed < 2 || done < failed-1 || done > failed+1 {
		t.Fatalf("%d done, %d failed of %d calls", done, failed, calls)
	}
	if w.latencies[0] < 5*time.Millisecond {
		t.Fatalf("latency %v under the op's own time", w.latencies[0])
	}
}

func TestParsers(t *testing.T) {
	out := "goos: linux\nBenchmarkCreateUserNative-2   \t  512345\t      2345.5 ns/op\t     880 B/op\nPASS\n"
	n, ns, ok := parseBenchLine(out, "BenchmarkCreateUserNative")
	if !ok || n != 512345 || ns != 2345.5 {
		t.Fatalf("bench line: %v %v %v", n, ns, ok)
	}
	if _, _, ok := parseBenchLine(out, "BenchmarkCreateUser"); ok {
		t.Fatal("a prefix of a benchmark's name matched")
	}
	if got := parseVmRSS("Name:\tx\nVmRSS:\t   51200 kB\nThreads: 9\n"); got != 50<<20 {
		t.Fatalf("VmRSS %d", got)
	}
	m := parseMetrics("# HELP go_goroutines x\ngo_goroutines 42\ngo_memstats_heap_alloc_bytes 1.2345e+07\nhttp{route=\"x\"} 3\n")
	text := "# TYPE fluvius_version_conflicts_total counter\nfluvius_version_conflicts_total{domain=\"user\",x=\"}\"} 3\n" +
		"fluvius_version_conflicts_total{domain=\"bank\"} 4 1700000000\nfluvius_version_conflicts_totally 9\n"
	if got := metricSum(text, "fluvius_version_conflicts_total"); got != 7 {
		t.Fatalf("metricSum %v", got)
	}
	if m["go_goroutines"] != 42 || m["go_memstats_heap_alloc_bytes"] != 12345000 || len(m) != 2 {
		t.Fatalf("metrics %v", m)
	}
}
