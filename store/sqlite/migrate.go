package sqlite

import (
	"context"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// Migrations returns the driver's embedded migrations.
func Migrations() ([]store.Migration, error) { return store.LoadEmbedded(migrationFiles, "migrations") }

// AppliedMigrations implements store.MigrationBackend.
func (d *Driver) AppliedMigrations(ctx context.Context) (map[int]bool, error) {
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

// ApplyMigration implements store.MigrationBackend.
func (d *Driver) ApplyMigration(ctx context.Context, m store.Migration, up bool) error {
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	script, record, args := m.Down, `DELETE FROM schema_migrations WHERE version = ?`, []any{m.Version}
	if up {
		script, record, args = m.Up, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			[]any{m.Version, m.Name, time.Now().UnixNano()}
	}
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, record, args...); err != nil {
		return err
	}
	return tx.Commit()
}

// MigrationStatus lists the migrations and whether each is applied.
func (d *Driver) MigrationStatus(ctx context.Context) ([]store.MigrationState, error) {
	return store.Migrations{Backend: d, Load: Migrations}.MigrationStatus(ctx)
}

// MigrateUp applies every pending migration.
func (d *Driver) MigrateUp(ctx context.Context) error {
	return store.Migrations{Backend: d, Load: Migrations}.MigrateUp(ctx)
}

// MigrateDown reverts the latest steps migrations.
func (d *Driver) MigrateDown(ctx context.Context, steps int) error {
	return store.Migrations{Backend: d, Load: Migrations}.MigrateDown(ctx, steps)
}
