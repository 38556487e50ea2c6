package host

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Many goroutines borrow, return and discard instances: no instance is ever
// lent to two callers at once, and no more than the bound are ever out.
func TestPoolNeverLendsAnInstanceTwice(t *testing.T) {
	const bound = 3
	p := newPool(bound, 100, func(context.Context) (*instance, error) { return &instance{}, nil })
	var mu sync.Mutex
	lent := map[*instance]bool{}
	var most atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				in, err := p.get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if lent[in] {
					t.Errorf("instance %p lent to two callers at once", in)
				}
				lent[in] = true
				if n := int32(len(lent)); n > most.Load() {
					most.Store(n)
				}
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				delete(lent, in)
				mu.Unlock()
				if (g+i)%5 == 0 {
					p.discard(in)
				} else {
					p.put(in)
				}
			}
		}()
	}
	wg.Wait()
	if m := most.Load(); m > bound || m < 2 {
		t.Fatalf("at most %d instances were out at once; the bound is %d", m, bound)
	}
}

// A pool closed between a caller's check and its taking a slot never
// creates an instance once it has released its compiled module: the caller
// gets errRetired (which the dispatcher retries on the new plugin), never a
// failed instantiation (a 500 during a swap).
func TestPoolCreatesNothingAfterClose(t *testing.T) {
	var released atomic.Bool
	p := newPool(2, 100, func(context.Context) (*instance, error) {
		if released.Load() {
			return nil, errors.New("instantiated from a released module")
		}
		return &instance{}, nil
	})
	p.raceHook = func() { p.close(func() { released.Store(true) }) }
	if _, err := p.get(context.Background()); !errors.Is(err, errRetired) {
		t.Fatalf("get during close: %v, want errRetired", err)
	}
	if !released.Load() || p.size() != 0 {
		t.Fatalf("released %v, %d instances left", released.Load(), p.size())
	}
}
