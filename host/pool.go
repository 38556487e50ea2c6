package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

var errRetired = errors.New("plugin retired")

// errBusy is returned when a plugin already has its bound of callers
// waiting for an instance.
var errBusy = errors.New("too many calls waiting for an instance")

// pool lends instances of one plugin, one caller at a time each, creating
// them on demand up to a bound. An instance that failed is discarded, never
// returned: a trap costs that instance, not the host.
type pool struct {
	idle   chan *instance
	slots  chan struct{} // one token per live instance
	create func(context.Context) (*instance, error)
	mu     sync.Mutex // orders put and discard against close
	closed atomic.Bool
	// waiting counts callers blocked for an instance, at most maxWaiting.
	waiting    atomic.Int32
	maxWaiting int32
	onIdle     func() // called once, when closed and the last instance is gone
	// raceHook runs in get between its check of closed and taking a slot,
	// where a close can slip in; tests use it to make that happen.
	raceHook func()
}

func newPool(max, maxWaiting int, create func(context.Context) (*instance, error)) *pool {
	return &pool{idle: make(chan *instance, max), slots: make(chan struct{}, max), create: create, maxWaiting: int32(maxWaiting)}
}

// get returns an idle instance, a new one if the bound allows, or waits.
func (p *pool) get(ctx context.Context) (*instance, error) {
	if p.closed.Load() {
		return nil, errRetired
	}
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	if p.raceHook != nil {
		p.raceHook()
	}
	if p.waiting.Add(1) > p.maxWaiting {
		p.waiting.Add(-1)
		return nil, errBusy
	}
	defer p.waiting.Add(-1)
	select {
	case in := <-p.idle:
		return in, nil
	case p.slots <- struct{}{}:
		// close may have run since the check above and released the
		// compiled module: a slot taken after it must not create. Under mu,
		// either close sees this slot (and waits for it) or we see closed.
		p.mu.Lock()
		if p.closed.Load() {
			p.releaseLocked()
			p.mu.Unlock()
			return nil, errRetired
		}
		p.mu.Unlock()
		in, err := p.create(ctx)
		if err != nil {
			p.release()
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a healthy instance.
func (p *pool) put(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		in.close(context.Background())
		p.releaseLocked()
		return
	}
	in.lastUsed = time.Now()
	p.idle <- in // never blocks: idle has room for every slot
}

// reap closes idle instances last used before cutoff, keeping at least
// keep of them.
func (p *pool) reap(cutoff time.Time, keep int) {
	var fresh, stale []*instance
	for {
		select {
		case in := <-p.idle:
			if in.lastUsed.Before(cutoff) {
				stale = append(stale, in)
			} else {
				fresh = append(fresh, in)
			}
			continue
		default:
		}
		break
	}
	for len(fresh) < keep && len(stale) > 0 {
		fresh, stale = append(fresh, stale[len(stale)-1]), stale[:len(stale)-1]
	}
	for _, in := range fresh {
		p.idle <- in
	}
	for _, in := range stale {
		p.discard(in)
	}
}

// discard drops an instance that failed or grew too large.
func (p *pool) discard(in *instance) {
	in.close(context.Background())
	p.release()
}

func (p *pool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked()
}

func (p *pool) releaseLocked() {
	<-p.slots
	if p.closed.Load() && len(p.slots) == 0 && p.onIdle != nil {
		p.onIdle()
		p.onIdle = nil
	}
}

// close retires the pool: idle instances close now, lent ones when they come
// back; onIdle runs once none is left.
func (p *pool) close(onIdle func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	p.onIdle = onIdle
	for {
		select {
		case in := <-p.idle:
			in.close(context.Background())
			<-p.slots
		default:
			if len(p.slots) == 0 && p.onIdle != nil {
				p.onIdle()
				p.onIdle = nil
			}
			return
		}
	}
}

// size returns the number of live instances.
func (p *pool) size() int { return len(p.slots) }
