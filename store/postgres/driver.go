package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"fluvius.dev/fluvius/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// notifyChannel is the LISTEN/NOTIFY channel appends are announced on.
const notifyChannel = "fluvius_events"

// Options configure Open.
type Options struct {
	// SkipMigrations leaves the schema alone (for `migrate` itself).
	SkipMigrations bool
	// PollInterval bounds how long WaitForEvents waits without a
	// notification; 0 means 500ms.
	PollInterval time.Duration
	// Logger receives the listener's reconnects; nil uses slog.Default.
	Logger *slog.Logger
	// Replica opens a streaming replica (a hot standby) for reads: no
	// migration is run and nothing listens or notifies, which a server in
	// recovery refuses. Only reads may be made through it.
	Replica bool
}

// Driver is the PostgreSQL store.
type Driver struct {
	pool     *pgxpool.Pool
	cfg      *pgxpool.Config
	opts     Options
	closed   atomic.Bool
	appended store.Signal  // wakes WaitForEvents
	notify   chan struct{} // asks the notifier to NOTIFY other processes
	stop     context.CancelFunc
	wg       sync.WaitGroup
	// fallbacks counts batches redone with savepoints after the pipelined
	// way failed (races with other transactions on a stream or key).
	fallbacks atomic.Int64
}

var _ store.Driver = (*Driver)(nil)

// Open connects to the database at url (postgres://...), migrates it to the
// latest schema and starts listening for appends by other processes.
func Open(ctx context.Context, url string, opts Options) (*Driver, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	// pgx defaults to max(4, CPUs) connections: too few when group
	// committers hold some while commands read state. A pool_max_conns in
	// the URL wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 16)
	}
	// Our statements are few and their plans do not depend on parameter
	// values; planning the group-commit statement anew on every execution
	// (PostgreSQL's custom plans) cost more than executing it.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	d := &Driver{pool: pool, cfg: cfg, opts: opts, notify: make(chan struct{}, 1)}
	bg, stop := context.WithCancel(context.Background())
	d.stop = stop
	if opts.Replica {
		var recovering bool
		if err := pool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovering); err != nil || !recovering {
			stop()
			pool.Close()
			if err == nil {
				err = errors.New("the server is not in recovery: a read URL must name a streaming replica, not a primary")
			}
			return nil, fmt.Errorf("opening the read replica: %w", err)
		}
		return d, nil
	}
	if !opts.SkipMigrations {
		if err := d.MigrateUp(ctx); err != nil {
			stop()
			pool.Close()
			return nil, err
		}
	}
	d.wg.Add(2)
	go d.listen(bg)
	go d.notifier(bg)
	return d, nil
}

// Pool returns the connection pool, for tools and benchmarks that need raw
// access.
func (d *Driver) Pool() *pgxpool.Pool { return d.pool }

// Name implements store.Driver.
func (d *Driver) Name() string { return "postgres" }

// Capabilities implements store.Driver.
func (d *Driver) Capabilities() store.Capabilities {
	return store.Capabilities{ConcurrentWriters: true}
}

// Executor implements store.Driver.
func (d *Driver) Executor() store.Executor { return &executor{d: d, q: d.pool} }

// Begin implements store.Driver.
func (d *Driver) Begin(ctx context.Context) (store.Tx, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", translate(err))
	}
	return &txExecutor{executor: executor{d: d, q: tx, inTx: true}, tx: tx}, nil
}

// Close implements store.Driver.
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.stop()
	d.wg.Wait()
	d.pool.Close()
	return nil
}

type txExecutor struct {
	executor
	tx   pgx.Tx
	done bool
}

func (t *txExecutor) Commit(ctx context.Context) error {
	t.done = true
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", translate(err))
	}
	if t.appended {
		t.d.announce()
	}
	return nil
}

func (t *txExecutor) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.done = true
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("rolling back: %w", err)
	}
	return nil
}

type savepoint struct{ tx pgx.Tx }

// Savepoint implements store.Tx with pgx's pseudo-nested transactions.
func (t *txExecutor) Savepoint(ctx context.Context) (store.Savepoint, error) {
	sp, err := t.tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating savepoint: %w", translate(err))
	}
	return savepoint{tx: sp}, nil
}

func (s savepoint) Release(ctx context.Context) error {
	if err := s.tx.Commit(ctx); err != nil {
		return fmt.Errorf("releasing savepoint: %w", translate(err))
	}
	return nil
}

func (s savepoint) Rollback(ctx context.Context) error {
	if err := s.tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rolling back to savepoint: %w", translate(err))
	}
	return nil
}

// announce wakes local readers now and asks the notifier to tell other
// processes. NOTIFY serialises commits on a global queue lock, so it is sent
// outside the data transaction and coalesced: one NOTIFY covers every append
// that committed while the previous one was being sent.
func (d *Driver) announce() {
	d.appended.Broadcast()
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

func (d *Driver) notifier(ctx context.Context) {
	defer d.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.notify:
		}
		if _, err := d.pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil && ctx.Err() == nil {
			d.opts.Logger.Warn("postgres: notifying other hosts of new events failed; they will poll", "err", err)
		}
	}
}

// listen holds one connection in LISTEN and wakes readers on every
// notification; on failure it reconnects with backoff (readers poll
// meanwhile).
func (d *Driver) listen(ctx context.Context) {
	defer d.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d.opts.Logger.Warn("postgres: event listener lost its connection; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (d *Driver) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, d.cfg.ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		d.appended.Broadcast()
	}
}

// WaitForEvents implements store.Driver.
func (d *Driver) WaitForEvents(ctx context.Context, after store.Cursor) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	wake := d.appended.C()
	var ready bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2) AND tx_id < pg_snapshot_xmin(pg_current_snapshot()))`,
		fmt.Sprint(after.TxID), after.Position).Scan(&ready)
	if err != nil {
		return fmt.Errorf("checking for new events: %w", translate(err))
	}
	if ready {
		return nil
	}
	t := time.NewTimer(d.opts.PollInterval)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// translate maps PostgreSQL errors to the store's sentinels.
func translate(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		switch pe.ConstraintName {
		case "events_stream_version_unique", "states_pkey":
			return fmt.Errorf("%w: %v", store.ErrVersionConflict, err)
		}
		return fmt.Errorf("%w: %v", store.ErrDuplicate, err)
	}
	if errors.Is(err, pgx.ErrTxClosed) || (err != nil && err.Error() == "closed pool") {
		return fmt.Errorf("%w: %v", store.ErrClosed, err)
	}
	return err
}
