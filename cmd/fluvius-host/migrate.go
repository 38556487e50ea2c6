package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"fluvius.dev/fluvius/jobs"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("FLUVIUS_DATA_DIR", "data"), "directory holding fluvius.db (env FLUVIUS_DATA_DIR)")
	databaseURL := fs.String("database-url", envOr("FLUVIUS_DATABASE_URL", ""), "postgres:// URL; empty means SQLite in the data dir (env FLUVIUS_DATABASE_URL)")
	steps := fs.Int("steps", 1, "how many migrations down reverts")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fluvius-host migrate up|down|status [flags]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("migrate needs up, down or status")
	}
	action := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	d, _, err := openStore(ctx, *databaseURL, *dataDir, false)
	if err != nil {
		return err
	}
	defer d.Close()
	switch action {
	case "up":
		if err := d.MigrateUp(ctx); err != nil {
			return err
		}
		// River keeps the jobs in tables of its own, migrated by its tool.
		if err := jobs.Migrate(ctx, d); err != nil {
			return err
		}
		defer fmt.Fprintln(stdout, "river\tapplied (River's own migrations, for the jobs)")
	case "down":
		if err := d.MigrateDown(ctx, *steps); err != nil {
			return err
		}
	case "status":
	default:
		fs.Usage()
		return fmt.Errorf("unknown migrate action %q", action)
	}
	states, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, s := range states {
		mark := "pending"
		if s.Applied {
			mark = "applied"
		}
		fmt.Fprintf(stdout, "%03d_%s\t%s\n", s.Version, s.Name, mark)
	}
	return nil
}
