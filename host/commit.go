package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"fluvius.dev/fluvius/store"
)

type commitRequest struct {
	write *store.CommandWrite
	done  chan error
}

// committer coalesces the writes of commands that arrive together into one
// transaction (group commit): while a commit is being made durable, the next
// commands queue, and the next transaction takes them all. The store writes
// each command all-or-nothing (store.Driver.CommitCommands), so one
// command's conflict is undone alone and never fails its batch-mates; no
// command is answered before the commit that holds it is durable.
type committer struct {
	store    store.Driver
	maxBatch int
	timeout  time.Duration // bounds one batch's transaction
	reqs     chan *commitRequest
	quit     chan struct{}
	// base is cancelled by close, so a batch stuck on a stalled store
	// gives up and Close returns.
	base     context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	batches  atomic.Int64
	commands atomic.Int64
	largest  atomic.Int64
	observer Observer // nil: none
}

// CommitStats counts group commits since the host started.
type CommitStats struct {
	Transactions int64 // transactions committed
	Commands     int64 // commands they held (including ones undone by their savepoint)
	LargestBatch int64
}

// CommitStats reports how well commands are being coalesced.
func (h *Host) CommitStats() CommitStats {
	var s CommitStats
	for _, c := range h.committers {
		s.Transactions += c.batches.Load()
		s.Commands += c.commands.Load()
		s.LargestBatch = max(s.LargestBatch, c.largest.Load())
	}
	return s
}

var errShuttingDown = errors.New("host: shutting down")

func newCommitter(st store.Driver, maxBatch int, timeout time.Duration, obs Observer) *committer {
	c := &committer{store: st, maxBatch: maxBatch, timeout: timeout, reqs: make(chan *commitRequest), quit: make(chan struct{}),
		observer: obs}
	c.base, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c
}

// commit runs write in a shared transaction and returns once it committed
// (nil) or was undone (its error). A caller waits at most about twice the
// batch timeout: once for the batch ahead of it, once for its own.
func (c *committer) commit(ctx context.Context, write *store.CommandWrite) error {
	req := &commitRequest{write: write, done: make(chan error, 1)}
	select {
	case c.reqs <- req:
	case <-c.quit:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, the command's fate is the batch's: wait for it even
	// if the caller gives up, so the answer matches what was stored.
	return <-req.done
}

func (c *committer) close() {
	close(c.quit)
	c.cancel()
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	batch := make([]*commitRequest, 0, c.maxBatch)
	for {
		select {
		case req := <-c.reqs:
			batch = append(batch[:0], req)
		case <-c.quit:
			return
		}
	gather:
		for len(batch) < c.maxBatch {
			select {
			case req := <-c.reqs:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		c.commitBatch(batch)
	}
}

func (c *committer) commitBatch(batch []*commitRequest) {
	// The batch belongs to no single caller: no caller's cancellation may
	// abort the others' transaction. Its own bound may: a store that does
	// not answer fails the batch instead of holding every caller.
	ctx, cancel := context.WithTimeout(c.base, c.timeout)
	defer cancel()
	writes := make([]*store.CommandWrite, len(batch))
	for i, r := range batch {
		writes[i] = r.write
	}
	start := time.Now()
	results, err := c.store.CommitCommands(ctx, writes)
	if c.observer != nil && err == nil {
		c.observer.Commit(len(batch), time.Since(start))
	}
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	c.batches.Add(1)
	c.commands.Add(int64(len(batch)))
	if n := int64(len(batch)); n > c.largest.Load() {
		c.largest.Store(n) // only this goroutine writes it
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}
