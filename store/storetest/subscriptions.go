package storetest

import (
	"errors"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

func subscriptionStore(t *testing.T, d store.Driver) store.SubscriptionStore {
	t.Helper()
	ss, ok := d.(store.SubscriptionStore)
	if !ok {
		t.Fatalf("%s keeps no subscriptions (store.SubscriptionStore)", d.Name())
	}
	return ss
}

func subscriptionNamed(t *testing.T, ss store.SubscriptionStore, name string) *store.Subscription {
	t.Helper()
	list, err := ss.SubscriptionList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no subscription %s in %v", name, list)
	return nil
}

// Subscriptions start at the head of the feed, are run by one lease holder
// at a time, move only under an unexpired lease, and keep their dead
// letters with their cursor.
func testSubscriptions(t *testing.T, d store.Driver) {
	ss := subscriptionStore(t, d)
	x := d.Executor()
	mustAppend(t, x, "d.r/1", 0, newEvents("before", 3))
	before, head := readFeedN(t, d, store.Cursor{}, 3)

	s, err := ss.SubscriptionClaim(ctx, "inv.reserve", "host-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cursor != head || s.Owner != "host-1" || s.Delivered != 0 || !s.LeaseUntil.After(time.Now()) {
		t.Fatalf("a new subscription: %+v, want it at the head %v held by host-1", s, head)
	}
	if _, err := ss.SubscriptionClaim(ctx, "inv.reserve", "host-2", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("a held lease claimed by another: %v", err)
	}
	if s, err = ss.SubscriptionClaim(ctx, "inv.reserve", "host-1", time.Minute); err != nil || s.Cursor != head {
		t.Fatalf("renewing: %+v %v", s, err)
	}

	// Only the holder moves it; a dead letter is written with the move.
	dead := &store.DeadLetter{EventID: before[1].ID, Tenant: "acme", Stream: "d.r/1", Version: 2, Type: "thing-happened",
		Cursor: before[1].Cursor(), Code: "handler-failed", Message: "boom", Attempts: 3}
	if err := ss.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: "inv.reserve", Owner: "host-2", Cursor: before[0].Cursor(),
		Delivered: 1, Dead: []*store.DeadLetter{dead}}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a move by a host without the lease: %v", err)
	}
	if got := subscriptionNamed(t, ss, "inv.reserve"); got.Cursor != head || got.DeadLetters != 0 || got.Delivered != 0 {
		t.Fatalf("a refused move wrote: %+v", got)
	}
	if err := ss.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: "inv.reserve", Owner: "host-1", Cursor: before[1].Cursor(),
		Delivered: 2, Dead: []*store.DeadLetter{dead}}); err != nil {
		t.Fatal(err)
	}
	if dead.ID == 0 {
		t.Fatal("a dead letter got no id")
	}
	// The same event set aside again (a redelivery) is kept once.
	again := *dead
	if err := ss.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: "inv.reserve", Owner: "host-1", Cursor: before[1].Cursor(),
		Dead: []*store.DeadLetter{&again}}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, x, "d.r/2", 0, newEvents("after", 2))
	readFeedN(t, d, head, 2)
	got := subscriptionNamed(t, ss, "inv.reserve")
	if got.Cursor != before[1].Cursor() || got.Delivered != 2 || got.DeadLetters != 1 || got.Lag != 3 {
		t.Fatalf("after a move: %+v, want cursor %v, 2 delivered, 1 dead letter, a lag of 3", got, before[1].Cursor())
	}

	letters, err := ss.DeadLetterList(ctx, "inv.reserve", false, 10)
	if err != nil || len(letters) != 1 {
		t.Fatalf("dead letters: %v %v", letters, err)
	}
	l := letters[0]
	if l.ID != dead.ID || l.EventID != before[1].ID || l.Tenant != "acme" || l.Stream != "d.r/1" || l.Version != 2 ||
		l.Type != "thing-happened" || l.Cursor != before[1].Cursor() || l.Code != "handler-failed" || l.Message != "boom" ||
		l.Attempts != 3 || l.FailedAt.IsZero() || l.Resolution != "" {
		t.Fatalf("the dead letter reads back as %+v", l)
	}
	if err := ss.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: l.ID, Code: "forbidden", Message: "still no"}); err != nil {
		t.Fatal(err)
	}
	if l, err = ss.DeadLetterGet(ctx, l.ID); err != nil || l.Attempts != 4 || l.Code != "forbidden" || l.Message != "still no" {
		t.Fatalf("after a failed retry: %+v %v", l, err)
	}
	if err := ss.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: l.ID, Resolution: store.DeadLetterSkipped, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := ss.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: l.ID, Resolution: store.DeadLetterRetried, By: "ops"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("resolving a resolved letter: %v", err)
	}
	if open, _ := ss.DeadLetterList(ctx, "inv.reserve", false, 10); len(open) != 0 {
		t.Fatalf("a skipped letter is still open: %v", open)
	}
	all, err := ss.DeadLetterList(ctx, "inv.reserve", true, 10)
	if err != nil || len(all) != 1 || all[0].Resolution != store.DeadLetterSkipped || all[0].ResolvedBy != "ops" || all[0].ResolvedAt.IsZero() {
		t.Fatalf("resolved letters: %+v %v", all, err)
	}
	if _, err := ss.DeadLetterGet(ctx, l.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown letter: %v", err)
	}

	// An expired lease passes to another host, and its old holder can no
	// longer move the subscription; a released one passes at once.
	if _, err := ss.SubscriptionClaim(ctx, "inv.notify", "host-1", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if s, err = ss.SubscriptionClaim(ctx, "inv.notify", "host-2", time.Minute); err != nil || s.Owner != "host-2" {
		t.Fatalf("taking an expired lease: %+v %v", s, err)
	}
	if err := ss.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: "inv.notify", Owner: "host-1", Cursor: head}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("a move under an expired lease: %v", err)
	}
	if err := ss.SubscriptionRelease(ctx, "inv.notify", "host-2"); err != nil {
		t.Fatal(err)
	}
	if s, err = ss.SubscriptionClaim(ctx, "inv.notify", "host-1", time.Minute); err != nil || s.Owner != "host-1" {
		t.Fatalf("claiming a released lease: %+v %v", s, err)
	}
	if list, err := ss.SubscriptionList(ctx); err != nil || len(list) != 2 || list[0].Name != "inv.notify" || list[1].Name != "inv.reserve" {
		t.Fatalf("the list: %v %v", list, err)
	}
}
