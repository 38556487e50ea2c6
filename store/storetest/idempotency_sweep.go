package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// Idempotency records expire: a sweep deletes those made before a time,
// oldest first and at most a limit at a time, and leaves the rest.
func testIdempotencySweep(t *testing.T, d store.Driver) {
	sw, ok := d.(store.IdempotencySweeper)
	if !ok {
		t.Fatalf("%s sweeps no idempotency records (store.IdempotencySweeper)", d.Name())
	}
	x := d.Executor()
	base := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	for i := range 5 {
		if err := x.IdempotencyPut(ctx, &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{Scope: "s", Key: fmt.Sprint("k", i)},
			RequestHash: "h", Status: 201, Response: []byte(`{}`), CreatedAt: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sw.IdempotencyCount(ctx); err != nil || n != 5 {
		t.Fatalf("count: %d %v", n, err)
	}
	// Made before base+3m: k0, k1, k2; two at a time.
	cut := base.Add(3 * time.Minute)
	if n, err := sw.IdempotencySweep(ctx, cut, 2); err != nil || n != 2 {
		t.Fatalf("first sweep: %d %v", n, err)
	}
	if n, err := sw.IdempotencySweep(ctx, cut, 2); err != nil || n != 1 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
	if n, err := sw.IdempotencySweep(ctx, cut, 2); err != nil || n != 0 {
		t.Fatalf("a third sweep: %d %v", n, err)
	}
	for i, want := range []bool{false, false, false, true, true} {
		_, err := x.IdempotencyGet(ctx, &store.IdempotencyKey{Scope: "s", Key: fmt.Sprint("k", i)})
		if got := err == nil; got != want || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Fatalf("k%d kept %v, want %v (%v)", i, got, want, err)
		}
	}
	if n, _ := sw.IdempotencyCount(ctx); n != 2 {
		t.Fatalf("count after the sweep: %d", n)
	}
}
