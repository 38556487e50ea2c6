package postgres

import (
	"context"
	"fmt"

	"fluvius.dev/fluvius/store"
)

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrationLock serialises migrations of hosts starting at once: a lock
// taken only while migrating, never on the write path.
const migrationLock = 0x666c7576 // "fluv"

// Migrations returns the driver's embedded migrations.
func Migrations() ([]store.Migration, error) { return store.LoadEmbedded(migrationFiles, "migrations") }

// AppliedMigrations implements store.MigrationBackend.
func (d *Driver) AppliedMigrations(ctx context.Context) (map[int]bool, error) {
	if _, err := d.pool.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	rows, err := d.pool.Query(ctx, `SELECT version FROM schema_migrations`)
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

// ApplyMigration implements store.MigrationBackend. Another host may have
// applied the step while this one waited for the lock; then it does nothing.
func (d *Driver) ApplyMigration(ctx context.Context, m store.Migration, up bool) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil {
		return err
	}
	if applied == up {
		return nil
	}
	script := m.Down
	if up {
		script = m.Up
	}
	if _, err := tx.Exec(ctx, script); err != nil {
		return err
	}
	if up {
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, m.Version)
	}
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
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
