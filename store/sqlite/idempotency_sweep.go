package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

var _ store.IdempotencySweeper = (*Driver)(nil)

// IdempotencySweep implements store.IdempotencySweeper.
func (d *Driver) IdempotencySweep(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := d.pluginTx(ctx, "sweeping idempotency records", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency WHERE (scope, key) IN
			(SELECT scope, key FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?)`, nanos(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// IdempotencyCount implements store.IdempotencySweeper.
func (d *Driver) IdempotencyCount(ctx context.Context) (int64, error) {
	var n int64
	if err := d.reader.QueryRowContext(ctx, `SELECT count(*) FROM idempotency`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting idempotency records: %w", translate(err))
	}
	return n, nil
}
