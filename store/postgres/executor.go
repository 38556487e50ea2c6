package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"fluvius.dev/fluvius/store"
)

// querier is what *pgxpool.Pool and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// executor runs every call as one statement on q: the pool (autocommit,
// each statement atomic on its own) or the caller's transaction.
type executor struct {
	d        *Driver
	q        querier
	inTx     bool
	appended bool // in a transaction: announce the append at commit
}

var _ store.Executor = (*executor)(nil)

func (e *executor) check() error {
	if e.d.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

func jsonOr(b []byte, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

func timeOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func parseTxID(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// appendSQL checks the expected version, numbers the events and inserts
// them in one statement. The unique (tenant, stream, version) constraint
// catches a concurrent append that read the same version.
const appendSQL = `
WITH cur AS (SELECT coalesce(max(version), 0) AS v FROM events WHERE tenant = $8 AND stream = $1)
INSERT INTO events (id, tenant, stream, version, type, data, metadata, created_at)
SELECT e.id, $8, $1, cur.v + e.ord, e.type, e.data::jsonb, e.metadata::jsonb, $3
FROM cur, unnest($4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS e(id, type, data, metadata, ord)
WHERE $2::bigint < 0 OR cur.v = $2::bigint
ORDER BY e.ord
RETURNING id, position, version, tx_id::text`

func (e *executor) StreamVersion(ctx context.Context, k store.StreamKey) (int64, error) {
	if err := e.check(); err != nil {
		return 0, err
	}
	var v int64
	if err := e.q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE tenant = $1 AND stream = $2`, k.Tenant, k.Stream).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading version of stream %q: %w", k.Stream, translate(err))
	}
	return v, nil
}

func (e *executor) EventsAppend(ctx context.Context, p *store.EventsAppendParams) (*store.EventsAppendResult, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if len(p.Events) == 0 {
		return nil, fmt.Errorf("appending to stream %q: no events", p.Stream)
	}
	n := len(p.Events)
	ids, types, data, meta := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	byID := make(map[string]int, n)
	for i, ev := range p.Events {
		ids[i], types[i], data[i], meta[i] = ev.ID, ev.Type, jsonOr(ev.Data, "{}"), jsonOr(ev.Metadata, "{}")
		byID[ev.ID] = i
	}
	now := timeOr(p.Now).UTC().Truncate(time.Microsecond)
	rows, err := e.q.Query(ctx, appendSQL, p.Stream, p.ExpectedVersion, now, ids, types, data, meta, p.Tenant)
	if err != nil {
		return nil, fmt.Errorf("appending to stream %q: %w", p.Stream, translate(err))
	}
	res := &store.EventsAppendResult{Events: make([]*store.Event, n)}
	got := 0
	for rows.Next() {
		var id, tx string
		var pos, ver int64
		if err := rows.Scan(&id, &pos, &ver, &tx); err != nil {
			rows.Close()
			return nil, fmt.Errorf("appending to stream %q: %w", p.Stream, err)
		}
		i, ok := byID[id]
		if !ok {
			rows.Close()
			return nil, fmt.Errorf("appending to stream %q: unexpected event %q returned", p.Stream, id)
		}
		ev := p.Events[i]
		res.Events[i] = &store.Event{ID: id, Tenant: p.Tenant, Stream: p.Stream, Version: ver, Position: pos, TxID: parseTxID(tx),
			Type: ev.Type, Data: []byte(data[i]), Metadata: []byte(meta[i]), CreatedAt: now}
		res.Version = max(res.Version, ver)
		got++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("appending to stream %q: %w", p.Stream, translate(err))
	}
	if got == 0 {
		current, _ := e.StreamVersion(ctx, p.StreamKey)
		return nil, fmt.Errorf("appending to stream %q: expected version %d, stream is at %d: %w",
			p.Stream, p.ExpectedVersion, current, store.ErrVersionConflict)
	}
	if e.inTx {
		e.appended = true
	} else {
		e.d.announce()
	}
	return res, nil
}

// eventColumns reads tx_id as text (pgx has no xid8 type); ORDER BY must
// then name events.tx_id, or it would sort by that text.
const eventColumns = `position, id, tenant, stream, version, type, data, metadata, tx_id::text AS tx_text, created_at`

func scanEvents(maxBytes int, rows pgx.Rows) ([]*store.Event, error) {
	defer rows.Close()
	var out []*store.Event
	total := 0
	for rows.Next() {
		ev := &store.Event{}
		var tx string
		if err := rows.Scan(&ev.Position, &ev.ID, &ev.Tenant, &ev.Stream, &ev.Version, &ev.Type, &ev.Data, &ev.Metadata, &tx, &ev.CreatedAt); err != nil {
			return nil, err
		}
		ev.TxID = parseTxID(tx)
		ev.CreatedAt = ev.CreatedAt.UTC()
		out = append(out, ev)
		if total += len(ev.Data); maxBytes > 0 && total >= maxBytes {
			break
		}
	}
	return out, rows.Err()
}

func limitArg(n int) any {
	if n <= 0 {
		return nil // LIMIT NULL: no limit
	}
	return n
}

func (e *executor) EventsReadStream(ctx context.Context, p *store.EventsReadStreamParams) ([]*store.Event, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	upTo := p.UpToVersion
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	rows, err := e.q.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE tenant = $5 AND stream = $1 AND version > $2 AND version <= $3 ORDER BY version LIMIT $4`,
		p.Stream, p.AfterVersion, upTo, limitArg(p.Limit), p.Tenant)
	if err != nil {
		return nil, fmt.Errorf("reading stream %q: %w", p.Stream, translate(err))
	}
	evs, err := scanEvents(p.MaxBytes, rows)
	if err != nil {
		return nil, fmt.Errorf("reading stream %q: %w", p.Stream, translate(err))
	}
	return evs, nil
}

// EventsReadAll reads the feed: events of transactions older than the oldest
// still running (pg_snapshot_xmin), in (tx_id, position) order. A
// transaction that is still open, or committed behind one that is, is not
// passed over: its events are delivered once every older one has ended.
func (e *executor) EventsReadAll(ctx context.Context, p *store.EventsReadAllParams) ([]*store.Event, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := e.q.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2)
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY events.tx_id, events.position LIMIT $3`, // qualified: the select list's tx_id is text
		strconv.FormatUint(p.After.TxID, 10), p.After.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("reading events after %+v: %w", p.After, translate(err))
	}
	evs, err := scanEvents(0, rows)
	if err != nil {
		return nil, fmt.Errorf("reading events after %+v: %w", p.After, translate(err))
	}
	return evs, nil
}

const stateColumns = `tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by`

func scanState(row pgx.Row) (*store.StateRecord, error) {
	r := &store.StateRecord{}
	err := row.Scan(&r.Tenant, &r.Domain, &r.Resource, &r.ID, &r.Data, &r.Version, &r.ETag,
		&r.CreatedAt, &r.CreatedBy, &r.UpdatedAt, &r.UpdatedBy)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func (e *executor) StateGet(ctx context.Context, k *store.StateKey) (*store.StateRecord, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	r, err := scanState(e.q.QueryRow(ctx, `SELECT `+stateColumns+` FROM states
		WHERE tenant = $4 AND domain = $1 AND resource = $2 AND id = $3 AND deleted_at IS NULL`, k.Domain, k.Resource, k.ID, k.Tenant))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading state %s.%s/%s: %w", k.Domain, k.Resource, k.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %s.%s/%s: %w", k.Domain, k.Resource, k.ID, translate(err))
	}
	return r, nil
}

func (e *executor) StatePut(ctx context.Context, p *store.StatePutParams) (*store.StateRecord, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("writing state %s.%s/%s", p.Domain, p.Resource, p.ID)
	now := timeOr(p.Now)
	var row pgx.Row
	if p.ExpectedVersion == 0 {
		row = e.q.QueryRow(ctx, `INSERT INTO states (`+stateColumns+`, deleted_at)
			VALUES ($7, $1, $2, $3, $4::jsonb, $5, $6, $8, $9, $8, $9, $10)
			ON CONFLICT (tenant, domain, resource, id) DO NOTHING RETURNING `+stateColumns,
			p.Domain, p.Resource, p.ID, jsonOr(p.Data, "{}"), p.Version, p.ETag, p.Tenant, now, p.By, deletedAt(p, now))
	} else {
		row = e.q.QueryRow(ctx, `UPDATE states SET data = $4::jsonb, version = $5, etag = $6, updated_at = $7, updated_by = $8, deleted_at = $11
			WHERE tenant = $10 AND domain = $1 AND resource = $2 AND id = $3 AND ($9::bigint < 0 OR version = $9::bigint)
			RETURNING `+stateColumns,
			p.Domain, p.Resource, p.ID, jsonOr(p.Data, "{}"), p.Version, p.ETag, now, p.By, p.ExpectedVersion, p.Tenant, deletedAt(p, now))
	}
	r, err := scanState(row)
	if errors.Is(err, pgx.ErrNoRows) {
		if p.ExpectedVersion == 0 {
			return nil, fmt.Errorf("%s: it already exists: %w", what, store.ErrVersionConflict)
		}
		return nil, fmt.Errorf("%s: not at version %d: %w", what, p.ExpectedVersion, store.ErrVersionConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, translate(err))
	}
	return r, nil
}

func (e *executor) IdempotencyGet(ctx context.Context, k *store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	r := &store.IdempotencyRecord{IdempotencyKey: *k}
	err := e.q.QueryRow(ctx, `SELECT request_hash, status, response, created_at FROM idempotency
		WHERE scope = $1 AND key = $2`, k.Scope, k.Key).Scan(&r.RequestHash, &r.Status, &r.Response, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading idempotency key %q: %w", k.Key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading idempotency key %q: %w", k.Key, translate(err))
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

func (e *executor) IdempotencyPut(ctx context.Context, r *store.IdempotencyRecord) error {
	if err := e.check(); err != nil {
		return err
	}
	resp := r.Response
	if resp == nil {
		resp = []byte{}
	}
	tag, err := e.q.Exec(ctx, `INSERT INTO idempotency (scope, key, request_hash, status, response, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING`,
		r.Scope, r.Key, r.RequestHash, r.Status, resp, timeOr(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("recording idempotency key %q: %w", r.Key, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("recording idempotency key %q: %w", r.Key, store.ErrDuplicate)
	}
	return nil
}

// deletedAt is what a state write stores in deleted_at: its time when it
// deletes the record, else NULL.
func deletedAt(p *store.StatePutParams, now time.Time) *time.Time {
	if p.Deleted {
		return &now
	}
	return nil
}

// EventsLatest implements store.FeedTail: the last events of transactions
// no running one can overtake, as EventsReadAll would give them.
func (d *Driver) EventsLatest(ctx context.Context, limit int) ([]*store.Event, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.pool.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY events.tx_id DESC, events.position DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the latest events: %w", translate(err))
	}
	evs, err := scanEvents(0, rows)
	if err != nil {
		return nil, fmt.Errorf("reading the latest events: %w", translate(err))
	}
	slices.Reverse(evs)
	return evs, nil
}
