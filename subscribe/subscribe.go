// Package subscribe runs the event handlers plugins declare as durable
// subscriptions: each follows the event feed from its checkpoint in the
// store, hands the events it wants to its handler through host.Deliver,
// retries failures with backoff and sets aside, as dead letters, the
// deliveries that keep failing. A lease in the store lets exactly one host
// run a subscription at a time; when that host dies its lease runs out and
// another takes the subscription over where the checkpoint says.
//
// Delivery is at least once: a host that stops between handling events and
// writing the checkpoint hands them over again, and host.Deliver's
// deterministic command ids make the second time issue nothing new.
package subscribe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Options tune a Runner; zero values take the defaults.
type Options struct {
	// Owner names this host in leases (default: host name, process id and
	// a random suffix).
	Owner string
	// Lease is how long a claim lasts without renewal (default 10 s): the
	// longest a subscription stays still after its host dies.
	Lease time.Duration
	// Batch is how many feed events are read at once and handled between
	// checkpoints (default 100).
	Batch int
	// Attempts is how many times a delivery is tried before it is set
	// aside (default 5); a permanent failure is set aside at once.
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each (default 200 ms), up to MaxBackoff (default 10 s).
	Backoff, MaxBackoff time.Duration
	// Rescan is how often the set of handlers is compared with the active
	// plugins' (default 1 s).
	Rescan time.Duration
	// Only, when not empty, names the subscriptions this host runs (the
	// others are left to other hosts).
	Only []string
	// Internal are the host's own subscriptions (the job outbox), run
	// like handlers.
	Internal []Internal
	Logger   *slog.Logger
}

func (o *Options) defaults() {
	if o.Owner == "" {
		name, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		o.Owner = fmt.Sprintf("%s/%d/%s", name, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if o.Lease <= 0 {
		o.Lease = 10 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Rescan <= 0 {
		o.Rescan = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Internal is a subscription of the host's own: Handle sees every event of
// the feed and returns nil for those it has nothing to do with. Name must
// not look like DOMAIN.HANDLER ("$jobs", say).
type Internal struct {
	Name   string
	Handle func(ctx context.Context, ev *store.Event, attempt int) error
}

// target is what a subscription delivers to: a plugin's handler or an
// internal one.
type target struct {
	name    string
	wants   func(ev *store.Event) bool
	deliver func(ctx context.Context, ev *store.Event, attempt int) (*host.Delivered, error)
}

// Runner runs the active plugins' handlers on this host.
type Runner struct {
	h    *host.Host
	st   store.Driver
	subs store.SubscriptionStore
	opts Options

	mu      sync.Mutex
	workers map[string]*worker // by subscription name
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// abandon stops without giving leases up, as a host that dies does
	// (the tests' stand-in for kill -9).
	abandon atomic.Bool
}

type worker struct {
	cancel  context.CancelFunc
	holding bool // holds the lease now
}

// New makes a Runner over the host's store, which must keep subscriptions.
func New(h *host.Host, opts Options) (*Runner, error) {
	opts.defaults()
	subs, ok := h.Store().(store.SubscriptionStore)
	if !ok {
		return nil, fmt.Errorf("the %s store keeps no subscriptions", h.Store().Name())
	}
	return &Runner{h: h, st: h.Store(), subs: subs, opts: opts, workers: map[string]*worker{}}, nil
}

// Owner is the name this runner holds leases under.
func (r *Runner) Owner() string { return r.opts.Owner }

// Start begins running subscriptions until Close.
func (r *Runner) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			r.rescan(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.opts.Rescan):
			}
		}
	}()
}

// Close stops every subscription, gives up the leases held (so another
// host takes them over at once) and waits.
func (r *Runner) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

// Running lists the subscriptions whose lease this runner holds.
func (r *Runner) Running() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for name, w := range r.workers {
		if w.holding {
			out[name] = true
		}
	}
	return out
}

// rescan starts a worker for each handler without one and stops those
// whose handler is gone.
func (r *Runner) rescan(ctx context.Context) {
	want := map[string]bool{}
	for _, t := range r.targets() {
		if len(r.opts.Only) == 0 || slices.Contains(r.opts.Only, t.name) {
			want[t.name] = true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, w := range r.workers {
		if !want[name] {
			w.cancel()
			delete(r.workers, name)
		}
	}
	for name := range want {
		if r.workers[name] != nil || ctx.Err() != nil {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{cancel: cancel}
		r.workers[name] = w
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.run(wctx, name, w)
		}()
	}
}

// targets lists what the subscriptions deliver to: the handlers as the
// active plugins declare them now (a new version may have changed their
// events), and the internal ones.
func (r *Runner) targets() []target {
	var out []target
	for _, hd := range r.h.Handlers() {
		out = append(out, target{name: hd.Subscription(),
			wants: func(ev *store.Event) bool {
				domain, _, _, ok := host.SplitStream(ev.Stream)
				return ok && hd.Wants(domain, ev.Type)
			},
			deliver: func(ctx context.Context, ev *store.Event, attempt int) (*host.Delivered, error) {
				return r.h.Deliver(ctx, hd, ev, attempt)
			}})
	}
	for _, in := range r.opts.Internal {
		out = append(out, target{name: in.Name, wants: func(*store.Event) bool { return true },
			deliver: func(ctx context.Context, ev *store.Event, attempt int) (*host.Delivered, error) {
				return &host.Delivered{}, in.Handle(ctx, ev, attempt)
			}})
	}
	return out
}

// target returns a subscription's target, if it has one now.
func (r *Runner) target(name string) (target, bool) {
	for _, t := range r.targets() {
		if t.name == name {
			return t, true
		}
	}
	return target{}, false
}

func (r *Runner) setHolding(w *worker, v bool) {
	r.mu.Lock()
	w.holding = v
	r.mu.Unlock()
}

// run claims the subscription when it can and follows the feed while it
// holds the lease.
func (r *Runner) run(ctx context.Context, name string, w *worker) {
	log := r.opts.Logger.With("subscription", name)
	defer func() {
		r.setHolding(w, false)
		if r.abandon.Load() {
			return
		}
		// Given up at once, so another host need not wait the lease out.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.subs.SubscriptionRelease(rctx, name, r.opts.Owner)
	}()
	for ctx.Err() == nil {
		sub, err := r.subs.SubscriptionClaim(ctx, name, r.opts.Owner, r.opts.Lease)
		if err != nil {
			if !errors.Is(err, store.ErrLeaseHeld) && ctx.Err() == nil {
				log.Warn("claiming the subscription failed", "err", err)
			}
			sleep(ctx, r.opts.Lease/3)
			continue
		}
		r.setHolding(w, true)
		err = r.follow(ctx, name, sub)
		r.setHolding(w, false)
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("lost the subscription's lease; another host runs it now")
		} else if err != nil && ctx.Err() == nil {
			log.Warn("the subscription stopped; claiming it again", "err", err)
			sleep(ctx, r.opts.Backoff)
		}
	}
}

// follow handles events from the subscription's cursor, checkpointing after
// each batch, until the lease is lost or ctx ends.
func (r *Runner) follow(ctx context.Context, name string, sub *store.Subscription) error {
	cursor, saved := sub.Cursor, sub.Cursor
	renewed := time.Now()
	renew := func() error {
		if time.Since(renewed) < r.opts.Lease/3 {
			return nil
		}
		s, err := r.subs.SubscriptionClaim(ctx, name, r.opts.Owner, r.opts.Lease)
		if errors.Is(err, store.ErrLeaseHeld) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if s.Cursor != saved {
			// Moved by another holder while this one thought it held it:
			// follow from there.
			return store.ErrLeaseLost
		}
		renewed = time.Now()
		return nil
	}
	for ctx.Err() == nil {
		tg, ok := r.target(name)
		if !ok {
			return nil
		}
		evs, err := r.st.Executor().EventsReadAll(ctx, &store.EventsReadAllParams{After: cursor, Limit: r.opts.Batch})
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			if err := renew(); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, r.opts.Lease/3)
			r.st.WaitForEvents(wctx, cursor)
			cancel()
			continue
		}
		adv := &store.SubscriptionAdvance{Name: name, Owner: r.opts.Owner}
		for _, ev := range evs {
			if tg.wants(ev) {
				if dead := r.deliver(ctx, tg, ev, renew); dead != nil {
					adv.Dead = append(adv.Dead, dead)
				}
				if ctx.Err() != nil {
					// Stopped mid-delivery: what was handled before it is
					// checkpointed below; this event comes again.
					break
				}
				adv.Delivered++
			}
			cursor = ev.Cursor()
			adv.Cursor = cursor
		}
		if adv.Cursor == (store.Cursor{}) {
			return ctx.Err()
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = r.subs.SubscriptionAdvance(wctx, adv)
		cancel()
		if err != nil {
			return err
		}
		saved = adv.Cursor
		renewed = time.Now().Add(-r.opts.Lease) // renewed now: a batch can take a while
		if err := renew(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// deliver tries one event until it is delivered, fails for good, or runs
// out of attempts; it returns the dead letter for the last two.
func (r *Runner) deliver(ctx context.Context, tg target, ev *store.Event, renew func() error) *store.DeadLetter {
	wait := r.opts.Backoff
	var err error
	for attempt := 1; attempt <= r.opts.Attempts; attempt++ {
		if _, err = tg.deliver(ctx, ev, attempt); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		r.opts.Logger.Warn("a delivery failed", "subscription", tg.name, "event", ev.ID, "attempt", attempt, "err", err)
		if host.Permanent(err) || attempt == r.opts.Attempts {
			return deadLetter(ev, err, attempt)
		}
		sleep(ctx, wait)
		wait = min(2*wait, r.opts.MaxBackoff)
		if rerr := renew(); rerr != nil {
			// The lease is gone: leave the event to its next holder.
			return nil
		}
	}
	return deadLetter(ev, err, r.opts.Attempts)
}

func deadLetter(ev *store.Event, err error, attempts int) *store.DeadLetter {
	code, msg := "handler-failed", err.Error()
	var he *host.Error
	if errors.As(err, &he) {
		code, msg = he.Code, he.Message
	}
	return &store.DeadLetter{EventID: ev.ID, Tenant: ev.Tenant, Stream: ev.Stream, Version: ev.Version, Type: ev.Type,
		Cursor: ev.Cursor(), Code: code, Message: msg, Attempts: attempts}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Subscriptions lists the subscriptions in the store, with whether this
// runner holds each.
func (r *Runner) Subscriptions(ctx context.Context) ([]*store.Subscription, error) {
	return r.subs.SubscriptionList(ctx)
}

// DeadLetters lists a subscription's dead letters, the resolved too with
// resolved.
func (r *Runner) DeadLetters(ctx context.Context, subscription string, resolved bool, limit int) ([]*store.DeadLetter, error) {
	return r.subs.DeadLetterList(ctx, subscription, resolved, limit)
}

// letter reads a dead letter of the subscription; host.Error when there is
// none or it is resolved already.
func (r *Runner) letter(ctx context.Context, subscription string, id int64) (*store.DeadLetter, error) {
	l, err := r.subs.DeadLetterGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && l.Subscription != subscription) {
		return nil, &host.Error{Kind: host.KindNotFound, Code: "dead-letter-not-found",
			Message: fmt.Sprintf("subscription %s has no dead letter %d", subscription, id)}
	}
	if err != nil {
		return nil, err
	}
	if l.Resolution != "" {
		return nil, &host.Error{Kind: host.KindConflict, Code: "dead-letter-resolved",
			Message: fmt.Sprintf("dead letter %d was %s by %s already", id, l.Resolution, l.ResolvedBy)}
	}
	return l, nil
}

// Retry delivers a dead letter's event again, now, on this host. When it
// succeeds the letter is resolved as retried; when it fails again the
// attempt is counted and the failure returned.
func (r *Runner) Retry(ctx context.Context, subscription string, id int64, by string) (*host.Delivered, error) {
	l, err := r.letter(ctx, subscription, id)
	if err != nil {
		return nil, err
	}
	tg, ok := r.target(subscription)
	if !ok {
		return nil, &host.Error{Kind: host.KindUnavailable, Code: "handler-not-loaded",
			Message: fmt.Sprintf("no active plugin declares handler %s", subscription)}
	}
	evs, err := r.st.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey: store.StreamKey{Tenant: l.Tenant, Stream: l.Stream}, AfterVersion: l.Version - 1, UpToVersion: l.Version})
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 || evs[0].ID != l.EventID {
		return nil, &host.Error{Kind: host.KindNotFound, Code: "event-not-found",
			Message: fmt.Sprintf("the event of dead letter %d is no longer stored", id)}
	}
	done, derr := tg.deliver(ctx, evs[0], l.Attempts+1)
	if derr != nil {
		dl := deadLetter(evs[0], derr, 0)
		if err := r.subs.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: id, Code: dl.Code, Message: dl.Message}); err != nil {
			return nil, err
		}
		return nil, derr
	}
	if err := r.subs.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: id, Resolution: store.DeadLetterRetried, By: by}); err != nil {
		return nil, err
	}
	return done, nil
}

// Skip resolves a dead letter without delivering it.
func (r *Runner) Skip(ctx context.Context, subscription string, id int64, by string) error {
	if _, err := r.letter(ctx, subscription, id); err != nil {
		return err
	}
	return r.subs.DeadLetterUpdate(ctx, &store.DeadLetterUpdate{ID: id, Resolution: store.DeadLetterSkipped, By: by})
}
