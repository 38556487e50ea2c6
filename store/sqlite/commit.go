package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"fluvius.dev/fluvius/store"
)

// commandStmts are the statements a group commit runs for every command,
// prepared once on the writer connection: modernc's SQLite otherwise parses
// and plans each statement's text again on every execution, which cost more
// than the write itself.
type commandStmts struct {
	insertEvent, insertState, updateState, insertIdem *sql.Stmt
	savepoint, release, rollbackTo                    *sql.Stmt
}

func (d *Driver) prepareCommandStmts(ctx context.Context) error {
	var err error
	prep := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = d.writer.PrepareContext(ctx, query)
		return s
	}
	d.stmts = &commandStmts{
		insertEvent: prep(`INSERT INTO events (id, tenant, stream, version, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		insertState: prep(`INSERT INTO states (` + stateColumns + `, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		updateState: prep(`UPDATE states SET data = ?, version = ?, etag = ?, updated_at = ?, updated_by = ?, deleted_at = ?
			WHERE tenant = ? AND domain = ? AND resource = ? AND id = ? AND version = ?`),
		insertIdem: prep(`INSERT INTO idempotency (scope, key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		savepoint:  prep(`SAVEPOINT command`),
		release:    prep(`RELEASE command`),
		rollbackTo: prep(`ROLLBACK TO command`),
	}
	if err != nil {
		return fmt.Errorf("preparing the command statements: %w", err)
	}
	return nil
}

// CommitCommands implements store.Driver: one transaction, each command
// under a savepoint (in-process SQLite savepoints cost microseconds), with
// the prepared statements. A command with a state record needs no read of
// its stream's version: the state's version is the stream's, the update
// is conditional on it, and the unique (tenant, stream, version) key refuses an
// event that another writer placed first.
func (d *Driver) CommitCommands(ctx context.Context, cmds []*store.CommandWrite) ([]error, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	for _, c := range cmds {
		if d.stmts == nil || (c.Append != nil && c.State == nil) {
			// Opened without migrating, or events alone: the portable way
			// reads the stream's version.
			return store.CommitEach(ctx, d, cmds)
		}
	}
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", translate(err))
	}
	defer tx.Rollback()
	w := commandTx{ctx: ctx, tx: tx, s: d.stmts}
	results := make([]error, len(cmds))
	appended := false
	for i, c := range cmds {
		if len(cmds) > 1 {
			if err := w.exec(&w.savepoint, d.stmts.savepoint); err != nil {
				return nil, err
			}
		}
		results[i] = w.write(c)
		if results[i] != nil && !errors.Is(results[i], store.ErrVersionConflict) && !errors.Is(results[i], store.ErrDuplicate) {
			return nil, results[i]
		}
		if len(cmds) == 1 {
			break
		}
		if results[i] != nil {
			if err := w.exec(&w.rollbackTo, d.stmts.rollbackTo); err != nil {
				return nil, err
			}
		}
		if err := w.exec(&w.release, d.stmts.release); err != nil {
			return nil, err
		}
		if results[i] == nil && c.Append != nil {
			appended = true
		}
	}
	if len(cmds) == 1 {
		if results[0] != nil {
			return results, nil // the deferred rollback undoes it
		}
		appended = cmds[0].Append != nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", translate(err))
	}
	if appended {
		d.appended.Broadcast()
	}
	return results, nil
}

// commandTx binds the prepared statements to one transaction, each once.
type commandTx struct {
	ctx                                               context.Context
	tx                                                *sql.Tx
	s                                                 *commandStmts
	insertEvent, insertState, updateState, insertIdem *sql.Stmt
	savepoint, release, rollbackTo                    *sql.Stmt
}

func (w *commandTx) stmt(bound **sql.Stmt, prepared *sql.Stmt) *sql.Stmt {
	if *bound == nil {
		*bound = w.tx.StmtContext(w.ctx, prepared)
	}
	return *bound
}

func (w *commandTx) exec(bound **sql.Stmt, prepared *sql.Stmt, args ...any) error {
	_, err := w.stmt(bound, prepared).ExecContext(w.ctx, args...)
	return translate(err)
}

func (w *commandTx) write(c *store.CommandWrite) error {
	if a := c.Append; a != nil {
		now := nanos(a.Now)
		for i, ev := range a.Events {
			err := w.exec(&w.insertEvent, w.s.insertEvent, ev.ID, a.Tenant, a.Stream, a.ExpectedVersion+int64(i)+1, ev.Type,
				jsonOr(ev.Data, "{}"), jsonOr(ev.Metadata, "{}"), now)
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("appending to stream %q: version %d is taken: %w", a.Stream, a.ExpectedVersion+int64(i)+1, store.ErrVersionConflict)
			}
			if err != nil {
				return fmt.Errorf("appending to stream %q: %w", a.Stream, err)
			}
		}
		p := c.State
		what := func() string { return fmt.Sprintf("writing state %s.%s/%s", p.Domain, p.Resource, p.ID) }
		snow := nanos(p.Now)
		if p.ExpectedVersion == 0 {
			err := w.exec(&w.insertState, w.s.insertState, p.Tenant, p.Domain, p.Resource, p.ID, jsonOr(p.Data, "{}"), p.Version, p.ETag,
				snow, p.By, snow, p.By, deletedAt(p))
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("%s: it already exists: %w", what(), store.ErrVersionConflict)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what(), err)
			}
		} else {
			res, err := w.stmt(&w.updateState, w.s.updateState).ExecContext(w.ctx, jsonOr(p.Data, "{}"), p.Version, p.ETag, snow, p.By,
				deletedAt(p), p.Tenant, p.Domain, p.Resource, p.ID, p.ExpectedVersion)
			if err != nil {
				return fmt.Errorf("%s: %w", what(), translate(err))
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("%s: not at version %d: %w", what(), p.ExpectedVersion, store.ErrVersionConflict)
			}
		}
	}
	if r := c.Idempotency; r != nil {
		resp := r.Response
		if resp == nil {
			resp = []byte{}
		}
		if err := w.exec(&w.insertIdem, w.s.insertIdem, r.Scope, r.Key, r.RequestHash, r.Status, resp, nanos(r.CreatedAt)); err != nil {
			return fmt.Errorf("recording idempotency key %q: %w", r.Key, err)
		}
	}
	return nil
}
