package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fluvius.dev/fluvius/store"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// executor runs reads on read and writes on write. Outside a transaction
// write is nil and each write opens a transaction of its own on the writer.
type executor struct {
	d        *Driver
	read     querier
	write    querier
	appended bool // in a transaction: events were appended, wake readers at commit
}

var _ store.Executor = (*executor)(nil)

// writing runs fn with a querier that writes: the caller's transaction, or
// a new one committed when fn succeeds.
func (e *executor) writing(ctx context.Context, fn func(q querier) error) error {
	if e.d.closed.Load() {
		return store.ErrClosed
	}
	if e.write != nil {
		return fn(e.write)
	}
	tx, err := e.d.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return translate(tx.Commit())
}

func (e *executor) reading() (querier, error) {
	if e.d.closed.Load() {
		return nil, store.ErrClosed
	}
	return e.read, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// deletedAt is what a state write stores in deleted_at: its time when it
// deletes the record, else NULL.
func deletedAt(p *store.StatePutParams) any {
	if p.Deleted {
		return nanos(p.Now)
	}
	return nil
}

func jsonOr(b []byte, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

func streamVersion(ctx context.Context, q querier, k store.StreamKey) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE tenant = ? AND stream = ?`, k.Tenant, k.Stream).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("reading version of stream %q: %w", k.Stream, translate(err))
	}
	return v, nil
}

func (e *executor) StreamVersion(ctx context.Context, k store.StreamKey) (int64, error) {
	q := e.write
	if q == nil {
		var err error
		if q, err = e.reading(); err != nil {
			return 0, err
		}
	}
	return streamVersion(ctx, q, k)
}

func (e *executor) EventsAppend(ctx context.Context, p *store.EventsAppendParams) (*store.EventsAppendResult, error) {
	if len(p.Events) == 0 {
		return nil, fmt.Errorf("appending to stream %q: no events", p.Stream)
	}
	res := &store.EventsAppendResult{}
	err := e.writing(ctx, func(q querier) error {
		current, err := streamVersion(ctx, q, p.StreamKey)
		if err != nil {
			return err
		}
		if p.ExpectedVersion != store.AnyVersion && current != p.ExpectedVersion {
			return fmt.Errorf("appending to stream %q: expected version %d, stream is at %d: %w",
				p.Stream, p.ExpectedVersion, current, store.ErrVersionConflict)
		}
		now := nanos(p.Now)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO events (id, tenant, stream, version, type, data, metadata, created_at) VALUES `)
		args := make([]any, 0, 7*len(p.Events))
		for i, ev := range p.Events {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, ev.ID, p.Tenant, p.Stream, current+int64(i)+1, ev.Type, jsonOr(ev.Data, "{}"), jsonOr(ev.Metadata, "{}"), now)
		}
		sb.WriteString(" RETURNING position")
		rows, err := q.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return fmt.Errorf("appending to stream %q: %w", p.Stream, translate(err))
		}
		defer rows.Close()
		for i := 0; rows.Next(); i++ {
			ev := p.Events[i]
			out := &store.Event{ID: ev.ID, Tenant: p.Tenant, Stream: p.Stream, Version: current + int64(i) + 1, Type: ev.Type,
				Data: []byte(jsonOr(ev.Data, "{}")), Metadata: []byte(jsonOr(ev.Metadata, "{}")), CreatedAt: fromNanos(now)}
			if err := rows.Scan(&out.Position); err != nil {
				return err
			}
			res.Events = append(res.Events, out)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("appending to stream %q: %w", p.Stream, translate(err))
		}
		res.Version = current + int64(len(p.Events))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e.write == nil {
		e.d.appended.Broadcast() // committed already: wake feed readers
	} else {
		e.appended = true
	}
	return res, nil
}

const eventColumns = `position, id, tenant, stream, version, type, data, metadata, created_at`

func scanEvents(maxBytes int, rows *sql.Rows) ([]*store.Event, error) {
	defer rows.Close()
	var out []*store.Event
	total := 0
	for rows.Next() {
		ev := &store.Event{}
		var created int64
		var data, meta string
		if err := rows.Scan(&ev.Position, &ev.ID, &ev.Tenant, &ev.Stream, &ev.Version, &ev.Type, &data, &meta, &created); err != nil {
			return nil, err
		}
		ev.Data, ev.Metadata, ev.CreatedAt = []byte(data), []byte(meta), fromNanos(created)
		out = append(out, ev)
		if total += len(ev.Data); maxBytes > 0 && total >= maxBytes {
			break
		}
	}
	return out, rows.Err()
}

func (e *executor) readQuerier() (querier, error) {
	if e.write != nil {
		return e.write, nil
	}
	return e.reading()
}

func (e *executor) EventsReadStream(ctx context.Context, p *store.EventsReadStreamParams) ([]*store.Event, error) {
	q, err := e.readQuerier()
	if err != nil {
		return nil, err
	}
	upTo := p.UpToVersion
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	limit := p.Limit
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE tenant = ? AND stream = ? AND version > ? AND version <= ? ORDER BY version LIMIT ?`,
		p.Tenant, p.Stream, p.AfterVersion, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("reading stream %q: %w", p.Stream, translate(err))
	}
	evs, err := scanEvents(p.MaxBytes, rows)
	if err != nil {
		return nil, fmt.Errorf("reading stream %q: %w", p.Stream, translate(err))
	}
	return evs, nil
}

func (e *executor) EventsReadAll(ctx context.Context, p *store.EventsReadAllParams) ([]*store.Event, error) {
	q, err := e.readQuerier()
	if err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	// One writer: commit order is position order, and TxID is always 0.
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE position > ? ORDER BY position LIMIT ?`,
		p.After.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", p.After.Position, translate(err))
	}
	evs, err := scanEvents(0, rows)
	if err != nil {
		return nil, fmt.Errorf("reading events after %d: %w", p.After.Position, translate(err))
	}
	return evs, nil
}

const stateColumns = `tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by`

func scanState(row *sql.Row) (*store.StateRecord, error) {
	r := &store.StateRecord{}
	var data string
	var created, updated int64
	err := row.Scan(&r.Tenant, &r.Domain, &r.Resource, &r.ID, &data, &r.Version, &r.ETag,
		&created, &r.CreatedBy, &updated, &r.UpdatedBy)
	if err != nil {
		return nil, err
	}
	r.Data, r.CreatedAt, r.UpdatedAt = []byte(data), fromNanos(created), fromNanos(updated)
	return r, nil
}

func (e *executor) StateGet(ctx context.Context, k *store.StateKey) (*store.StateRecord, error) {
	q, err := e.readQuerier()
	if err != nil {
		return nil, err
	}
	r, err := scanState(q.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM states
		WHERE tenant = ? AND domain = ? AND resource = ? AND id = ? AND deleted_at IS NULL`, k.Tenant, k.Domain, k.Resource, k.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading state %s.%s/%s: %w", k.Domain, k.Resource, k.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %s.%s/%s: %w", k.Domain, k.Resource, k.ID, translate(err))
	}
	return r, nil
}

func (e *executor) StatePut(ctx context.Context, p *store.StatePutParams) (*store.StateRecord, error) {
	var out *store.StateRecord
	what := fmt.Sprintf("writing state %s.%s/%s", p.Domain, p.Resource, p.ID)
	err := e.writing(ctx, func(q querier) error {
		now := nanos(p.Now)
		var row *sql.Row
		if p.ExpectedVersion == 0 {
			row = q.QueryRowContext(ctx, `INSERT INTO states (`+stateColumns+`, deleted_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+stateColumns,
				p.Tenant, p.Domain, p.Resource, p.ID, jsonOr(p.Data, "{}"), p.Version, p.ETag, now, p.By, now, p.By, deletedAt(p))
		} else {
			row = q.QueryRowContext(ctx, `UPDATE states SET data = ?, version = ?, etag = ?, updated_at = ?, updated_by = ?, deleted_at = ?
				WHERE tenant = ? AND domain = ? AND resource = ? AND id = ? AND (? < 0 OR version = ?) RETURNING `+stateColumns,
				jsonOr(p.Data, "{}"), p.Version, p.ETag, now, p.By, deletedAt(p), p.Tenant, p.Domain, p.Resource, p.ID, p.ExpectedVersion, p.ExpectedVersion)
		}
		r, err := scanState(row)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%s: not at version %d: %w", what, p.ExpectedVersion, store.ErrVersionConflict)
		case errors.Is(translate(err), store.ErrDuplicate):
			return fmt.Errorf("%s: it already exists: %w", what, store.ErrVersionConflict)
		case err != nil:
			return fmt.Errorf("%s: %w", what, translate(err))
		}
		out = r
		return nil
	})
	return out, err
}

func (e *executor) IdempotencyGet(ctx context.Context, k *store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	q, err := e.readQuerier()
	if err != nil {
		return nil, err
	}
	r := &store.IdempotencyRecord{IdempotencyKey: *k}
	var created int64
	err = q.QueryRowContext(ctx, `SELECT request_hash, status, response, created_at FROM idempotency
		WHERE scope = ? AND key = ?`, k.Scope, k.Key).Scan(&r.RequestHash, &r.Status, &r.Response, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading idempotency key %q: %w", k.Key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading idempotency key %q: %w", k.Key, translate(err))
	}
	r.CreatedAt = fromNanos(created)
	return r, nil
}

func (e *executor) IdempotencyPut(ctx context.Context, r *store.IdempotencyRecord) error {
	return e.writing(ctx, func(q querier) error {
		resp := r.Response
		if resp == nil {
			resp = []byte{}
		}
		_, err := q.ExecContext(ctx, `INSERT INTO idempotency (scope, key, request_hash, status, response, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.Scope, r.Key, r.RequestHash, r.Status, resp, nanos(r.CreatedAt))
		if err != nil {
			return fmt.Errorf("recording idempotency key %q: %w", r.Key, translate(err))
		}
		return nil
	})
}

// EventsLatest implements store.FeedTail.
func (d *Driver) EventsLatest(ctx context.Context, limit int) ([]*store.Event, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+eventColumns+` FROM events ORDER BY position DESC LIMIT ?`, limit)
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
