package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// settle is how long the soak lets the host go idle before sampling it.
const settle = time.Second

// soakResult is a bounded soak: one mix for a long while, and what the host
// held at its start, along the way and at its end.
type soakResult struct {
	Store   string      `json:"store"`
	Mix     string      `json:"mix"`
	Clients int         `json:"clients"`
	Cell    cell        `json:"cell"`
	Start   hostStats   `json:"start"`
	End     hostStats   `json:"end"`
	Samples []hostStats `json:"samples"`
}

// runSoak serves on the soak's store, seeds and warms the host up (so the
// start sample is of a host that has compiled, pooled and cached, not of an
// idle one), samples it, runs the mix for the soak's duration, sampling ten
// times along the way, and samples it again. The heap figure is live and
// not yet collected bytes alike: compare RSS and goroutines for leaks.
func (b *bench) runSoak(ctx context.Context) (*soakResult, error) {
	o := b.o
	s, err := b.serveOn(ctx, o.soakStore)
	if err != nil {
		return nil, err
	}
	defer s.close()
	t, err := b.seeded(ctx, o.soakStore, s)
	if err != nil {
		return nil, err
	}
	t.runMix(ctx, o.soakStore, o.soakMix, o.soakClients, 0, o.warmup)
	r := &soakResult{Store: o.soakStore, Mix: o.soakMix.Name, Clients: o.soakClients}
	// Both ends are sampled a moment after the clients hung up, so the
	// goroutines of their connections have gone and the two compare.
	time.Sleep(settle)
	begin := time.Now()
	if r.Start, err = s.host.stats(ctx); err != nil {
		return nil, err
	}
	b.logf("soak start: %s", formatStats(r.Start))
	r.Samples = append(r.Samples, r.Start)

	every := max(o.soak/10, time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				st, err := s.host.stats(ctx)
				if err != nil {
					b.logf("soak sample: %v", err)
					continue
				}
				st.At = time.Since(begin).Seconds()
				b.logf("soak %4.0fs: %s", st.At, formatStats(st))
				mu.Lock()
				r.Samples = append(r.Samples, st)
				mu.Unlock()
			}
		}
	}()
	r.Cell = t.runMix(ctx, o.soakStore, o.soakMix, o.soakClients, 0, o.soak)
	close(stop)
	wg.Wait()
	time.Sleep(settle)
	if r.End, err = s.host.stats(ctx); err != nil {
		return nil, err
	}
	r.End.At = time.Since(begin).Seconds()
	r.Samples = append(r.Samples, r.End)
	b.progress(r.Cell)
	return r, nil
}

func formatStats(s hostStats) string {
	return fmt.Sprintf("rss %s, heap %s, %d goroutines", mib(s.RSSBytes), mib(s.HeapBytes), s.Goroutines)
}

func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// formatSoak is the host's memory and goroutines at the soak's start and end.
func formatSoak(r *soakResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %12s %12s\n", "host", "start", "end")
	fmt.Fprintf(&b, "%-12s %12s %12s\n", "rss", mib(r.Start.RSSBytes), mib(r.End.RSSBytes))
	fmt.Fprintf(&b, "%-12s %12s %12s\n", "heap alloc", mib(r.Start.HeapBytes), mib(r.End.HeapBytes))
	fmt.Fprintf(&b, "%-12s %12d %12d\n", "goroutines", r.Start.Goroutines, r.End.Goroutines)
	return b.String()
}
