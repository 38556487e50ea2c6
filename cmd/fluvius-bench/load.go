package main

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// opFunc sends one request as client worker and says how it went: "" for
// done (a 2xx answer), else the class of failure counted against the cell
// (the status code, or "transport").
type opFunc func(ctx context.Context, worker int, rng *rand.Rand) string

// window is the result of a drive: what finished inside the measured window.
type window struct {
	seconds   float64
	latencies []time.Duration // of done requests, sorted
	errors    map[string]int
}

// drive runs op back to back from clients goroutines for warmup+duration and
// keeps what completes within the last duration. Counting by completion
// time gives an unbiased rate: requests in flight at either edge are as
// likely to land inside as outside. Latencies are of done requests only: a
// fast refusal is not a fast command.
func drive(ctx context.Context, clients int, warmup, duration time.Duration, op opFunc) *window {
	from := time.Now().Add(warmup)
	until := from.Add(duration)
	var mu sync.Mutex
	w := &window{seconds: duration.Seconds(), errors: map[string]int{}}
	var wg sync.WaitGroup
	for worker := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(worker)))
			var mine []time.Duration
			errs := map[string]int{}
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(until) {
					break
				}
				class := op(ctx, worker, rng)
				end := time.Now()
				if end.Before(from) || end.After(until) {
					continue
				}
				if class == "" {
					mine = append(mine, end.Sub(start))
				} else {
					errs[class]++
				}
			}
			mu.Lock()
			w.latencies = append(w.latencies, mine...)
			for k, v := range errs {
				w.errors[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(w.latencies)
	return w
}

// errorCount sums the failures of every class.
func (w *window) errorCount() int {
	n := 0
	for _, v := range w.errors {
		n += v
	}
	return n
}

// percentile is the nearest-rank percentile p (0-100] of sorted samples:
// the smallest sample with at least p% of the samples at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted)) * p / 100))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// cellOf turns a drive's window into a result row.
func cellOf(store, mixName string, clients int, w *window) cell {
	c := cell{Store: store, Mix: mixName, Clients: clients, Seconds: w.seconds,
		Done: len(w.latencies), Errors: w.errorCount()}
	if len(w.errors) > 0 {
		c.ErrorsBy = w.errors
	}
	if w.seconds > 0 {
		c.PerSecond = float64(c.Done) / w.seconds
	}
	if n := len(w.latencies); n > 0 {
		c.P50ms = ms(percentile(w.latencies, 50))
		c.P90ms = ms(percentile(w.latencies, 90))
		c.P99ms = ms(percentile(w.latencies, 99))
		c.MaxMs = ms(w.latencies[n-1])
	}
	return c
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
