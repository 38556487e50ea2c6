package host

import (
	"context"
	"time"

	"fluvius.dev/fluvius/store"
)

// SweepIdempotency deletes the idempotency records older than ttl, a
// thousand at a time so no sweep holds the store long, and returns how many
// went. A retried command whose record has gone runs again: ttl is how long
// a client may retry with the same key (and how long an event handler's
// redelivery is recognised by its key; a create is still caught by its
// derived id).
func (h *Host) SweepIdempotency(ctx context.Context, ttl time.Duration) (int, error) {
	sw, ok := h.cfg.Store.(store.IdempotencySweeper)
	if !ok || ttl <= 0 {
		return 0, nil
	}
	before := h.cfg.Now().Add(-ttl)
	total := 0
	for ctx.Err() == nil {
		n, err := sw.IdempotencySweep(ctx, before, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
	return total, ctx.Err()
}
