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

// openStore opens PostgreSQL when databaseURL is set, else the embedded
// SQLite database in dataDir. describe says which, for the log.
func openStore(ctx context.Context, databaseURL, dataDir string, migrate bool) (d store.Migrator, describe string, err error) {
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
