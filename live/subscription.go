package live

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Subscription is one subscriber of a hub. Next is called from one
// goroutine at a time; Close from any.
type Subscription struct {
	hub    *Hub
	caller abi.Caller
	filter Filter
	ctx    context.Context // ends with the subscription: its own reads of the feed
	cancel context.CancelFunc

	// The buffer the hub fills and Next empties.
	ch       chan *Event
	bytes    atomic.Int64
	maxBytes int64

	// Under hub.mu.
	done      chan struct{} // closed when the subscription ends
	err       error         // why it ended; set before done is closed
	ended     bool
	following bool // in the fan out
	// after is the place in the feed the subscription has reached: while
	// catching up, the last event it read (written by Next alone); once
	// following, the place it joined at, and the hub gives it only events
	// after it.
	after store.Cursor

	// Next's own.
	catching bool     // reading the feed itself, from after
	batch    []*Event // read while catching up, not yet given
	grants   grants
}

func newSubscription(h *Hub, p *SubscribeParams) *Subscription {
	s := &Subscription{hub: h, caller: p.Caller, filter: p.Filter, ch: make(chan *Event, h.opts.Buffer),
		maxBytes: int64(h.opts.BufferBytes), done: make(chan struct{}), grants: newGrants(h.opts.GrantTTL)}
	s.filter.Types = append([]string(nil), p.Filter.Types...)
	s.ctx, s.cancel = context.WithCancel(h.ctx)
	return s
}

// offer puts an event in the buffer if there is room (under hub.mu).
func (s *Subscription) offer(ev *Event) bool {
	n := ev.size()
	if s.bytes.Add(n) > s.maxBytes && len(s.ch) > 0 {
		s.bytes.Add(-n)
		return false
	}
	select {
	case s.ch <- ev:
		return true
	default:
		s.bytes.Add(-n)
		return false
	}
}

// Next returns the subscriber's next event, oldest first. It returns nil,
// nil when wake fires before an event is there (time for a heartbeat; a
// closed channel asks for an event only if one is ready, so a writer
// knows when to flush), and an error when the subscription has ended:
// ErrSlowConsumer, ErrClosed, or a failure to read the feed or to decide a
// read.
func (s *Subscription) Next(wake <-chan time.Time) (*Event, error) {
	for {
		select {
		case <-s.done:
			return nil, s.err
		default:
		}
		if s.catching {
			if len(s.batch) == 0 {
				if s.hub.join(s) {
					s.catching = false
					continue
				}
				select { // the writer's turn before a read of the feed
				case <-wake:
					return nil, nil
				default:
				}
				if err := s.readBatch(); err != nil {
					return nil, s.fail(err)
				}
				continue
			}
			ev := s.batch[0]
			s.batch[0], s.batch = nil, s.batch[1:]
			if ok, err := s.allowed(ev); err != nil {
				return nil, s.fail(err)
			} else if ok {
				return ev, nil
			}
			continue
		}
		var ev *Event
		select { // an event waiting goes before wake
		case ev = <-s.ch:
		default:
			select {
			case <-s.done:
				return nil, s.err
			case ev = <-s.ch:
			case <-wake:
				return nil, nil
			}
		}
		s.bytes.Add(-ev.size())
		if ok, err := s.allowed(ev); err != nil {
			return nil, s.fail(err)
		} else if ok {
			return ev, nil
		}
	}
}

// readBatch reads the next batch of the feed after s.after while catching
// up, keeping the events the filter passes, and waits for more when there
// are none yet.
func (s *Subscription) readBatch() error {
	evs, err := s.hub.st.Executor().EventsReadAll(s.ctx, &store.EventsReadAllParams{After: s.after, Limit: s.hub.opts.Batch})
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		// The hub has read further than this subscriber can yet: the
		// feed's readable end moves for every reader alike, soon.
		return s.hub.st.WaitForEvents(s.ctx, s.after)
	}
	for _, e := range evs {
		if e.Tenant != s.caller.Tenant {
			continue
		}
		if ev := newEvent(e); s.filter.Match(ev) {
			s.batch = append(s.batch, ev)
		}
	}
	s.after = evs[len(evs)-1].Cursor()
	return nil
}

// fail ends the subscription for a failure, unless it ended already (its
// reads then fail because it did), and returns why it ended.
func (s *Subscription) fail(err error) error {
	s.hub.end(s, fmt.Errorf("live: following the feed: %w", err))
	<-s.done
	return s.err
}

// Caller is the subscriber.
func (s *Subscription) Caller() abi.Caller { return s.caller }

// Close ends the subscription. Next returns ErrClosed after it.
func (s *Subscription) Close() { s.hub.end(s, ErrClosed) }
