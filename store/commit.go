package store

import (
	"context"
	"errors"
)

// CommitEach is the portable way to commit a batch of commands: one
// transaction, each command inside a savepoint so that a command that fails
// is undone alone. Drivers call it as their CommitCommands, or as the
// fallback of a faster way.
func CommitEach(ctx context.Context, d Driver, cmds []*CommandWrite) ([]error, error) {
	tx, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	results := make([]error, len(cmds))
	if len(cmds) == 1 {
		// No batch-mates to protect: the transaction is the savepoint.
		if results[0] = WriteCommand(ctx, tx, cmds[0]); results[0] != nil {
			if !isCommandError(results[0]) {
				return nil, results[0]
			}
			return results, tx.Rollback(ctx)
		}
		return results, tx.Commit(ctx)
	}
	for i, c := range cmds {
		sp, err := tx.Savepoint(ctx)
		if err != nil {
			return nil, err
		}
		if results[i] = WriteCommand(ctx, tx, c); results[i] != nil {
			if err := sp.Rollback(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if err := sp.Release(ctx); err != nil {
			return nil, err
		}
	}
	return results, tx.Commit(ctx)
}

// isCommandError says whether err belongs to one command (it is reported
// at its index) rather than to the transaction.
func isCommandError(err error) bool {
	return errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrDuplicate)
}

// WriteCommand writes one command's events, state and idempotency record
// with x's methods.
func WriteCommand(ctx context.Context, x Executor, c *CommandWrite) error {
	if c.Append != nil {
		if _, err := x.EventsAppend(ctx, c.Append); err != nil {
			return err
		}
		if c.State != nil { // events alone leave the state as it is
			if _, err := x.StatePut(ctx, c.State); err != nil {
				return err
			}
		}
	}
	if c.Idempotency != nil {
		return x.IdempotencyPut(ctx, c.Idempotency)
	}
	return nil
}
