package subscribe

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// A handler that fails is tried Attempts times, then set aside with its
// failure while the events after it are delivered; one refused for good
// (a payload its schema refuses) is set aside at once. An operator retries
// a letter once its cause is fixed, or skips it.
func TestFailuresAreRetriedThenDeadLettered(t *testing.T) {
	st := openStore(t, "sqlite")
	h := newHost(t, st, relay)
	r := start(t, h, Options{Attempts: 3})
	ids := map[int64]string{}
	for _, n := range []int64{5, -1, 0, 1000, 7} {
		ids[n] = dispatch(t, h, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: caller("ann", "")}).AggregateID
	}
	eventually(t, "relay.copy caught up", func() bool { return caughtUp(t, r, "relay.copy", 5) })
	// write-note is internal: its handler sends it, clients cannot.
	if _, err := h.Dispatch(ctx, &host.Command{Domain: "relay", Name: "write-note", Resource: "note", New: true,
		Payload: []byte(`{"item":"x","n":1}`), Caller: caller("ann", "")}); err == nil || !strings.Contains(err.Error(), "unknown-command") {
		t.Fatalf("a client sent an internal command: %v", err)
	}
	notes := eventsOfType(t, st, "note-written")
	var noted []float64
	for _, ev := range notes {
		noted = append(noted, dataOf(ev)["n"].(float64))
	}
	sort.Float64s(noted)
	if fmt.Sprint(noted) != "[5 7]" {
		t.Fatalf("notes written for %v, want [5 7]", noted)
	}
	letters, err := r.DeadLetters(ctx, "relay.copy", false, 10)
	if err != nil || len(letters) != 3 {
		t.Fatalf("dead letters: %+v %v", letters, err)
	}
	byItem := map[string]*store.DeadLetter{}
	for _, l := range letters {
		byItem[l.Stream] = l
	}
	failed, refused, unfixed := byItem[host.Stream("relay", "item", ids[-1])], byItem[host.Stream("relay", "item", ids[0])], byItem[host.Stream("relay", "item", ids[1000])]
	if failed == nil || failed.Attempts != 3 || failed.Code != "handler-failed" {
		t.Fatalf("the failing handler's letter: %+v", failed)
	}
	if refused == nil || refused.Attempts != 1 || refused.Code != "invalid-payload" {
		t.Fatalf("the refused command's letter: %+v", refused)
	}
	if unfixed == nil || unfixed.Attempts != 3 {
		t.Fatalf("the unfixed item's letter: %+v", unfixed)
	}
	if s := subscription(t, r, "relay.copy"); s.DeadLetters != 3 || s.Delivered != 5 {
		t.Fatalf("the subscription: %+v", s)
	}

	// Retrying what is still broken fails again and counts the attempt.
	if _, err := r.Retry(ctx, "relay.copy", refused.ID, "ops"); err == nil {
		t.Fatal("a retry of a refused command passed")
	}
	if l, _ := st.(store.SubscriptionStore).DeadLetterGet(ctx, refused.ID); l.Attempts != 2 || l.Resolution != "" {
		t.Fatalf("after a failed retry: %+v", l)
	}
	if err := r.Skip(ctx, "relay.copy", refused.ID, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(ctx, "relay.copy", refused.ID, "ops"); err == nil {
		t.Fatal("a letter was skipped twice")
	}
	// Fixed, the item's letter is retried and delivered.
	dispatch(t, h, &host.Command{Domain: "relay", Name: "fix-item", Resource: "item", AggregateID: ids[1000], Caller: caller("ann", "")})
	done, err := r.Retry(ctx, "relay.copy", unfixed.ID, "ops")
	if err != nil || len(done.Commands) != 1 || done.Commands[0].Name != "write-note" {
		t.Fatalf("retrying a fixed item: %+v %v", done, err)
	}
	if _, err := r.Retry(ctx, "relay.copy", unfixed.ID, "ops"); err == nil {
		t.Fatal("a resolved letter was retried")
	}
	if _, err := r.Retry(ctx, "relay.noop", failed.ID, "ops"); err == nil {
		t.Fatal("a letter was retried under another subscription")
	}
	open, _ := r.DeadLetters(ctx, "relay.copy", false, 10)
	all, _ := r.DeadLetters(ctx, "relay.copy", true, 10)
	if len(open) != 1 || open[0].ID != failed.ID || len(all) != 3 {
		t.Fatalf("open %+v, all %+v", open, all)
	}
	if got := len(eventsOfType(t, st, "note-written")); got != 3 {
		t.Fatalf("%d notes after the retry, want 3", got)
	}
}

// A host that dies between handling events and checkpointing them hands
// them over again: the same events delivered twice issue nothing new.
func TestRedeliveryIssuesNothingTwice(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			st := openStore(t, driver)
			h := newHost(t, st, relay)
			subs := st.(store.SubscriptionStore)
			// The subscriptions start at the head: claim them before the
			// items exist, and remember where they were.
			start0, err := subs.SubscriptionClaim(ctx, "relay.copy", "setup", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			subs.SubscriptionRelease(ctx, "relay.copy", "setup")
			const items = 40
			for n := 1; n <= items; n++ {
				dispatch(t, h, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
					Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: caller("ann", "")})
			}
			r := start(t, h, Options{Batch: 7})
			eventually(t, "all copied", func() bool { return caughtUp(t, r, "relay.copy", items) })
			first := noteIDs(t, st)
			if len(first) != items {
				t.Fatalf("%d notes for %d items", len(first), items)
			}
			// Dies without a word, its checkpoint back where it started:
			// what a kill between handling and checkpointing leaves.
			r.abandon.Store(true)
			r.Close()
			rewind(t, subs, "relay.copy", start0.Cursor)
			r2 := start(t, h, Options{Batch: 7, Lease: time.Second})
			eventually(t, "redelivered", func() bool { return caughtUp(t, r2, "relay.copy", 2*items) })
			again := noteIDs(t, st)
			if fmt.Sprint(again) != fmt.Sprint(first) {
				t.Fatalf("redelivery changed the notes:\n%v\n%v", first, again)
			}
			if s := subscription(t, r2, "relay.copy"); s.DeadLetters != 0 {
				t.Fatalf("redelivery set %d events aside", s.DeadLetters)
			}
		})
	}
}

// noteIDs lists the note aggregates written, each checked to have one event.
func noteIDs(t testing.TB, st store.Driver) []string {
	t.Helper()
	seen := map[string]int{}
	for _, ev := range eventsOfType(t, st, "note-written") {
		seen[streamID(ev)]++
	}
	var out []string
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("note %s has %d events", id, n)
		}
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// rewind takes a subscription over (once its lease runs out) and moves its
// cursor back.
func rewind(t testing.TB, subs store.SubscriptionStore, name string, to store.Cursor) {
	t.Helper()
	eventually(t, "the dead host's lease runs out", func() bool {
		_, err := subs.SubscriptionClaim(ctx, name, "rewinder", time.Minute)
		return err == nil
	})
	if err := subs.SubscriptionAdvance(ctx, &store.SubscriptionAdvance{Name: name, Owner: "rewinder", Cursor: to}); err != nil {
		t.Fatal(err)
	}
	if err := subs.SubscriptionRelease(ctx, name, "rewinder"); err != nil {
		t.Fatal(err)
	}
}

// Two hosts on one PostgreSQL: each subscription runs on exactly one; when
// that host dies, the other takes it over once its lease runs out, and
// carries on from its checkpoint.
func TestOneHostPerSubscription(t *testing.T) {
	url := pgtest.URL(t)
	st1, st2 := openPostgres(t, url), openPostgres(t, url)
	h1, h2 := newHost(t, st1, relay), newHost(t, st2, relay)
	const lease = time.Second
	r1 := start(t, h1, Options{Owner: "host-1", Lease: lease})
	r2, err := New(h2, Options{Owner: "host-2", Lease: lease, Rescan: 50 * time.Millisecond, Backoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r2.Start(ctx)
	t.Cleanup(r2.Close)
	// Host 1 came first and holds both; host 2 waits.
	time.Sleep(200 * time.Millisecond)
	if len(r1.Running()) != 2 || len(r2.Running()) != 0 {
		t.Fatalf("host 1 runs %v, host 2 %v", r1.Running(), r2.Running())
	}
	for range 20 {
		a, b := r1.Running(), r2.Running()
		for name := range a {
			if b[name] {
				t.Fatalf("%s runs on both hosts", name)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for n := 1; n <= 10; n++ {
		dispatch(t, h1, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: caller("ann", "")})
	}
	eventually(t, "ten copied", func() bool { return caughtUp(t, r1, "relay.copy", 10) })
	// The host running relay.copy dies; the other takes it over.
	dying, survivor := r1, r2
	died := time.Now()
	dying.abandon.Store(true)
	dying.Close()
	eventually(t, "the survivor takes relay.copy over", func() bool { return survivor.Running()["relay.copy"] })
	took := time.Since(died)
	t.Logf("taken over %s after the host died (lease %s)", took.Round(time.Millisecond), lease)
	for n := 11; n <= 20; n++ {
		dispatch(t, h2, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: caller("ann", "")})
	}
	eventually(t, "twenty copied", func() bool { return caughtUp(t, survivor, "relay.copy", 20) })
	if got := len(noteIDs(t, st1)); got != 20 {
		t.Fatalf("%d notes for 20 items", got)
	}
}
