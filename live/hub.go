package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Why a subscription ends (Subscription.Next returns one of them, wrapped
// or not; test with errors.Is).
var (
	// ErrSlowConsumer: the subscriber's buffer was full when an event came.
	ErrSlowConsumer = errors.New("live: the subscriber fell behind the feed")
	// ErrClosed: the hub was closed (the host is stopping), or the
	// subscription was.
	ErrClosed = errors.New("live: closed")
	// ErrFull: the hub holds as many subscribers as it may.
	ErrFull = errors.New("live: too many subscribers")
)

// Options configure a Hub.
type Options struct {
	// Buffer is how many events wait for one subscriber at most; 0 means 256.
	Buffer int
	// BufferBytes bounds the data and metadata of the events waiting for
	// one subscriber (one event is taken whatever its size); 0 means 1 MiB.
	BufferBytes int
	// MaxSubscribers bounds the subscribers of the hub; 0 means 1000.
	MaxSubscribers int
	// Batch is how many events one read of the feed takes; 0 means 256,
	// and at most Buffer.
	Batch int
	// GrantTTL is how long a subscriber keeps a read decision; 0 means 1 s
	// (policies reach every host within about a second anyway).
	GrantTTL time.Duration
	// Logger receives the reader's failures; nil uses slog.Default.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.BufferBytes <= 0 {
		o.BufferBytes = 1 << 20
	}
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = 1000
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	// A read is fanned out at once: more than a buffer holds would drop
	// a subscriber that keeps up.
	o.Batch = min(o.Batch, o.Buffer)
	if o.GrantTTL <= 0 {
		o.GrantTTL = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Hub follows a store's event feed with one reader and fans the events out
// to its subscribers. The reader starts with the first subscriber and
// stops at Close.
type Hub struct {
	st     store.Driver
	access Access
	opts   Options

	ctx    context.Context // ends at Close: the reader's and every subscriber's reads
	cancel context.CancelFunc
	reader sync.WaitGroup

	startMu sync.Mutex // serialises starting the reader
	started bool       // under startMu

	mu       sync.Mutex
	closed   bool
	pos      store.Cursor                          // every event up to it has been fanned out
	subs     map[*Subscription]struct{}            // every open subscription
	byTenant map[string]map[*Subscription]struct{} // those following the fan out, by tenant
	dropped  uint64                                // subscribers dropped as slow
	fanned   uint64                                // events read by the reader
}

// NewHub returns a hub over st. access decides what a subscriber may read;
// nil lets every subscriber read every event of its tenant.
func NewHub(st store.Driver, access Access, opts Options) *Hub {
	h := &Hub{st: st, access: access, opts: opts.withDefaults(),
		subs: map[*Subscription]struct{}{}, byTenant: map[string]map[*Subscription]struct{}{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// SubscribeParams are Subscribe's arguments.
type SubscribeParams struct {
	// Caller is the subscriber: it gets events of its tenant that Access
	// lets it read.
	Caller abi.Caller
	Filter Filter
	// After resumes after a place in the feed (a cursor an earlier event
	// gave); nil starts at the end of the feed.
	After *store.Cursor
}

// Subscribe adds a subscriber. It fails with ErrFull when the hub holds as
// many as it may, and ErrClosed after Close.
func (h *Hub) Subscribe(ctx context.Context, p *SubscribeParams) (*Subscription, error) {
	if err := p.Filter.Check(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	full := len(h.subs) >= h.opts.MaxSubscribers
	h.mu.Unlock()
	if full { // checked before starting: a refused client costs no read
		return nil, ErrFull
	}
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	s := newSubscription(h, p)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		s.cancel()
		return nil, ErrClosed
	case len(h.subs) >= h.opts.MaxSubscribers:
		s.cancel()
		return nil, ErrFull
	}
	h.subs[s] = struct{}{}
	if p.After == nil {
		s.after = h.pos
		h.followLocked(s)
	} else {
		s.after, s.catching = *p.After, true
	}
	return s, nil
}

// start starts the feed reader at the end of the feed, once.
func (h *Hub) start(ctx context.Context) error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	if h.started {
		return nil
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrClosed
	}
	pos, err := h.tail(ctx)
	if err != nil {
		return fmt.Errorf("finding the end of the event feed: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.pos, h.started = pos, true
	h.reader.Add(1)
	go h.read(pos)
	return nil
}

// tail returns the cursor of the last event a follower can read now.
func (h *Hub) tail(ctx context.Context) (store.Cursor, error) {
	if ft, ok := h.st.(store.FeedTail); ok {
		evs, err := ft.EventsLatest(ctx, 1)
		if err != nil || len(evs) == 0 {
			return store.Cursor{}, err
		}
		return evs[0].Cursor(), nil
	}
	// A store that cannot say: read through the feed to its end.
	var pos store.Cursor
	for {
		evs, err := h.st.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{After: pos, Limit: 1000})
		if err != nil || len(evs) == 0 {
			return pos, err
		}
		pos = evs[len(evs)-1].Cursor()
	}
}

// read follows the feed from pos until Close, fanning each batch out.
func (h *Hub) read(pos store.Cursor) {
	defer h.reader.Done()
	exec := h.st.Executor()
	for h.ctx.Err() == nil {
		evs, err := exec.EventsReadAll(h.ctx, &store.EventsReadAllParams{After: pos, Limit: h.opts.Batch})
		if err == nil && len(evs) == 0 {
			err = h.st.WaitForEvents(h.ctx, pos)
		}
		if err != nil {
			if h.ctx.Err() != nil {
				return
			}
			if errors.Is(err, store.ErrClosed) {
				h.endAll(ErrClosed) // the store went away under the hub
				return
			}
			h.opts.Logger.Warn("live: reading the event feed", "err", err)
			select { // the store is failing: ask again in a while
			case <-h.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(evs) > 0 {
			h.fanOut(evs)
			pos = evs[len(evs)-1].Cursor()
		}
	}
}

// fanOut offers each event to the subscribers following it, and drops
// those whose buffer is full. It never waits for a subscriber.
func (h *Hub) fanOut(evs []*store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range evs {
		cur := e.Cursor()
		if subs := h.byTenant[e.Tenant]; len(subs) > 0 {
			ev := newEvent(e)
			for s := range subs {
				if !s.filter.Match(ev) || !Before(s.after, cur) {
					continue
				}
				if !s.offer(ev) {
					h.dropped++
					h.endLocked(s, ErrSlowConsumer)
				}
			}
		}
		h.pos = cur
	}
	h.fanned += uint64(len(evs))
}

// join moves a catching-up subscriber to the fan out once it has read as
// far as the hub has. It reports false while the subscriber is behind.
func (h *Hub) join(s *Subscription) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.ended {
		return true // Next sees why
	}
	if Before(s.after, h.pos) {
		return false
	}
	h.followLocked(s)
	return true
}

func (h *Hub) followLocked(s *Subscription) {
	subs := h.byTenant[s.caller.Tenant]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		h.byTenant[s.caller.Tenant] = subs
	}
	subs[s] = struct{}{}
	s.following = true
}

// endLocked ends a subscription for a reason and forgets it. Its buffered
// events are let go at once: a dropped subscriber holds no memory.
func (h *Hub) endLocked(s *Subscription, why error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, why
	close(s.done)
	s.cancel()
	delete(h.subs, s)
	if s.following {
		subs := h.byTenant[s.caller.Tenant]
		delete(subs, s)
		if len(subs) == 0 {
			delete(h.byTenant, s.caller.Tenant)
		}
	}
	for {
		select {
		case <-s.ch:
		default:
			return
		}
	}
}

func (h *Hub) end(s *Subscription, why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(s, why)
}

func (h *Hub) endAll(why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.endLocked(s, why)
	}
}

// Close stops the reader and ends every subscription (ErrClosed). A
// second Close does nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.reader.Wait()
	h.endAll(ErrClosed)
}

// Stats is what a hub holds.
type Stats struct {
	Subscribers int          // open subscriptions
	Following   int          // of them, those the fan out serves (the others catch up)
	Dropped     uint64       // subscribers dropped as slow so far
	Events      uint64       // events the reader has read
	Cursor      store.Cursor // where the reader is
}

// Stats says what the hub holds now.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Subscribers: len(h.subs), Dropped: h.dropped, Events: h.fanned, Cursor: h.pos}
	for _, subs := range h.byTenant {
		st.Following += len(subs)
	}
	return st
}
