package live_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/live"
	"fluvius.dev/fluvius/store"
)

var (
	acme   = abi.Caller{UserID: "ann", Tenant: "acme"}
	globex = abi.Caller{UserID: "bob", Tenant: "globex"}
)

func subscribe(t testing.TB, h *live.Hub, p *live.SubscribeParams) *live.Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A subscriber gets the events of its tenant its filter passes, in feed
// order, and nothing else: not another tenant's, not another aggregate's,
// not another type's.
func TestFollowFiltered(t *testing.T) { onDrivers(t, testFollowFiltered) }

func testFollowFiltered(t *testing.T, st store.Driver) {
	h := live.NewHub(st, nil, live.Options{})
	defer h.Close()
	appendEvents(t, st, "acme", "shop.order/o0", "placed", 3, 10) // before anyone listens: not sent
	all := subscribe(t, h, &live.SubscribeParams{Caller: acme})
	orders := subscribe(t, h, &live.SubscribeParams{Caller: acme, Filter: live.Filter{Domain: "shop", Resource: "order"}})
	one := subscribe(t, h, &live.SubscribeParams{Caller: acme, Filter: live.Filter{Domain: "shop", Resource: "order", ID: "o1"}})
	shipped := subscribe(t, h, &live.SubscribeParams{Caller: acme, Filter: live.Filter{Domain: "shop", Types: []string{"shipped"}}})
	theirs := subscribe(t, h, &live.SubscribeParams{Caller: globex})

	var mine []*store.Event
	mine = append(mine, appendEvents(t, st, "acme", "shop.order/o1", "placed", 1, 10)...)
	appendEvents(t, st, "globex", "shop.order/o1", "placed", 1, 10)
	mine = append(mine, appendEvents(t, st, "acme", "shop.cart/c1", "filled", 1, 10)...)
	mine = append(mine, appendEvents(t, st, "acme", "shop.order/o2", "shipped", 1, 10)...)
	mine = append(mine, appendEvents(t, st, "acme", "shop.order/o1", "shipped", 1, 10)...)
	mine = append(mine, appendEvents(t, st, "acme", "bank.account/a1", "opened", 1, 10)...)
	globexLast := appendEvents(t, st, "globex", "bank.account/a1", "opened", 1, 10)[0]

	want := map[*live.Subscription][]*store.Event{
		all:     mine,
		orders:  {mine[0], mine[2], mine[3]},
		one:     {mine[0], mine[3]},
		shipped: {mine[2], mine[3]},
	}
	for s, evs := range want {
		for i, w := range evs {
			if got := next(t, s, 10*time.Second); got.ID != w.ID || got.Domain+"."+got.Resource+"/"+got.AggregateID != w.Stream {
				t.Fatalf("event %d: %s %s, want %s %s", i, got.ID, got.Stream, w.ID, w.Stream)
			}
		}
	}
	// globex's subscriber sees its first event after acme's ones and its
	// last one: nothing of acme's came before.
	if got := next(t, theirs, 10*time.Second); got.Tenant != "globex" || got.Stream != "shop.order/o1" {
		t.Fatalf("globex got %s %s", got.Tenant, got.Stream)
	}
	if got := next(t, theirs, 10*time.Second); got.ID != globexLast.ID {
		t.Fatalf("globex got %s %s", got.Tenant, got.Stream)
	}
	// Nothing more is waiting: a last event of acme's comes next for all.
	last := appendEvents(t, st, "acme", "shop.order/o1", "shipped", 1, 10)[0]
	for _, s := range []*live.Subscription{all, orders, one, shipped} {
		if got := next(t, s, 10*time.Second); got.ID != last.ID {
			t.Fatalf("after its events a subscriber got %s %s %s", got.ID, got.Stream, got.Type)
		}
	}
}

// Subscribers resuming from a cursor while events keep coming get exactly
// the feed after it, each event once, in order: the catch-up (in small
// batches) hands over to the fan out without a gap or a duplicate.
func TestResumeWhileWriting(t *testing.T) { onDrivers(t, testResumeWhileWriting) }

func testResumeWhileWriting(t *testing.T, st store.Driver) {
	h := live.NewHub(st, nil, live.Options{Batch: 7})
	defer h.Close()
	// The hub follows already: its reader is ahead of the catching-up subscribers.
	subscribe(t, h, &live.SubscribeParams{Caller: acme})
	first := appendEvents(t, st, "acme", "shop.order/o1", "placed", 1, 10)[0]
	const writers, each = 4, 40
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tenant := "acme"
				if i%3 == 0 {
					tenant = "globex"
				}
				appendEvents(t, st, tenant, fmt.Sprintf("shop.order/w%d", w), "placed", 1+i%2, 10)
				written.Add(1)
			}
		}()
	}
	// Subscribers start at different moments of the writing, each from
	// the first event.
	var subs []*live.Subscription
	for len(subs) < 5 {
		if written.Load() >= int64(len(subs)*writers*each/6) {
			after := first.Cursor()
			subs = append(subs, subscribe(t, h, &live.SubscribeParams{Caller: acme, After: &after}))
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	end := appendEvents(t, st, "acme", "shop.order/end", "ended", 1, 10)[0]
	var want []string
	for _, e := range feedAfter(t, st, first.Cursor()) {
		if e.Tenant == "acme" {
			want = append(want, e.ID)
		}
		if e.ID == end.ID {
			break
		}
	}
	if len(want) < writers*each/2 {
		t.Fatalf("the feed has %d of acme's events", len(want))
	}
	for i, s := range subs {
		for j, id := range want {
			if got := next(t, s, 10*time.Second); got.ID != id {
				t.Fatalf("subscriber %d, event %d: got %s, want %s", i, j, got.ID, id)
			}
		}
	}
	// Caught up, each joins the fan out (where nothing waits for it), and
	// the next event comes from there, once.
	for i, s := range subs {
		ready := make(chan time.Time, 1)
		ready <- time.Now()
		if ev, err := s.Next(ready); ev != nil || err != nil {
			t.Fatalf("subscriber %d after its events: %v %v", i, ev, err)
		}
	}
	if st := h.Stats(); st.Following != len(subs)+1 {
		t.Fatalf("stats %+v: every subscriber should follow the fan out now", st)
	}
	last := appendEvents(t, st, "acme", "shop.order/end", "ended", 1, 10)[0]
	for i, s := range subs {
		if got := next(t, s, 10*time.Second); got.ID != last.ID {
			t.Fatalf("subscriber %d after the catch-up: got %s, want %s", i, got.ID, last.ID)
		}
	}
}

// A subscriber that does not read is dropped when its buffer fills, with
// ErrSlowConsumer; the reader never waits for it, the others get every
// event, and the memory held does not grow with what is written.
func TestSlowConsumerDropped(t *testing.T) { onDrivers(t, testSlowConsumerDropped) }

func testSlowConsumerDropped(t *testing.T, st store.Driver) {
	h := live.NewHub(st, nil, live.Options{Buffer: 64, Batch: 16})
	defer h.Close()
	fast := subscribe(t, h, &live.SubscribeParams{Caller: acme})
	var slow []*live.Subscription
	for range 10 {
		slow = append(slow, subscribe(t, h, &live.SubscribeParams{Caller: acme}))
	}
	var got atomic.Int64
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := fast.Next(nil)
			if err != nil {
				done <- err
				return
			}
			if ev.Type == "end" {
				done <- nil
				return
			}
			got.Add(1)
		}
	}()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const batches, per, size = 250, 8, 4 << 10 // 8 MB of event data
	for i := range batches {
		appendEvents(t, st, "acme", "shop.order/big", "placed", per, size)
		// Paced to the fast subscriber (a busy machine may not run it for
		// a while): only the ones that never read fall behind.
		for deadline := time.Now().Add(30 * time.Second); got.Load() < int64((i+1)*per-32) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	appendEvents(t, st, "acme", "shop.order/big", "end", 1, 10)
	if err := <-done; err != nil {
		t.Fatalf("the fast subscriber: %v", err)
	}
	if got.Load() != batches*per {
		t.Fatalf("the fast subscriber got %d events of %d", got.Load(), batches*per)
	}
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew %d bytes while %d bytes of events were fanned out to 11 subscribers", grown, batches*per*size)
	if grown > 4<<20 {
		t.Fatalf("heap grew %d bytes: slow subscribers hold what is written", grown)
	}
	for i, s := range slow {
		if _, err := s.Next(nil); !errors.Is(err, live.ErrSlowConsumer) {
			t.Fatalf("slow subscriber %d: %v", i, err)
		}
	}
	if st := h.Stats(); st.Dropped != uint64(len(slow)) || st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Reads are decided per subscriber through Access: refused aggregates'
// events are not sent; a decision on a resource is kept for a while; one
// resting on roles holds for the versions it saw and is asked again for a
// later one; a failure to decide ends the subscription.
func TestAccess(t *testing.T) { onDrivers(t, testAccess) }

func testAccess(t *testing.T, st store.Driver) {
	var mu sync.Mutex
	asked := map[string]int{}
	fail := false
	access := func(_ context.Context, caller abi.Caller, domain, resource, id string) (live.Grant, error) {
		mu.Lock()
		defer mu.Unlock()
		asked[domain+"."+resource+"/"+id]++
		switch {
		case fail:
			return live.Grant{}, errors.New("the store is down")
		case domain == "vault":
			return live.Grant{Allowed: false}, nil
		case domain == "locker":
			// ann owns locker l1 up to its version 2, then hands it over.
			v, _ := st.Executor().StreamVersion(context.Background(), store.StreamKey{Tenant: caller.Tenant, Stream: "locker.box/" + id})
			return live.Grant{Allowed: id == "l1" && v <= 2, ByRoles: true, Version: v}, nil
		}
		return live.Grant{Allowed: true}, nil
	}
	h := live.NewHub(st, access, live.Options{GrantTTL: time.Hour})
	defer h.Close()
	s := subscribe(t, h, &live.SubscribeParams{Caller: acme})
	appendEvents(t, st, "acme", "vault.safe/v1", "opened", 2, 10)
	open := appendEvents(t, st, "acme", "shop.order/o1", "placed", 3, 10)
	locker := appendEvents(t, st, "acme", "locker.box/l1", "used", 2, 10)
	appendEvents(t, st, "acme", "locker.box/l2", "used", 1, 10)
	mark := appendEvents(t, st, "acme", "shop.order/o2", "placed", 1, 10)
	want := append(append(append([]*store.Event{}, open...), locker...), mark...)
	for i, w := range want {
		if got := next(t, s, 10*time.Second); got.ID != w.ID {
			t.Fatalf("event %d: got %s %s v%d, want %s %s", i, got.Stream, got.Type, got.Version, w.Stream, w.Type)
		}
	}
	// l1 is handed over at version 3: the decision kept for versions up
	// to 2 does not answer for it.
	appendEvents(t, st, "acme", "locker.box/l1", "handed-over", 1, 10)
	mark = appendEvents(t, st, "acme", "shop.order/o3", "placed", 1, 10)
	if got := next(t, s, 10*time.Second); got.ID != mark[0].ID {
		t.Fatalf("after the hand-over: got %s %s v%d", got.Stream, got.Type, got.Version)
	}
	mu.Lock()
	// One question per resource, and per locker and state version.
	if asked["vault.safe/v1"] != 1 || asked["shop.order/o1"] != 1 || len(asked) != 4 ||
		asked["locker.box/l1"] != 2 || asked["locker.box/l2"] != 1 {
		t.Errorf("asked %v", asked)
	}
	fail = true
	mu.Unlock()
	appendEvents(t, st, "acme", "locker.box/l1", "used", 1, 10)
	if _, err := s.Next(nil); err == nil || errors.Is(err, live.ErrClosed) {
		t.Fatalf("a failure to decide ended the subscription with %v", err)
	}
}

// The hub holds at most MaxSubscribers; Close ends every subscription with
// ErrClosed, refuses new ones and stops its reader (TestMain checks no
// goroutine is left).
func TestLimitsAndClose(t *testing.T) { onDrivers(t, testLimitsAndClose) }

func testLimitsAndClose(t *testing.T, st store.Driver) {
	h := live.NewHub(st, nil, live.Options{MaxSubscribers: 2})
	a := subscribe(t, h, &live.SubscribeParams{Caller: acme})
	from := store.Cursor{}
	b := subscribe(t, h, &live.SubscribeParams{Caller: acme, After: &from}) // catching up
	if _, err := h.Subscribe(context.Background(), &live.SubscribeParams{Caller: acme}); !errors.Is(err, live.ErrFull) {
		t.Fatalf("a third subscriber: %v", err)
	}
	a.Close()
	c := subscribe(t, h, &live.SubscribeParams{Caller: acme})
	if _, err := a.Next(nil); !errors.Is(err, live.ErrClosed) {
		t.Fatalf("a closed subscription: %v", err)
	}
	if _, err := h.Subscribe(context.Background(), &live.SubscribeParams{Caller: acme, Filter: live.Filter{ID: "x"}}); err == nil {
		t.Fatal("an aggregate without its resource was taken")
	}
	ended := make(chan error, 2)
	for _, s := range []*live.Subscription{b, c} {
		go func() {
			_, err := s.Next(nil)
			ended <- err
		}()
	}
	h.Close()
	for range 2 {
		if err := <-ended; !errors.Is(err, live.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
	if _, err := h.Subscribe(context.Background(), &live.SubscribeParams{Caller: acme}); !errors.Is(err, live.ErrClosed) {
		t.Fatalf("subscribing after Close: %v", err)
	}
	h.Close()
}

// The byte bound of a buffer counts too: a subscriber that lets more than
// BufferBytes of events wait is dropped, however few they are; one event
// is taken whatever its size.
func TestBufferBytes(t *testing.T) { onDrivers(t, testBufferBytes) }

func testBufferBytes(t *testing.T, st store.Driver) {
	h := live.NewHub(st, nil, live.Options{Buffer: 1000, BufferBytes: 32 << 10})
	defer h.Close()
	big := subscribe(t, h, &live.SubscribeParams{Caller: acme, Filter: live.Filter{Domain: "big"}})
	slow := subscribe(t, h, &live.SubscribeParams{Caller: acme, Filter: live.Filter{Domain: "shop"}})
	huge := appendEvents(t, st, "acme", "big.blob/b1", "stored", 1, 64<<10)[0]
	if got := next(t, big, 10*time.Second); got.ID != huge.ID {
		t.Fatalf("got %s", got.ID)
	}
	appendEvents(t, st, "acme", "shop.order/o1", "placed", 20, 4<<10)
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Dropped == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := slow.Next(nil); !errors.Is(err, live.ErrSlowConsumer) {
		t.Fatalf("20 events of 4 KiB against 32 KiB: %v", err)
	}
}
