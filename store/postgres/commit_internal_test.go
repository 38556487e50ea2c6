package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// The pipelined way must carry a batch with conflicts and taken keys by
// itself: falling back to savepoints there would hide a broken statement.
func TestPipelinedBatchNeedsNoFallback(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cmd := func(stream string, expected int64, key string) *store.CommandWrite {
		c := &store.CommandWrite{
			Append: &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: stream}, ExpectedVersion: expected,
				Events: []store.NewEvent{{ID: fmt.Sprint(stream, expected, key), Type: "t", Data: []byte(`{}`)}}},
			State: &store.StatePutParams{StateKey: store.StateKey{Domain: "d", Resource: "r", ID: stream},
				Data: []byte(`{}`), Version: expected + 1, ExpectedVersion: expected, ETag: "e"},
		}
		if key != "" {
			c.Idempotency = &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{Scope: "s", Key: key}, Status: 201}
		}
		return c
	}
	res, err := d.CommitCommands(ctx, []*store.CommandWrite{
		cmd("x", 0, "k1"), cmd("x", 0, ""), cmd("y", 0, "k1"), cmd("z", 0, ""), cmd("z", 1, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != nil || !errors.Is(res[1], store.ErrVersionConflict) || !errors.Is(res[2], store.ErrDuplicate) ||
		res[3] != nil || res[4] != nil {
		t.Fatalf("results %v", res)
	}
	if n := d.fallbacks.Load(); n != 0 {
		t.Fatalf("%d batches fell back to savepoints", n)
	}
}
