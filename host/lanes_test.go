package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Commands on one key run one at a time, in any number of goroutines;
// other keys are not held up; the lane map empties when all are done.
func TestLanesSerialisePerKey(t *testing.T) {
	l := newLanes(1000)
	var inside [2]atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % 2
			release, err := l.acquire(context.Background(), []string{"a", "b"}[k])
			if err != nil {
				t.Error(err)
				return
			}
			if n := inside[k].Add(1); n != 1 {
				t.Errorf("%d commands inside lane %d at once", n, k)
			}
			time.Sleep(10 * time.Microsecond)
			inside[k].Add(-1)
			release()
		}()
	}
	wg.Wait()
	if n := l.size(); n != 0 {
		t.Fatalf("%d lanes left behind", n)
	}
}

// A lane holds at most maxQueue commands; a waiter whose context ends
// leaves the queue.
func TestLanesBoundAndCancel(t *testing.T) {
	l := newLanes(2)
	release, err := l.acquire(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error)
	go func() {
		_, err := l.acquire(cctx, "x")
		waited <- err
	}()
	for l.users("x") != 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.acquire(context.Background(), "x"); !errors.Is(err, errLaneFull) {
		t.Fatalf("a third command on a lane of two: %v", err)
	}
	if _, err := l.acquire(context.Background(), "y"); err != nil {
		t.Fatalf("another aggregate: %v", err)
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	release()
	if n := l.users("x"); n != 0 {
		t.Fatalf("%d users left on x", n)
	}
}

func (l *lanes) users(key string) int {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		ln := sh.m[key]
		sh.mu.Unlock()
		if ln != nil {
			sh.mu.Lock()
			n := ln.users
			sh.mu.Unlock()
			return n
		}
	}
	return 0
}
