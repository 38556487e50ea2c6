// Command fluvius-host runs Fluvius: a host serving domain plugins over HTTP.
//
//	fluvius-host serve    [--listen ADDR] [--data-dir DIR] [--plugins-dir DIR]
//	fluvius-host migrate  up|down|status [--data-dir DIR | --database-url URL]
//	fluvius-host plugin   init NAME | build [DIR] | test [SCENARIOS...] | bench
//	fluvius-host plugin   push FILE [--activate] | list | activate NAME VERSION | rollback NAME | disable NAME
//	fluvius-host version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fluvius-host:", err)
		}
		os.Exit(2)
	}
}

const usage = `fluvius-host runs Fluvius domain plugins.

Commands:
  serve     serve the plugins of a directory over HTTP
  migrate   up | down | status: manage the database schema
  plugin    init | build | test | bench: write, compile and test a domain plugin;
            push | list | activate | rollback | disable: manage a running host's plugins
  version   print the version

Run 'fluvius-host COMMAND -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "plugin":
		return pluginCmd(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "fluvius-host", version)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// envOr returns the environment variable's value, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envInt64 reads an integer from the environment, or returns def when the
// variable is unset or not a number.
func envInt64(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}
