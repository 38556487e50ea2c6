// Command fluvius-bench measures fluvius-host under HTTP load: it builds the
// host and the user example, starts `fluvius-host serve` as a child process
// on each store (SQLite in a temporary data dir, PostgreSQL in a throwaway
// cluster), drives mixes of commands and queries at several client counts
// from this process, and prints one table next to baselines measured in the
// same run: one INSERT per transaction on the same PostgreSQL at the same
// concurrency, and the example's create-user decided in the wasm guest and
// natively. It writes the table as JSON too.
//
//	go run ./cmd/fluvius-bench [--quick=false] [--stores sqlite,postgres] [--clients 1,8,32,64]
//	    [--mixes query,update-hot,update-cold,mix,create] [--duration 2s] [--json FILE]
//	go run ./cmd/fluvius-bench --soak 10m [--soak-store sqlite] [--soak-clients 32] [--soak-mix mix]
//
// The load generator shares the machine with the host: on a small machine
// its own CPU use is part of what limits the numbers. Compare rows of one
// run, not runs of different machines.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fluvius-bench:", err)
		}
		os.Exit(1)
	}
}

// options are the bench's flags, with the mode's defaults filled in.
type options struct {
	quick            bool
	stores           []string
	clients          []int
	mixes            []mix
	duration, warmup time.Duration
	cold             int
	guestRuns        int
	benchtime        string
	baselines        bool
	jsonPath         string
	soak             time.Duration
	soakStore        string
	soakClients      int
	soakMix          mix
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("fluvius-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.BoolVar(&o.quick, "quick", true, "short cells (2 s after 0.5 s of warm-up, 1,000 cold aggregates): a few minutes in all; false: 10 s cells, 10,000")
	stores := fs.String("stores", "sqlite,postgres", "stores to serve on: sqlite, postgres (a throwaway cluster)")
	clients := fs.String("clients", "1,8,32,64", "concurrent clients of each cell")
	mixList := fs.String("mixes", mixNames(), "mixes to run, in this order whatever the order given: query, update-hot, update-cold, mix (20% create, 50% update-cold, 30% query), create")
	fs.DurationVar(&o.duration, "duration", 0, "measured time of each cell; 0: the mode's")
	fs.DurationVar(&o.warmup, "warmup", 0, "unmeasured load before each cell; 0: the mode's")
	fs.IntVar(&o.cold, "cold", 0, "aggregates update-cold and query spread over; 0: the mode's")
	fs.BoolVar(&o.baselines, "baselines", true, "measure the baselines too: naive PostgreSQL inserts, guest vs native decide")
	fs.StringVar(&o.jsonPath, "json", "", "where to write the results as JSON; default build/bench/bench.json in the repo")
	fs.DurationVar(&o.soak, "soak", 0, "instead of the table: run one mix for this long against one store and report the host's memory and goroutines at start and end")
	fs.StringVar(&o.soakStore, "soak-store", "sqlite", "store of the soak")
	fs.IntVar(&o.soakClients, "soak-clients", 32, "clients of the soak")
	soakMix := fs.String("soak-mix", "mix", "mix of the soak")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("fluvius-bench takes no arguments, got %q", fs.Args())
	}
	var err error
	if o.clients, err = parseClients(*clients); err != nil {
		return nil, err
	}
	if o.mixes, err = parseMixes(*mixList); err != nil {
		return nil, err
	}
	sm, err := parseMixes(*soakMix)
	if err != nil || len(sm) != 1 {
		return nil, fmt.Errorf("--soak-mix: want one mix of %s", mixNames())
	}
	o.soakMix = sm[0]
	o.stores = splitList(*stores)
	if o.soak > 0 {
		o.stores = []string{o.soakStore}
	}
	for _, s := range o.stores {
		if s != "sqlite" && s != "postgres" {
			return nil, fmt.Errorf("unknown store %q: sqlite or postgres", s)
		}
	}
	if len(o.stores) == 0 {
		return nil, errors.New("no store given")
	}
	def := struct {
		duration, warmup time.Duration
		cold, runs       int
		benchtime        string
	}{10 * time.Second, 2 * time.Second, 10_000, 20_000, "3s"}
	if o.quick {
		def.duration, def.warmup, def.cold, def.runs, def.benchtime = 2*time.Second, 500*time.Millisecond, 1000, 2000, "1s"
	}
	if o.duration <= 0 {
		o.duration = def.duration
	}
	if o.warmup <= 0 {
		o.warmup = def.warmup
	}
	if o.cold <= 0 {
		o.cold = def.cold
	}
	o.guestRuns, o.benchtime = def.runs, def.benchtime
	return o, nil
}

// bench is one run: what it built and where.
type bench struct {
	o        *options
	repo     string
	tmp      string
	hostBin  string
	plugins  string
	adminKey string
	logf     func(format string, args ...any)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	begin := time.Now()
	b := &bench{o: o, logf: func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }}
	if b.repo, err = findRepo("."); err != nil {
		return err
	}
	if o.jsonPath == "" {
		o.jsonPath = filepath.Join(b.repo, "build", "bench", "bench.json")
	}
	if b.tmp, err = os.MkdirTemp("", "fluvius-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	key := make([]byte, 24)
	rand.Read(key)
	b.adminKey = hex.EncodeToString(key)

	b.logf("building fluvius-host and the user example")
	if b.hostBin, err = buildHost(ctx, b.repo, b.tmp); err != nil {
		return err
	}
	b.plugins = filepath.Join(b.tmp, "plugins")
	if err := os.MkdirAll(b.plugins, 0o755); err != nil {
		return err
	}
	wasm := filepath.Join(b.plugins, "user.wasm")
	tc, err := buildPlugin(ctx, b.repo, "user", wasm)
	if err != nil {
		return err
	}
	b.logf("built in %v (guest toolchain %s)", time.Since(begin).Round(100*time.Millisecond), tc)

	rep := &report{Started: begin.UTC().Format(time.RFC3339), Quick: o.quick, Go: runtime.Version(),
		CPUs: runtime.NumCPU(), DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
		Cold: o.cold, Hot: hotAggregates}
	finish := func() error {
		rep.WallS = time.Since(begin).Seconds()
		if err := writeJSON(o.jsonPath, rep); err != nil {
			return fmt.Errorf("writing %s: %w", o.jsonPath, err)
		}
		fmt.Fprintf(stdout, "wall time %v; JSON in %s\n", time.Since(begin).Round(time.Second), o.jsonPath)
		return nil
	}

	if o.soak > 0 {
		res, err := b.runSoak(ctx)
		if err != nil {
			return err
		}
		rep.Soak = res
		fmt.Fprintf(stdout, "soak: %s, %d clients, %s for %v\n\n", res.Store, res.Clients, res.Mix, o.soak)
		fmt.Fprint(stdout, formatTable([]cell{res.Cell}))
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, formatSoak(res))
		return finish()
	}

	if o.baselines {
		b.logf("decide baseline: create-user in the guest (host.Measure, %d runs) and natively (go test -bench)", o.guestRuns)
		if rep.Decide, err = decideBaseline(ctx, b.repo, wasm, string(tc), b.tmp, o.guestRuns, o.benchtime); err != nil {
			return err
		}
	}
	for _, store := range o.stores {
		cells, err := b.runStore(ctx, store)
		rep.Cells = append(rep.Cells, cells...)
		var skip errSkip
		if errors.As(err, &skip) {
			b.logf("%s: skipped: %v", store, skip.err)
			if rep.Skipped == nil {
				rep.Skipped = map[string]string{}
			}
			rep.Skipped[store] = skip.err.Error()
			continue
		}
		if err != nil {
			return err
		}
	}
	table := rep.Cells
	if rep.Decide != nil {
		table = append(table[:len(table):len(table)], decideCells(rep.Decide)...)
	}
	fmt.Fprintf(stdout, "\nfluvius-bench (%s): user example, %v per cell after %v of warm-up, %d hot / %d cold aggregates, %d CPUs, %s\n\n",
		mode(o.quick), o.duration, o.warmup, hotAggregates, o.cold, runtime.NumCPU(), runtime.Version())
	fmt.Fprint(stdout, formatTable(table))
	fmt.Fprint(stdout, formatHeld(rep.Cells))
	if d := rep.Decide; d != nil {
		fmt.Fprintf(stdout, "\ndecide create-user: %s guest (fuel on) median %s, p99 %s; native mean %s: guest/native %.1fx\n",
			d.Toolchain, formatMs(d.GuestMedianUs/1000), formatMs(d.GuestP99Us/1000), formatMs(d.NativeMeanUs/1000), d.Ratio)
	}
	for store, why := range rep.Skipped {
		fmt.Fprintf(stdout, "%s skipped: %s\n", store, why)
	}
	fmt.Fprintln(stdout)
	return finish()
}

func mode(quick bool) string {
	if quick {
		return "quick"
	}
	return "full"
}

// errSkip is a store the machine cannot offer (no PostgreSQL installed):
// the run goes on without it and says so.
type errSkip struct{ err error }

func (e errSkip) Error() string { return e.err.Error() }
