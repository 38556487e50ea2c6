package host

import (
	"context"
	"errors"
	"fmt"

	"fluvius.dev/fluvius/store"
)

// MaxBatch bounds the commands of one batch.
const MaxBatch = 100

// stage collects what the commands of an atomic batch write, to write it
// in one transaction once every command is decided.
type stage struct {
	writes []*store.CommandWrite
	states map[string]*store.StateRecord // by aggregate key: what earlier commands made
	keys   []string
	after  []func()
}

type stageKey struct{}

func stageOf(ctx context.Context) *stage {
	st, _ := ctx.Value(stageKey{}).(*stage)
	return st
}

// note records an aggregate's state as a batch command left it, and what to
// do once the batch commits.
func (st *stage) note(key string, rec *store.StateRecord, after func()) {
	if _, ok := st.states[key]; !ok {
		st.keys = append(st.keys, key)
	}
	st.states[key] = rec
	st.after = append(st.after, after)
}

// DispatchAtomic runs commands in order and commits them together, all or
// nothing: each is decided on the state the ones before it left (an
// aggregate may be addressed twice), and their events, states and
// idempotency records are written in one transaction. When one is refused,
// or the write fails, nothing is written: the error is returned with the
// index of the command at fault (-1 for the write).
func (h *Host) DispatchAtomic(ctx context.Context, cmds []*Command) ([]*CommandResult, int, error) {
	if len(cmds) > MaxBatch {
		return nil, -1, errorf(KindTooLarge, "batch-too-large", "a batch holds at most %d commands, not %d", MaxBatch, len(cmds))
	}
	st := &stage{states: map[string]*store.StateRecord{}}
	sctx := context.WithValue(ctx, stageKey{}, st)
	results := make([]*CommandResult, len(cmds))
	fail := func(i int, err error) ([]*CommandResult, int, error) {
		// Decided but not written: the state cache must forget them.
		for _, k := range st.keys {
			h.states.drop(k)
		}
		return nil, i, err
	}
	for i, cmd := range cmds {
		res, err := h.Dispatch(sctx, cmd)
		if err != nil {
			return fail(i, err)
		}
		results[i] = res
	}
	if len(st.writes) > 0 {
		if err := h.writeTogether(ctx, st.writes); err != nil {
			if errors.Is(err, store.ErrVersionConflict) || errors.Is(err, store.ErrDuplicate) {
				return fail(-1, &Error{Kind: KindConflict, Code: "batch-conflict",
					Message: "an aggregate of the batch changed (or an idempotency key was used) while the batch was decided; nothing was written: retry", Err: err})
			}
			return fail(-1, &Error{Kind: KindUnavailable, Code: "store-unavailable", Message: "the batch could not be written; nothing was: " + err.Error(), Err: err})
		}
	}
	for _, f := range st.after {
		f()
	}
	return results, 0, nil
}

// writeTogether writes commands' events, states and idempotency records in
// one transaction.
func (h *Host) writeTogether(ctx context.Context, writes []*store.CommandWrite) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CommitTimeout)
	defer cancel()
	tx, err := h.cfg.Store.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for i, w := range writes {
		if w.Append != nil {
			if _, err := tx.EventsAppend(ctx, w.Append); err != nil {
				return fmt.Errorf("command %d: %w", i, err)
			}
			if _, err := tx.StatePut(ctx, w.State); err != nil {
				return fmt.Errorf("command %d: %w", i, err)
			}
		}
		if w.Idempotency != nil {
			if err := tx.IdempotencyPut(ctx, w.Idempotency); err != nil {
				return fmt.Errorf("command %d: %w", i, err)
			}
		}
	}
	return tx.Commit(ctx)
}
