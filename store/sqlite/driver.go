package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"fluvius.dev/fluvius/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configure Open.
type Options struct {
	// Readers is the number of read connections; 0 means 4.
	Readers int
	// SkipMigrations leaves the schema alone (for `migrate` itself).
	SkipMigrations bool
}

// Driver is the SQLite store.
type Driver struct {
	path     string
	writer   *sql.DB
	reader   *sql.DB
	closed   atomic.Bool
	appended store.Signal
	stmts    *commandStmts // prepared on the writer (SkipMigrations: nil)
	// pollInterval bounds how long WaitForEvents sleeps without a local
	// commit, to notice appends by other processes on the same file.
	pollInterval time.Duration
}

var _ store.Driver = (*Driver)(nil)

func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and migrates it to
// the latest schema.
func Open(ctx context.Context, path string, opts Options) (*Driver, error) {
	writer, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	// The writer connection switches the file to WAL before readers open it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening sqlite database %s: %w", path, err)
	}
	d := &Driver{path: path, writer: writer, pollInterval: time.Second}
	if !opts.SkipMigrations {
		if err := d.MigrateUp(ctx); err != nil {
			writer.Close()
			return nil, err
		}
		if err := d.prepareCommandStmts(ctx); err != nil {
			writer.Close()
			return nil, err
		}
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = 4
	}
	reader, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening sqlite database %s for reading: %w", path, err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	d.reader = reader
	return d, nil
}

// OpenDB opens another connection to the database file, configured as the
// driver's writer is (WAL, busy timeout, immediate transactions), for a
// library that keeps its own tables beside the store's (River's jobs). The
// caller closes it.
func (d *Driver) OpenDB() (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(d.path, true))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Name implements store.Driver.
func (d *Driver) Name() string { return "sqlite" }

// Capabilities implements store.Driver.
func (d *Driver) Capabilities() store.Capabilities { return store.Capabilities{} }

// Executor implements store.Driver.
func (d *Driver) Executor() store.Executor { return &executor{d: d, read: d.reader} }

// Begin implements store.Driver.
func (d *Driver) Begin(ctx context.Context) (store.Tx, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", translate(err))
	}
	return &txExecutor{executor: executor{d: d, read: tx, write: tx}, tx: tx}, nil
}

// Close implements store.Driver.
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	var errs []error
	if d.reader != nil {
		errs = append(errs, d.reader.Close())
	}
	errs = append(errs, d.writer.Close())
	return errors.Join(errs...)
}

type txExecutor struct {
	executor
	tx         *sql.Tx
	done       bool
	savepoints int
}

type savepoint struct {
	tx   *sql.Tx
	name string
}

func (t *txExecutor) Savepoint(ctx context.Context) (store.Savepoint, error) {
	t.savepoints++
	sp := &savepoint{tx: t.tx, name: fmt.Sprintf("sp_%d", t.savepoints)}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT "+sp.name); err != nil {
		return nil, fmt.Errorf("creating savepoint: %w", translate(err))
	}
	return sp, nil
}

func (s *savepoint) Release(ctx context.Context) error {
	if _, err := s.tx.ExecContext(ctx, "RELEASE "+s.name); err != nil {
		return fmt.Errorf("releasing savepoint: %w", translate(err))
	}
	return nil
}

func (s *savepoint) Rollback(ctx context.Context) error {
	// ROLLBACK TO keeps the savepoint on the stack; RELEASE pops it.
	if _, err := s.tx.ExecContext(ctx, "ROLLBACK TO "+s.name+"; RELEASE "+s.name); err != nil {
		return fmt.Errorf("rolling back to savepoint: %w", translate(err))
	}
	return nil
}

func (t *txExecutor) Commit(ctx context.Context) error {
	t.done = true
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", translate(err))
	}
	if t.appended {
		t.d.appended.Broadcast()
	}
	return nil
}

// WaitForEvents implements store.Driver.
func (d *Driver) WaitForEvents(ctx context.Context, after store.Cursor) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	wake := d.appended.C()
	var last int64
	if err := d.reader.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM events`).Scan(&last); err != nil {
		return fmt.Errorf("checking for new events: %w", translate(err))
	}
	if last > after.Position {
		return nil
	}
	t := time.NewTimer(d.pollInterval)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (t *txExecutor) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rolling back: %w", err)
	}
	return nil
}

// translate maps SQLite errors to the store's sentinels.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrDuplicate, err)
		}
	}
	if errors.Is(err, sql.ErrConnDone) || (err != nil && err.Error() == "sql: database is closed") {
		return fmt.Errorf("%w: %v", store.ErrClosed, err)
	}
	return err
}
