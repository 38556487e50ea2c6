package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store/sqlite"
)

// The native side of the decide baseline is the user example's own
// benchmark: the example is a module of its own (and package main), so it
// is timed where it lives, with the command the guest side decides.
const (
	nativeBench   = "BenchmarkCreateUserNative"
	decidePayload = `{"email":"ann@example.com","name":"Ann"}`
)

// decideResult is the time to decide create-user in the guest and natively.
type decideResult struct {
	Toolchain     string  `json:"guest_toolchain"`
	GuestRuns     int     `json:"guest_runs"`
	GuestMedianUs float64 `json:"guest_median_us"`
	GuestP99Us    float64 `json:"guest_p99_us"`
	NativeMeanUs  float64 `json:"native_mean_us"`
	NativeRuns    int64   `json:"native_runs"`
	// Ratio is guest median over native mean: go test -bench gives only
	// the mean, which GC pauses pull above the median, so it flatters the
	// guest a little.
	Ratio float64 `json:"guest_over_native"`
}

// decideBaseline times create-user decided by the wasm guest, through the
// host's own Measure (fuel metering on, as served), and natively.
func decideBaseline(ctx context.Context, repo, wasm, toolchain, tmp string, runs int, benchtime string) (*decideResult, error) {
	module, err := os.ReadFile(wasm)
	if err != nil {
		return nil, err
	}
	// Measure wants a store for the host it builds; deciding never touches it.
	st, err := sqlite.Open(ctx, filepath.Join(tmp, "measure.db"), sqlite.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	cmd := &abi.Command{ID: "cmd-1", Domain: "user", Name: "create-user", Resource: "user", AggregateID: "u-1",
		Payload: []byte(decidePayload), Time: 1}
	m, err := host.Measure(ctx, host.Config{Store: st}, module, cmd, runs)
	if err != nil {
		return nil, fmt.Errorf("measuring the guest: %w", err)
	}
	r := &decideResult{Toolchain: toolchain, GuestRuns: runs,
		GuestMedianUs: us(m.HandleMedian), GuestP99Us: us(m.HandleP99)}
	goTest := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^"+nativeBench+"$",
		"-benchtime", benchtime, "-count", "1", ".")
	goTest.Dir = filepath.Join(repo, "plugins", "examples", "user")
	out, err := goTest.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("running %s: %w\n%s", nativeBench, err, out)
	}
	n, nsPerOp, ok := parseBenchLine(string(out), nativeBench)
	if !ok {
		return nil, fmt.Errorf("no %s result in:\n%s", nativeBench, out)
	}
	r.NativeRuns, r.NativeMeanUs = n, nsPerOp/1000
	if r.NativeMeanUs > 0 {
		r.Ratio = r.GuestMedianUs / r.NativeMeanUs
	}
	return r, nil
}

// parseBenchLine finds a benchmark's iterations and ns/op in go test output.
func parseBenchLine(out, name string) (n int64, nsPerOp float64, ok bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:-\d+)?\s+(\d+)\s+([0-9.]+) ns/op`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(m[1], 10, 64)
	nsPerOp, err2 := strconv.ParseFloat(m[2], 64)
	return n, nsPerOp, err1 == nil && err2 == nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// decideCells are the decide baseline as table rows: one client, the rate
// one core decides at. The native row has no percentiles (only a mean).
func decideCells(r *decideResult) []cell {
	guest := cell{Store: "-", Mix: "decide guest", Clients: 1, Done: r.GuestRuns,
		P50ms: r.GuestMedianUs / 1000, P99ms: r.GuestP99Us / 1000,
		Note: fmt.Sprintf("create-user in the %s guest via host.Measure, fuel on", r.Toolchain)}
	if r.GuestMedianUs > 0 {
		guest.PerSecond = 1e6 / r.GuestMedianUs
	}
	native := cell{Store: "-", Mix: "decide native", Clients: 1, Done: int(r.NativeRuns),
		Note: fmt.Sprintf("%s, mean %.2fus", nativeBench, r.NativeMeanUs)}
	if r.NativeMeanUs > 0 {
		native.PerSecond = 1e6 / r.NativeMeanUs
	}
	return []cell{guest, native}
}
