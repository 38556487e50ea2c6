package postgres

import (
	"context"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

var _ store.IdempotencySweeper = (*Driver)(nil)

// IdempotencySweep implements store.IdempotencySweeper: one bounded
// statement, the oldest first, skipping rows another sweep holds.
func (d *Driver) IdempotencySweep(ctx context.Context, before time.Time, limit int) (int, error) {
	if d.closed.Load() {
		return 0, store.ErrClosed
	}
	tag, err := d.pool.Exec(ctx, `DELETE FROM idempotency WHERE ctid IN
		(SELECT ctid FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("sweeping idempotency records: %w", translate(err))
	}
	return int(tag.RowsAffected()), nil
}

// IdempotencyCount implements store.IdempotencySweeper.
func (d *Driver) IdempotencyCount(ctx context.Context) (int64, error) {
	if d.closed.Load() {
		return 0, store.ErrClosed
	}
	var n int64
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM idempotency`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting idempotency records: %w", translate(err))
	}
	return n, nil
}
