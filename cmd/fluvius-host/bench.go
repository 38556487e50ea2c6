package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/sdk/scenario"
	"fluvius.dev/fluvius/store/sqlite"
)

// pluginBench prints what a module costs the host: size, compile, instance
// and the time to decide the first scenario that needs no history.
func pluginBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wasm := fs.String("wasm", "", "the plugin; default ./NAME.wasm")
	runs := fs.Int("runs", 2000, "how often the command is decided")
	unmetered := fs.Bool("unmetered", false, "run without fuel metering, to see what it costs")
	files, err := pluginArgs(fs, args, wasm)
	if err != nil {
		return err
	}
	module, err := os.ReadFile(*wasm)
	if err != nil {
		return err
	}
	f, err := scenario.Load(files[0])
	if err != nil {
		return err
	}
	var cmd *abi.Command
	for _, s := range f.Scenarios {
		if len(s.Given) == 0 && s.Then.Error == nil {
			payload := []byte(s.When.Payload)
			if len(payload) == 0 {
				payload = []byte("{}")
			}
			cmd = &abi.Command{ID: "bench", Domain: f.Domain, Name: s.When.Command, Resource: s.When.Resource,
				AggregateID: scenario.DefaultID, Payload: payload, Time: scenario.DefaultTime.UnixNano()}
			fmt.Fprintf(stdout, "deciding %q (%s)\n", s.Name, s.When.Command)
			break
		}
	}
	if cmd == nil {
		return errors.New("no scenario without given events and errors to measure")
	}
	dir, err := os.MkdirTemp("", "fluvius-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := host.Measure(ctx, host.Config{Store: st, Unmetered: *unmetered}, module, cmd, *runs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "size %s, cold compile %s, warm compile %s, instantiate %s, handle median %s (p99 %s)\n",
		sizeOf(m.Bytes), m.ColdCompile.Round(time.Millisecond), m.WarmCompile.Round(10*time.Microsecond),
		m.Instantiate.Round(time.Microsecond), m.HandleMedian.Round(100*time.Nanosecond), m.HandleP99.Round(100*time.Nanosecond))
	return nil
}
