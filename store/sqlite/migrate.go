package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"fluvius.dev/fluvius/store"
)

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

func migrations() ([]store.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return store.LoadMigrations(sub)
}

// MigrationStatus lists every migration and whether it is applied.
func (d *Driver) MigrationStatus(ctx context.Context) ([]store.MigrationState, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	applied, err := d.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.MigrationState, len(all))
	for i, m := range all {
		out[i] = store.MigrationState{Migration: m, Applied: applied[m.Version]}
	}
	return out, nil
}

func (d *Driver) appliedVersions(ctx context.Context) (map[int]bool, error) {
	if _, err := d.writer.ExecContext(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	rows, err := d.writer.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// MigrateUp applies every pending migration, each in its own transaction.
func (d *Driver) MigrateUp(ctx context.Context) error {
	states, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.Applied {
			continue
		}
		err := d.inTx(ctx, s.Up, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			s.Version, s.Name, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("applying migration %03d_%s: %w", s.Version, s.Name, err)
		}
	}
	return nil
}

// MigrateDown reverts the latest steps applied migrations.
func (d *Driver) MigrateDown(ctx context.Context, steps int) error {
	states, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for i := len(states) - 1; i >= 0 && steps > 0; i-- {
		s := states[i]
		if !s.Applied {
			continue
		}
		if err := d.inTx(ctx, s.Down, `DELETE FROM schema_migrations WHERE version = ?`, s.Version); err != nil {
			return fmt.Errorf("reverting migration %03d_%s: %w", s.Version, s.Name, err)
		}
		steps--
	}
	return nil
}

func (d *Driver) inTx(ctx context.Context, script, record string, args ...any) error {
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, record, args...); err != nil {
		return err
	}
	return tx.Commit()
}
