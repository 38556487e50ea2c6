package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
)

// commandSQL writes one command in one statement: it checks that the state
// is at the expected version (a stream's version is its state's: no read of
// the stream is needed, and the unique (stream, version) key backs the
// check) and that the idempotency key is free,
// and only then inserts the events, upserts the state and records the key.
// A command that does not qualify writes nothing and raises no error, so a
// batch of them can be pipelined in one round trip without savepoints. A
// concurrent transaction racing for the same stream or key still raises a
// unique violation; then the batch is redone the portable way.
const commandSQL = `
WITH taken AS (
    SELECT EXISTS (SELECT 1 FROM idempotency WHERE $16::text IS NOT NULL AND scope = $16::text AND key = $17) AS t
), ok AS (
    SELECT 1 FROM taken
    WHERE NOT taken.t
      AND coalesce((SELECT version FROM states WHERE tenant = $14 AND domain = $8 AND resource = $9 AND id = $10), 0) = $2::bigint
), ev AS (
    INSERT INTO events (id, tenant, stream, version, type, data, metadata, created_at)
    SELECT e.id, $23, $1, $2::bigint + e.ord, e.type, e.data::jsonb, e.metadata::jsonb, $3
    FROM ok, unnest($4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS e(id, type, data, metadata, ord)
    RETURNING 1
), st AS (
    INSERT INTO states (tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by, deleted_at)
    SELECT $14, $8, $9, $10, $11::jsonb, $12, $13, $18, $15, $18, $15, $24 FROM ok
    ON CONFLICT (tenant, domain, resource, id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version,
        etag = EXCLUDED.etag, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, deleted_at = EXCLUDED.deleted_at
), idem AS (
    INSERT INTO idempotency (scope, key, request_hash, status, response, created_at)
    SELECT $16::text, $17, $19, $20, $21, $22 FROM ok WHERE $16::text IS NOT NULL
)
SELECT (SELECT count(*) FROM ev), (SELECT t FROM taken)`

const idempotencySQL = `INSERT INTO idempotency (scope, key, request_hash, status, response, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING RETURNING 1`

// CommitCommands implements store.Driver: BEGIN, every command pipelined in
// one round trip, COMMIT. If the pipeline fails (a race with another
// transaction, say) the batch is redone with a savepoint per command.
func (d *Driver) CommitCommands(ctx context.Context, cmds []*store.CommandWrite) ([]error, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	for _, c := range cmds {
		if c.Append != nil && c.State == nil {
			// Events alone: the pipelined statement writes a state too.
			return store.CommitEach(ctx, d, cmds)
		}
	}
	results, appended, err := d.commitPipelined(ctx, cmds)
	if err != nil {
		if d.closed.Load() {
			return nil, store.ErrClosed
		}
		d.fallbacks.Add(1)
		d.opts.Logger.Debug("postgres: pipelined batch failed; redoing it with savepoints", "commands", len(cmds), "err", err)
		results, err = store.CommitEach(ctx, d, cmds)
		if err != nil {
			return nil, err
		}
		appended = true
	}
	if appended {
		d.announce()
	}
	return results, nil
}

func (d *Driver) commitPipelined(ctx context.Context, cmds []*store.CommandWrite) ([]error, bool, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback(ctx)
	var batch pgx.Batch
	for _, c := range cmds {
		queueCommand(&batch, c)
	}
	br := tx.SendBatch(ctx, &batch)
	results := make([]error, len(cmds))
	appended := false
	for i, c := range cmds {
		if c.Append == nil {
			var one int
			err := br.QueryRow().Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				results[i] = fmt.Errorf("recording idempotency key %q: %w", c.Idempotency.Key, store.ErrDuplicate)
				continue
			}
			if err != nil {
				br.Close()
				return nil, false, err
			}
			continue
		}
		var inserted int64
		var taken bool
		if err := br.QueryRow().Scan(&inserted, &taken); err != nil {
			br.Close()
			return nil, false, err
		}
		switch {
		case inserted > 0:
			appended = true
		case taken:
			results[i] = fmt.Errorf("recording idempotency key %q: %w", c.Idempotency.Key, store.ErrDuplicate)
		default:
			results[i] = fmt.Errorf("appending to stream %q: not at expected version %d: %w",
				c.Append.Stream, c.Append.ExpectedVersion, store.ErrVersionConflict)
		}
	}
	if err := br.Close(); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, err
	}
	return results, appended, nil
}

func queueCommand(b *pgx.Batch, c *store.CommandWrite) {
	var scope, key, hash any
	var status any
	var response []byte
	var idemAt time.Time
	if r := c.Idempotency; r != nil {
		scope, key, hash, status, response, idemAt = r.Scope, r.Key, r.RequestHash, r.Status, r.Response, timeOr(r.CreatedAt)
		if response == nil {
			response = []byte{}
		}
	}
	if c.Append == nil {
		b.Queue(idempotencySQL, scope, key, hash, status, response, idemAt)
		return
	}
	a, s := c.Append, c.State
	n := len(a.Events)
	ids, types, data, meta := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, ev := range a.Events {
		ids[i], types[i], data[i], meta[i] = ev.ID, ev.Type, jsonOr(ev.Data, "{}"), jsonOr(ev.Metadata, "{}")
	}
	b.Queue(commandSQL,
		a.Stream, a.ExpectedVersion, timeOr(a.Now).UTC().Truncate(time.Microsecond), ids, types, data, meta,
		s.Domain, s.Resource, s.ID, jsonOr(s.Data, "{}"), s.Version, s.ETag, s.Tenant, s.By,
		scope, key, timeOr(s.Now), hash, status, response, idemAt, a.Tenant, deletedAt(s, timeOr(s.Now)))
}
