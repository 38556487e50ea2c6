// Package storetest is the conformance suite for store drivers. A driver's
// tests call Exercise with a function that opens a fresh, empty store; every
// driver must pass the same suite unchanged. A behaviour that depends on a
// backend capability checks store.Capabilities and says so in its name.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// Open returns a new, empty, migrated store for one test. It registers the
// store's cleanup with t.
type Open func(t *testing.T) store.Driver

// Exercise runs the conformance suite.
func Exercise(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d store.Driver)
	}{
		{"AppendAssignsVersionsAndPositions", testAppendAssignsVersionsAndPositions},
		{"AppendChecksExpectedVersion", testAppendChecksExpectedVersion},
		{"AppendAnyVersion", testAppendAnyVersion},
		{"AppendIsAllOrNothing", testAppendIsAllOrNothing},
		{"ReadStreamWindows", testReadStreamWindows},
		{"ReadAllInPositionOrder", testReadAllInPositionOrder},
		{"StatePutAndGet", testStatePutAndGet},
		{"StateVersionConflicts", testStateVersionConflicts},
		{"TransactionCommitsTogether", testTransactionCommitsTogether},
		{"TransactionRollsBackTogether", testTransactionRollsBackTogether},
		{"SavepointsUndoOnlyTheirPart", testSavepoints},
		{"CommitCommandsIsolatesFailures", testCommitCommands},
		{"Idempotency", testIdempotency},
		{"ConcurrentAppendsToOneStream", testConcurrentAppendsToOneStream},
		{"WaitForEventsWakesOnAppend", testWaitForEvents},
		{"FeedWaitsForLateCommits (needs ConcurrentWriters)", testFeedWaitsForLateCommits},
		{"ClosedDriver", testClosedDriver},
		{"TenantsAreSeparate", testTenantsAreSeparate},
		{"APIKeys", testAPIKeys},
		{"Policies", testPolicies},
		{"PluginVersions", testPluginVersions},
		{"PluginLifecycle", testPluginLifecycle},
		{"PluginConcurrentUploads", testPluginConcurrentUploads},
		{"PluginStreamsAndEventTypes", testPluginStreamsAndEventTypes},
		{"QueryGolden", testQueryGolden},
		{"EventsLatest", testEventsLatest},
		{"Subscriptions", testSubscriptions},
		{"Media", testMedia},
		{"IdempotencySweep", testIdempotencySweep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

// jsonEqual compares JSON by meaning: backends may normalise documents
// (PostgreSQL's jsonb reorders keys and adds spaces).
func jsonEqual(got []byte, want string) bool {
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(g, w)
}

// readFeedN follows the feed after a cursor until it has delivered n events
// (other transactions of the database may hold it back for a while), and
// fails if it delivers more.
func readFeedN(t *testing.T, d store.Driver, after store.Cursor, n int) ([]*store.Event, store.Cursor) {
	t.Helper()
	var out []*store.Event
	for deadline := time.Now().Add(30 * time.Second); len(out) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the feed delivered %v, want %d events", ids(out), n)
		}
		page, next := readFeed(t, d.Executor(), after)
		out, after = append(out, page...), next
		if len(out) < n {
			if err := d.WaitForEvents(ctx, after); err != nil {
				t.Fatal(err)
			}
		}
	}
	if extra, _ := readFeed(t, d.Executor(), after); len(extra) > 0 {
		t.Fatalf("the feed delivered %v after the expected %v", ids(extra), ids(out))
	}
	return out, after
}

// readFeed reads the feed after a cursor to its current end.
func readFeed(t *testing.T, x store.Executor, after store.Cursor) ([]*store.Event, store.Cursor) {
	t.Helper()
	var out []*store.Event
	for {
		page, err := x.EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out, after
		}
		out = append(out, page...)
		after = page[len(page)-1].Cursor()
	}
}

func newEvents(prefix string, n int) []store.NewEvent {
	out := make([]store.NewEvent, n)
	for i := range out {
		out[i] = store.NewEvent{
			ID:       fmt.Sprintf("%s-%d", prefix, i),
			Type:     "thing-happened",
			Data:     []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Metadata: []byte(`{"by":"test"}`),
		}
	}
	return out
}

func mustAppend(t *testing.T, x store.Executor, stream string, expected int64, evs []store.NewEvent) *store.EventsAppendResult {
	t.Helper()
	res, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: stream}, ExpectedVersion: expected, Events: evs})
	if err != nil {
		t.Fatalf("append to %s at %d: %v", stream, expected, err)
	}
	return res
}

func testAppendAssignsVersionsAndPositions(t *testing.T, d store.Driver) {
	x := d.Executor()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	res, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "a"}, Events: newEvents("a", 3), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || len(res.Events) != 3 {
		t.Fatalf("result %+v", res)
	}
	for i, ev := range res.Events {
		if ev.Version != int64(i+1) || ev.Stream != "a" || ev.ID != fmt.Sprintf("a-%d", i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
		if i > 0 && ev.Position <= res.Events[i-1].Position {
			t.Fatalf("positions not increasing: %d after %d", ev.Position, res.Events[i-1].Position)
		}
		if !ev.CreatedAt.Equal(now) {
			t.Fatalf("created at %v, want %v", ev.CreatedAt, now)
		}
	}
	res2 := mustAppend(t, x, "a", 3, newEvents("a2", 1))
	if res2.Version != 4 || res2.Events[0].Position <= res.Events[2].Position {
		t.Fatalf("second append %+v", res2.Events[0])
	}
	v, err := x.StreamVersion(ctx, store.StreamKey{Stream: "a"})
	if err != nil || v != 4 {
		t.Fatalf("stream version %d %v", v, err)
	}
	if v, err := x.StreamVersion(ctx, store.StreamKey{Stream: "none"}); err != nil || v != 0 {
		t.Fatalf("version of a missing stream %d %v", v, err)
	}
	got, err := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "a"}})
	if err != nil || len(got) != 4 {
		t.Fatalf("read back %d events: %v", len(got), err)
	}
	if !jsonEqual(got[1].Data, `{"n":1}`) || !jsonEqual(got[1].Metadata, `{"by":"test"}`) ||
		got[1].Type != "thing-happened" || got[1].Position != res.Events[1].Position {
		t.Fatalf("stored event differs: %+v", got[1])
	}
}

func testAppendChecksExpectedVersion(t *testing.T, d store.Driver) {
	x := d.Executor()
	mustAppend(t, x, "s", 0, newEvents("s", 2))
	for _, expected := range []int64{0, 1, 3, 10} {
		_, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "s"}, ExpectedVersion: expected, Events: newEvents(fmt.Sprint("x", expected), 1)})
		if !errors.Is(err, store.ErrVersionConflict) {
			t.Fatalf("expected version %d on a stream at 2: got %v, want ErrVersionConflict", expected, err)
		}
	}
	got, _ := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}})
	if len(got) != 2 {
		t.Fatalf("conflicting appends wrote events: %d in stream", len(got))
	}
}

func testAppendAnyVersion(t *testing.T, d store.Driver) {
	x := d.Executor()
	mustAppend(t, x, "s", store.AnyVersion, newEvents("a", 1))
	if res := mustAppend(t, x, "s", store.AnyVersion, newEvents("b", 2)); res.Version != 3 {
		t.Fatalf("version %d", res.Version)
	}
}

func testAppendIsAllOrNothing(t *testing.T, d store.Driver) {
	x := d.Executor()
	mustAppend(t, x, "s", 0, newEvents("dup", 1))
	// The second event reuses an id: the whole append must fail.
	evs := append(newEvents("fresh", 1), newEvents("dup", 1)...)
	_, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "t"}, ExpectedVersion: 0, Events: evs})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("duplicate event id: got %v, want ErrDuplicate", err)
	}
	if v, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "t"}); v != 0 {
		t.Fatalf("half an append was kept: stream at %d", v)
	}
	if _, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "t"}}); err == nil {
		t.Fatal("an append of no events succeeded")
	}
}

func testReadStreamWindows(t *testing.T, d store.Driver) {
	x := d.Executor()
	mustAppend(t, x, "s", 0, newEvents("s", 10))
	mustAppend(t, x, "other", 0, newEvents("o", 3))
	cases := []struct {
		p     store.EventsReadStreamParams
		first int64
		n     int
	}{
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}}, 1, 10},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, AfterVersion: 7}, 8, 3},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, UpToVersion: 4}, 1, 4},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, AfterVersion: 2, UpToVersion: 5}, 3, 3},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, AfterVersion: 2, Limit: 2}, 3, 2},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "missing"}}, 0, 0},
		// Each event's data is 7 bytes: a byte bound stops after the event
		// that reaches it, and never returns less than one event.
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, MaxBytes: 20}, 1, 3},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, MaxBytes: 7}, 1, 1},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, MaxBytes: 1}, 1, 1},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, AfterVersion: 8, MaxBytes: 1}, 9, 1},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, MaxBytes: 1 << 20, Limit: 4}, 1, 4},
		{store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "s"}, MaxBytes: 1 << 20}, 1, 10},
	}
	for _, c := range cases {
		got, err := x.EventsReadStream(ctx, &c.p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.n || (c.n > 0 && got[0].Version != c.first) {
			t.Fatalf("%+v: got %d events", c.p, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Version != got[i-1].Version+1 || got[i].Stream != c.p.Stream {
				t.Fatalf("%+v: out of order or foreign event at %d", c.p, i)
			}
		}
	}
}

func testReadAllInPositionOrder(t *testing.T, d store.Driver) {
	x := d.Executor()
	var want []string
	for i := 0; i < 5; i++ {
		for _, s := range []string{"a", "b"} {
			res := mustAppend(t, x, s, int64(i), newEvents(fmt.Sprintf("%s%d", s, i), 1))
			want = append(want, res.Events[0].ID)
		}
	}
	var got []string
	var after store.Cursor
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		page, err := x.EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d over a limit of 3", len(page))
		}
		for _, ev := range page {
			if c := ev.Cursor(); c.TxID < after.TxID || (c.TxID == after.TxID && c.Position <= after.Position) {
				t.Fatalf("cursor %+v not after %+v", c, after)
			}
			after = ev.Cursor()
			got = append(got, ev.ID)
		}
		if len(page) == 0 {
			// Another transaction of the database may hold the feed back.
			if err := d.WaitForEvents(ctx, after); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read all gave %v, appended %v", got, want)
	}
}

func testStatePutAndGet(t *testing.T, d store.Driver) {
	x := d.Executor()
	k := store.StateKey{Tenant: "acme", Domain: "user", Resource: "user", ID: "u1"}
	if _, err := x.StateGet(ctx, &k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a missing state: %v", err)
	}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	r, err := x.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(`{"v":1}`), Version: 1, ETag: "e1",
		By: "alice", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || r.ETag != "e1" || r.Tenant != "acme" || r.CreatedBy != "alice" || !r.CreatedAt.Equal(t0) {
		t.Fatalf("created %+v", r)
	}
	t1 := t0.Add(time.Hour)
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(`{"v":2}`), Version: 3,
		ExpectedVersion: 1, ETag: "e3", By: "bob", Now: t1}); err != nil {
		t.Fatal(err)
	}
	got, err := x.StateGet(ctx, &k)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got.Data, `{"v":2}`) || got.Version != 3 || got.ETag != "e3" || got.Tenant != "acme" ||
		got.CreatedBy != "alice" || got.UpdatedBy != "bob" || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
		t.Fatalf("updated %+v", got)
	}
	other := store.StateKey{Domain: "user", Resource: "profile", ID: "u1"}
	if _, err := x.StateGet(ctx, &other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state leaked across resources: %v", err)
	}
}

func testStateVersionConflicts(t *testing.T, d store.Driver) {
	x := d.Executor()
	k := store.StateKey{Domain: "d", Resource: "r", ID: "1"}
	put := func(expected, version int64) error {
		_, err := x.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(fmt.Sprintf(`{"v":%d}`, version)),
			Version: version, ExpectedVersion: expected, ETag: fmt.Sprint(version)})
		return err
	}
	if err := put(0, 1); err != nil {
		t.Fatal(err)
	}
	if err := put(0, 1); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("second create: %v", err)
	}
	if err := put(5, 6); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("stale update: %v", err)
	}
	other := store.StateKey{Domain: "d", Resource: "r", ID: "2"}
	if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: other, Version: 2, ExpectedVersion: 1}); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("update of a missing state: %v", err)
	}
	got, _ := x.StateGet(ctx, &k)
	if got.Version != 1 || !jsonEqual(got.Data, `{"v":1}`) {
		t.Fatalf("a refused put changed the state: %+v", got)
	}
}

func testTransactionCommitsTogether(t *testing.T, d store.Driver) {
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	mustAppend(t, tx, "s", 0, newEvents("s", 2))
	k := store.StateKey{Domain: "d", Resource: "r", ID: "s"}
	if _, err := tx.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(`{}`), Version: 2, ETag: "x"}); err != nil {
		t.Fatal(err)
	}
	// Inside the transaction its own writes are visible.
	if v, err := tx.StreamVersion(ctx, store.StreamKey{Stream: "s"}); err != nil || v != 2 {
		t.Fatalf("version inside tx %d %v", v, err)
	}
	if _, err := tx.StateGet(ctx, &k); err != nil {
		t.Fatalf("state inside tx: %v", err)
	}
	if err := tx.IdempotencyPut(ctx, &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{Scope: "sc", Key: "k"}, Status: 201}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	x := d.Executor()
	if v, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "s"}); v != 2 {
		t.Fatalf("committed events missing: version %d", v)
	}
	if _, err := x.StateGet(ctx, &k); err != nil {
		t.Fatalf("committed state missing: %v", err)
	}
	if _, err := x.IdempotencyGet(ctx, &store.IdempotencyKey{Scope: "sc", Key: "k"}); err != nil {
		t.Fatalf("committed idempotency record missing: %v", err)
	}
}

func testTransactionRollsBackTogether(t *testing.T, d store.Driver) {
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, tx, "s", 0, newEvents("s", 1))
	k := store.StateKey{Domain: "d", Resource: "r", ID: "s"}
	if _, err := tx.StatePut(ctx, &store.StatePutParams{StateKey: k, Data: []byte(`{}`), Version: 1, ETag: "x"}); err != nil {
		t.Fatal(err)
	}
	// A failed statement inside the transaction does not end it.
	if _, err := tx.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "s"}, ExpectedVersion: 0, Events: newEvents("z", 1)}); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("conflict inside tx: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	x := d.Executor()
	if v, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "s"}); v != 0 {
		t.Fatalf("rolled back events kept: version %d", v)
	}
	if _, err := x.StateGet(ctx, &k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled back state kept: %v", err)
	}
	// The store still takes writes after a rollback.
	mustAppend(t, x, "s", 0, newEvents("after", 1))
}

func testSavepoints(t *testing.T, d store.Driver) {
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	mustAppend(t, tx, "kept", 0, newEvents("k", 1))
	sp, err := tx.Savepoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, tx, "undone", 0, newEvents("u", 2))
	if err := sp.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	sp2, err := tx.Savepoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, tx, "kept", 1, newEvents("k2", 1))
	if err := sp2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A savepoint after a failed statement still works.
	sp3, _ := tx.Savepoint(ctx)
	if _, err := tx.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "kept"}, ExpectedVersion: 0, Events: newEvents("x", 1)}); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if err := sp3.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	x := d.Executor()
	if v, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "kept"}); v != 2 {
		t.Fatalf("kept stream at %d, want 2", v)
	}
	if v, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "undone"}); v != 0 {
		t.Fatalf("rolled back savepoint kept %d events", v)
	}
}

func testIdempotency(t *testing.T, d store.Driver) {
	x := d.Executor()
	k := store.IdempotencyKey{Scope: "user:alice", Key: "key-1"}
	if _, err := x.IdempotencyGet(ctx, &k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	rec := &store.IdempotencyRecord{IdempotencyKey: k, RequestHash: "h1", Status: 201, Response: []byte(`{"ok":1}`),
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := x.IdempotencyPut(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := x.IdempotencyGet(ctx, &k)
	if err != nil {
		t.Fatal(err)
	}
	// The response is kept byte for byte: a replay must answer exactly.
	if got.RequestHash != "h1" || got.Status != 201 || !bytes.Equal(got.Response, []byte(`{"ok":1}`)) || !got.CreatedAt.Equal(rec.CreatedAt) {
		t.Fatalf("record %+v", got)
	}
	if err := x.IdempotencyPut(ctx, rec); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("reused key: %v", err)
	}
	if _, err := x.IdempotencyGet(ctx, &store.IdempotencyKey{Scope: "user:bob", Key: "key-1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key leaked across scopes: %v", err)
	}
}

// Many goroutines append to one stream, each reading the version and
// appending at it. Exactly the acknowledged appends persist, with no
// duplicate and no missing version.
func testConcurrentAppendsToOneStream(t *testing.T, d store.Driver) {
	const workers, attempts = 64, 8
	x := d.Executor()
	var acked atomic.Int64
	var mu sync.Mutex
	ackedIDs := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := 0; a < attempts; a++ {
				v, err := x.StreamVersion(ctx, store.StreamKey{Stream: "hot"})
				if err != nil {
					t.Error(err)
					return
				}
				id := fmt.Sprintf("w%d-a%d", w, a)
				_, err = x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "hot"}, ExpectedVersion: v,
					Events: []store.NewEvent{{ID: id, Type: "t", Data: []byte(`{}`)}}})
				if errors.Is(err, store.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				acked.Add(1)
				mu.Lock()
				ackedIDs[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got, err := x.EventsReadStream(ctx, &store.EventsReadStreamParams{StreamKey: store.StreamKey{Stream: "hot"}})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != acked.Load() {
		t.Fatalf("%d events stored, %d appends acknowledged", len(got), acked.Load())
	}
	for i, ev := range got {
		if ev.Version != int64(i+1) {
			t.Fatalf("version %d at place %d", ev.Version, i+1)
		}
		if !ackedIDs[ev.ID] {
			t.Fatalf("event %s stored but never acknowledged", ev.ID)
		}
	}
}

func testClosedDriver(t *testing.T, d store.Driver) {
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("begin after close: %v", err)
	}
	if _, err := d.Executor().EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "s"}, Events: newEvents("s", 1)}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := d.Executor().StateGet(ctx, &store.StateKey{Domain: "d", Resource: "r", ID: "1"}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

func testWaitForEvents(t *testing.T, d store.Driver) {
	x := d.Executor()
	mustAppend(t, x, "s", 0, newEvents("s", 1))
	_, cur := readFeedN(t, d, store.Cursor{}, 1)
	woke := make(chan error, 1)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() { woke <- d.WaitForEvents(wctx, cur) }()
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, tx, "s", 1, newEvents("s2", 1))
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Readers loop: wait, read, until the event is there (a wait may end
	// early, at the poll interval).
	for {
		if err := <-woke; err != nil {
			t.Fatalf("waiting: %v", err)
		}
		evs, _ := readFeed(t, x, cur)
		if len(evs) == 1 && evs[0].ID == "s2-0" {
			break
		}
		go func() { woke <- d.WaitForEvents(wctx, cur) }()
	}
	// With events already after the cursor, waiting returns at once.
	if err := d.WaitForEvents(wctx, store.Cursor{}); err != nil {
		t.Fatal(err)
	}
	// A cancelled wait says so.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, end := readFeedN(t, d, store.Cursor{}, 2)
	if err := d.WaitForEvents(cctx, end); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

// Commit order differs from insert order under concurrent writers. Hold
// transaction A open, commit B after it: a reader of the feed must not move
// past A's place, and once A commits it delivers both, in order, once.
func testFeedWaitsForLateCommits(t *testing.T, d store.Driver) {
	if !d.Capabilities().ConcurrentWriters {
		t.Log("single writer: two write transactions cannot be open at once, so commits cannot overtake")
		return
	}
	x := d.Executor()
	mustAppend(t, x, "before", 0, newEvents("before", 1))
	_, cur := readFeedN(t, d, store.Cursor{}, 1)

	// Case 1: A inserts first (lower position), B commits first.
	a, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback(ctx)
	mustAppend(t, a, "a", 0, newEvents("a", 1))
	b, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(ctx)
	mustAppend(t, b, "b", 0, newEvents("b", 1))
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if evs, _ := readFeed(t, x, cur); len(evs) != 0 {
		t.Fatalf("the feed delivered %s while an earlier transaction is still open", evs[0].ID)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	evs, next := readFeedN(t, d, cur, 2)
	if evs[0].ID != "a-0" || evs[1].ID != "b-0" {
		t.Fatalf("after both committed the feed gave %v", ids(evs))
	}
	cur = next

	// Case 2: P takes its transaction id first but inserts last; Q inserts
	// first (lower position) and commits last. The feed must deliver P's
	// event without ever passing Q's, then Q's once Q commits.
	p, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Rollback(ctx)
	if _, err := p.StatePut(ctx, &store.StatePutParams{StateKey: store.StateKey{Domain: "d", Resource: "r", ID: "p"},
		Data: []byte(`{}`), Version: 1, ETag: "e"}); err != nil {
		t.Fatal(err) // any write gives P its transaction id now
	}
	q, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Rollback(ctx)
	qRes := mustAppend(t, q, "q", 0, newEvents("q", 1))
	pRes := mustAppend(t, p, "p", 0, newEvents("p", 1))
	if pRes.Events[0].Position < qRes.Events[0].Position {
		t.Fatal("setup: P's event should have the higher position")
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mid, cur2 := readFeed(t, x, cur)
	if len(mid) > 1 || (len(mid) == 1 && mid[0].ID != "p-0") {
		t.Fatalf("while Q is open the feed gave %v", ids(mid))
	}
	if err := q.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rest, _ := readFeedN(t, d, cur2, 2-len(mid))
	all := append(mid, rest...)
	if len(all) != 2 || fmt.Sprint(ids(all)) != "[p-0 q-0]" {
		t.Fatalf("the feed gave %v, want p-0 then q-0, each once", ids(all))
	}
}

func ids(evs []*store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// command builds the writes of one command creating or extending a stream
// "agg-<id>" and its state.
func command(id string, expected int64, n int, idemKey string) *store.CommandWrite {
	c := &store.CommandWrite{
		Append: &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "agg-" + id}, ExpectedVersion: expected,
			Events: newEvents(fmt.Sprintf("%s-at-%d-%d", id, expected, time.Now().UnixNano()), n)},
		State: &store.StatePutParams{StateKey: store.StateKey{Domain: "d", Resource: "r", ID: id},
			Data: []byte(fmt.Sprintf(`{"v":%d}`, expected+int64(n))), Version: expected + int64(n),
			ExpectedVersion: expected, ETag: fmt.Sprint("e", expected+int64(n)), By: "u"},
	}
	if idemKey != "" {
		c.Idempotency = &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{Scope: "s", Key: idemKey},
			RequestHash: "h", Status: 201, Response: []byte(`{"id":"` + id + `"}`)}
	}
	return c
}

func idemOnly(key string) *store.CommandWrite {
	return &store.CommandWrite{Idempotency: &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{Scope: "s", Key: key},
		RequestHash: "h", Status: 200, Response: []byte(`{}`)}}
}

// A batch in which some commands cannot be written: those are left out with
// their error, the rest commit.
func testCommitCommands(t *testing.T, d store.Driver) {
	if res, err := d.CommitCommands(ctx, []*store.CommandWrite{command("b", 0, 2, ""), idemOnly("taken")}); err != nil || res[0] != nil || res[1] != nil {
		t.Fatalf("setup: %v %v", res, err)
	}
	batch := []*store.CommandWrite{
		command("a", 0, 1, "k-a"),   // 0 ok
		command("b", 1, 1, ""),      // 1 stale version
		command("c", 0, 1, "taken"), // 2 key taken
		command("d", 0, 1, ""),      // 3 ok
		command("d", 0, 2, ""),      // 4 same stream again in the same batch: stale now
		idemOnly("k-only"),          // 5 ok
		idemOnly("taken"),           // 6 key taken
		command("b", 2, 1, ""),      // 7 ok
	}
	res, err := d.CommitCommands(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, store.ErrVersionConflict, store.ErrDuplicate, nil, store.ErrVersionConflict, nil, store.ErrDuplicate, nil}
	for i, w := range want {
		if (w == nil) != (res[i] == nil) || (w != nil && !errors.Is(res[i], w)) {
			t.Errorf("command %d: got %v, want %v", i, res[i], w)
		}
	}
	x := d.Executor()
	for stream, v := range map[string]int64{"agg-a": 1, "agg-b": 3, "agg-c": 0, "agg-d": 1} {
		if got, _ := x.StreamVersion(ctx, store.StreamKey{Stream: stream}); got != v {
			t.Errorf("%s at version %d, want %d", stream, got, v)
		}
	}
	for id, v := range map[string]int64{"a": 1, "b": 3, "d": 1} {
		rec, err := x.StateGet(ctx, &store.StateKey{Domain: "d", Resource: "r", ID: id})
		if err != nil || rec.Version != v || !jsonEqual(rec.Data, fmt.Sprintf(`{"v":%d}`, v)) {
			t.Errorf("state %s: %+v %v", id, rec, err)
		}
	}
	if _, err := x.StateGet(ctx, &store.StateKey{Domain: "d", Resource: "r", ID: "c"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused command c left a state: %v", err)
	}
	for _, k := range []string{"k-a", "k-only"} {
		if _, err := x.IdempotencyGet(ctx, &store.IdempotencyKey{Scope: "s", Key: k}); err != nil {
			t.Errorf("key %s: %v", k, err)
		}
	}
	// A batch of one that fails reports it at its index, not as the batch's.
	res, err = d.CommitCommands(ctx, []*store.CommandWrite{command("a", 0, 1, "")})
	if err != nil || !errors.Is(res[0], store.ErrVersionConflict) {
		t.Fatalf("lone conflicting command: %v %v", res, err)
	}
	// Events alone, with no state, in a batch with a whole command: the
	// events are appended and the state is left as it was.
	alone := command("a", 1, 1, "")
	alone.State = nil
	res, err = d.CommitCommands(ctx, []*store.CommandWrite{alone, command("e", 0, 1, "")})
	if err != nil || res[0] != nil || res[1] != nil {
		t.Fatalf("events alone: %v %v", res, err)
	}
	if got, _ := x.StreamVersion(ctx, store.StreamKey{Stream: "agg-a"}); got != 2 {
		t.Errorf("events alone: agg-a at version %d, want 2", got)
	}
	if rec, err := x.StateGet(ctx, &store.StateKey{Domain: "d", Resource: "r", ID: "a"}); err != nil || rec.Version != 1 {
		t.Errorf("events alone changed the state: %+v %v", rec, err)
	}
}
