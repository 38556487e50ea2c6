package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/sqlite"
)

// migrator is what both drivers offer `migrate`.
type migrator interface {
	store.Driver
	MigrationStatus(ctx context.Context) ([]store.MigrationState, error)
	MigrateUp(ctx context.Context) error
	MigrateDown(ctx context.Context, steps int) error
}

// openStore opens PostgreSQL when databaseURL is set, else the embedded
// SQLite database in dataDir. describe says which, for the log.
func openStore(ctx context.Context, databaseURL, dataDir string, migrate bool) (d migrator, describe string, err error) {
	if databaseURL != "" {
		if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
			return nil, "", fmt.Errorf("--database-url must be a postgres:// URL")
		}
		pg, err := postgres.Open(ctx, databaseURL, postgres.Options{SkipMigrations: !migrate})
		if err != nil {
			return nil, "", err
		}
		return pg, "postgres", nil
	}
	path := filepath.Join(dataDir, "fluvius.db")
	lite, err := sqlite.Open(ctx, path, sqlite.Options{SkipMigrations: !migrate})
	if err != nil {
		return nil, "", err
	}
	return lite, "sqlite " + path, nil
}
