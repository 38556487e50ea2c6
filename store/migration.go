package store

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

// Migration is one numbered schema change with its way back.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationFile = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrator is a driver that manages its own schema: what `fluvius-host
// migrate` and storetest.ExerciseMigrations use.
type Migrator interface {
	Driver
	MigrationStatus(ctx context.Context) ([]MigrationState, error)
	MigrateUp(ctx context.Context) error
	MigrateDown(ctx context.Context, steps int) error
}

// LoadEmbedded reads the migrations in directory dir of fsys (a driver's
// go:embed file system).
func LoadEmbedded(fsys fs.FS, dir string) ([]Migration, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	return LoadMigrations(sub)
}

// LoadMigrations reads NNN_name.up.sql / NNN_name.down.sql pairs from fsys,
// in version order. Every migration needs both halves and versions must run
// 1, 2, 3... without gaps, so a missing file is found at build time, not in
// production.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNN_name.up.sql or NNN_name.down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		} else if mig.Name != m[2] {
			return nil, fmt.Errorf("migration %03d has two names: %q and %q", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %03d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations must be numbered from 001 without gaps; found %03d at place %d", m.Version, i+1)
		}
	}
	return out, nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Migration
	Applied bool
}

// MigrationBackend is what a driver provides for the shared migration
// runner: which versions are applied, and applying one step in a
// transaction together with its bookkeeping.
type MigrationBackend interface {
	AppliedMigrations(ctx context.Context) (map[int]bool, error)
	// ApplyMigration runs m.Up (up) or m.Down and records the change.
	ApplyMigration(ctx context.Context, m Migration, up bool) error
}

// MigrationStatus lists every migration and whether it is applied.
func MigrationStatus(ctx context.Context, b MigrationBackend, all []Migration) ([]MigrationState, error) {
	applied, err := b.AppliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationState, len(all))
	for i, m := range all {
		out[i] = MigrationState{Migration: m, Applied: applied[m.Version]}
	}
	return out, nil
}

// MigrateUp applies every pending migration in order.
func MigrateUp(ctx context.Context, b MigrationBackend, all []Migration) error {
	states, err := MigrationStatus(ctx, b, all)
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.Applied {
			continue
		}
		if err := b.ApplyMigration(ctx, s.Migration, true); err != nil {
			return fmt.Errorf("applying migration %03d_%s: %w", s.Version, s.Name, err)
		}
	}
	return nil
}

// MigrateDown reverts the latest steps applied migrations.
func MigrateDown(ctx context.Context, b MigrationBackend, all []Migration, steps int) error {
	states, err := MigrationStatus(ctx, b, all)
	if err != nil {
		return err
	}
	for i := len(states) - 1; i >= 0 && steps > 0; i-- {
		if !states[i].Applied {
			continue
		}
		if err := b.ApplyMigration(ctx, states[i].Migration, false); err != nil {
			return fmt.Errorf("reverting migration %03d_%s: %w", states[i].Version, states[i].Name, err)
		}
		steps--
	}
	return nil
}

// Migrations pairs a driver's embedded migrations with the driver, giving
// it MigrationStatus, MigrateUp and MigrateDown.
type Migrations struct {
	Backend MigrationBackend
	Load    func() ([]Migration, error)
}

// MigrationStatus lists the migrations and whether each is applied.
func (m Migrations) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	all, err := m.Load()
	if err != nil {
		return nil, err
	}
	return MigrationStatus(ctx, m.Backend, all)
}

// MigrateUp applies every pending migration.
func (m Migrations) MigrateUp(ctx context.Context) error {
	all, err := m.Load()
	if err != nil {
		return err
	}
	return MigrateUp(ctx, m.Backend, all)
}

// MigrateDown reverts the latest steps migrations.
func (m Migrations) MigrateDown(ctx context.Context, steps int) error {
	all, err := m.Load()
	if err != nil {
		return err
	}
	return MigrateDown(ctx, m.Backend, all, steps)
}
