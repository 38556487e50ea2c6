package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/sdk/scenario"
	"fluvius.dev/fluvius/store/sqlite"
)

const pluginUsage = `fluvius-host plugin: the plugin author's loop.

  plugin init NAME [--dir DIR] [--sdk PATH]     scaffold a plugin module with scenarios and a test, with a
                                                 copy of the SDK in NAME/fluvius (or --sdk: a checkout's)
  plugin sdk [DIR]                               write this binary's SDK into DIR/fluvius again
  plugin build [DIR] [--toolchain auto|go|tinygo] [-o FILE]
                                                 compile DIR (default .) to NAME.wasm and check it loads
  plugin test [--wasm FILE] [SCENARIOS.json ...] run scenarios against the built .wasm
  plugin bench [--wasm FILE] [SCENARIOS.json]    size, compile, instantiate and decide times

Against a running host (--host URL or $FLUVIUS_HOST, admin key in $FLUVIUS_ADMIN_KEY):
  plugin push FILE.wasm [--activate] [--test SCENARIOS.json] [--force] [--verify-all] [--domain NAME]
                                                 upload a version; run scenarios against it on the host;
                                                 activate it (after they pass and verification)
  plugin list [--json]                           domains and their active versions
  plugin activate NAME VERSION [--force] [--verify-all]
  plugin rollback NAME [VERSION]                 back to the previous active version, or VERSION
  plugin disable NAME                            stop serving a domain on every host
`

func pluginCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, pluginUsage)
		return errors.New("plugin needs init, build or test")
	}
	switch args[0] {
	case "init":
		return pluginInit(args[1:], stdout, stderr)
	case "build":
		return pluginBuild(ctx, args[1:], stdout, stderr)
	case "test":
		return pluginTest(ctx, args[1:], stdout, stderr)
	case "bench":
		return pluginBench(ctx, args[1:], stdout, stderr)
	case "sdk":
		return pluginSDK(args[1:], stdout, stderr)
	case "push":
		return pluginPush(ctx, args[1:], stdout, stderr)
	case "list":
		return pluginList(ctx, args[1:], stdout, stderr)
	case "activate", "rollback", "disable":
		return pluginActivate(args[0])(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, pluginUsage)
		return nil
	}
	fmt.Fprint(stderr, pluginUsage)
	return fmt.Errorf("unknown plugin command %q", args[0])
}

// parseInterspersed parses flags that may come before or after the
// positional arguments (`plugin build ./dir -o x.wasm`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func pluginBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	toolchain := fs.String("toolchain", "auto", "auto (TinyGo if installed, else Go), go or tinygo")
	out := fs.String("o", "", "output file; default DIR/NAME.wasm")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("plugin build takes one directory, got %q", pos)
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tc := wasmbuild.Toolchain(*toolchain)
	if tc == "auto" {
		tc = wasmbuild.Go
		if _, _, err := wasmbuild.FindTinyGo(); err == nil {
			tc = wasmbuild.TinyGo
		}
	}
	if *out == "" {
		*out = filepath.Join(abs, filepath.Base(abs)+".wasm")
	}
	if *out, err = filepath.Abs(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "building %s with %s...\n", filepath.Base(abs), tc)
	start := time.Now()
	if err := wasmbuild.Build(ctx, tc, abs, *out); err != nil {
		return err
	}
	took := time.Since(start)
	p, cleanup, err := loadForCheck(ctx, *out)
	if err != nil {
		return fmt.Errorf("built %s, but the host refuses it: %w", *out, err)
	}
	defer cleanup()
	m := p.Manifest()
	fmt.Fprintf(stdout, "wrote %s: %s, %s in %s\n", *out, sizeOf(p.Size()), tc, took.Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "domain %s (revision %d): %d commands, %d events\n", m.Domain, m.Meta.Revision, len(m.Commands), len(m.Events))
	return nil
}

func sizeOf(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", (n+1023)/1024)
}

// loadForCheck loads a module into a throwaway host, as a server would.
func loadForCheck(ctx context.Context, wasm string) (*host.Plugin, func(), error) {
	if _, err := os.Stat(wasm); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s does not exist: build the plugin first (fluvius-host plugin build), or name it with --wasm", wasm)
	}
	dir, err := os.MkdirTemp("", "fluvius-plugin-")
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "check.db"), sqlite.Options{})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	h, err := host.New(ctx, host.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cleanup := func() {
		h.Close(context.Background())
		st.Close()
		os.RemoveAll(dir)
	}
	p, err := h.LoadFile(ctx, wasm)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return p, cleanup, nil
}

func pluginTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wasm := fs.String("wasm", "", "the plugin; default ./NAME.wasm, as plugin build writes it")
	files, err := pluginArgs(fs, args, wasm)
	if err != nil {
		return err
	}
	p, cleanup, err := loadForCheck(ctx, *wasm)
	if err != nil {
		return err
	}
	defer cleanup()
	passed, failed := 0, 0
	for _, path := range files {
		f, err := scenario.Load(path)
		if err != nil {
			return err
		}
		outcomes, err := scenario.Run(ctx, host.ScenarioEngine(p), f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, o := range outcomes {
			if o.Passed() {
				passed++
				fmt.Fprintf(stdout, "PASS  %s\n", o.Name)
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL  %s\n      %s\n", o.Name, strings.Join(o.Failures, "\n      "))
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) failed", failed)
	}
	return nil
}

// pluginArgs parses the flags and scenario files of plugin test and bench,
// defaulting to ./scenarios.json and ./NAME.wasm (what plugin build writes).
func pluginArgs(fs *flag.FlagSet, args []string, wasm *string) ([]string, error) {
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		files = []string{"scenarios.json"}
	}
	if *wasm == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		*wasm = filepath.Base(cwd) + ".wasm"
	}
	return files, nil
}
