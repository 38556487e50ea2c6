package host

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
)

// lanes queue the commands addressed to one aggregate so that, on one
// host, they are decided one after another: each decides on the state the
// previous one left, and none loses a race it could not have won. Commands
// on different aggregates never wait for each other. Across hosts the
// expected-version check and the bounded retry still decide.
type lanes struct {
	seed     maphash.Seed
	maxQueue int // waiters per lane, the one deciding included
	shards   [64]laneShard
}

type laneShard struct {
	mu sync.Mutex
	m  map[string]*lane
}

// lane is one aggregate's queue: token is held by the command deciding,
// users counts it and the commands waiting.
type lane struct {
	token chan struct{}
	users int
}

// errLaneFull is returned when an aggregate already has maxQueue commands
// queued: the client is told to come back rather than held without bound.
var errLaneFull = errors.New("too many commands queued on one aggregate")

func newLanes(maxQueue int) *lanes {
	l := &lanes{seed: maphash.MakeSeed(), maxQueue: maxQueue}
	for i := range l.shards {
		l.shards[i].m = map[string]*lane{}
	}
	return l
}

// acquire waits for key's turn and returns the function that ends it.
func (l *lanes) acquire(ctx context.Context, key string) (func(), error) {
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	sh.mu.Lock()
	ln := sh.m[key]
	if ln == nil {
		ln = &lane{token: make(chan struct{}, 1)}
		sh.m[key] = ln
	}
	if ln.users >= l.maxQueue {
		sh.mu.Unlock()
		return nil, errLaneFull
	}
	ln.users++
	sh.mu.Unlock()
	leave := func() {
		sh.mu.Lock()
		if ln.users--; ln.users == 0 {
			delete(sh.m, key)
		}
		sh.mu.Unlock()
	}
	select {
	case ln.token <- struct{}{}:
		return func() { <-ln.token; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// size is the number of aggregates with a command deciding or queued.
func (l *lanes) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
