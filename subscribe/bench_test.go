package subscribe

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// BenchmarkHandlerThroughput is events per second through a handler that
// does nothing (relay.noop): the runner's own cost of reading the feed,
// calling the guest and checkpointing. b.N events are written first; the
// clock runs from the runner's start until it has handled them all.
//
//	go test ./subscribe -run '^$' -bench BenchmarkHandlerThroughput -benchtime 5000x
func BenchmarkHandlerThroughput(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			st := openStore(b, driver)
			h := newHost(b, st, relay)
			subs := st.(store.SubscriptionStore)
			if _, err := subs.SubscriptionClaim(ctx, "relay.noop", "setup", time.Minute); err != nil {
				b.Fatal(err)
			}
			subs.SubscriptionRelease(ctx, "relay.noop", "setup")
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						dispatch(b, h, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
							Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: caller("ann", "")})
					}
				}()
			}
			wg.Wait()
			b.ResetTimer()
			r := start(b, h, Options{Only: []string{"relay.noop"}, Batch: 500})
			eventually(b, "all handled", func() bool { return caughtUp(b, r, "relay.noop", int64(b.N)) })
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkHandlerLatency is the time from an event's commit to the commit
// of the command its handler issues (relay.copy writes a note), one event
// at a time: both times are the store's records of the commits.
//
//	go test ./subscribe -run '^$' -bench BenchmarkHandlerLatency -benchtime 300x
func BenchmarkHandlerLatency(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			st := openStore(b, driver)
			h := newHost(b, st, relay)
			r := start(b, h, Options{Only: []string{"relay.copy"}})
			var lat []time.Duration
			b.ResetTimer()
			for n := 1; n <= b.N; n++ {
				// n of 1000 and more fail until fixed (testdata/relay).
				dispatch(b, h, &host.Command{Domain: "relay", Name: "create-item", Resource: "item", New: true,
					Payload: []byte(fmt.Sprintf(`{"n":%d}`, 1+n%900)), Caller: caller("ann", "")})
				eventually(b, "copied", func() bool { return caughtUp(b, r, "relay.copy", int64(n)) })
			}
			b.StopTimer()
			created := map[string]time.Time{}
			for _, ev := range feed(b, st) {
				switch ev.Type {
				case "item-created":
					created[streamID(ev)] = ev.CreatedAt
				case "note-written":
					lat = append(lat, ev.CreatedAt.Sub(created[dataOf(ev)["item"].(string)]))
				}
			}
			if len(lat) != b.N {
				b.Fatalf("%d notes for %d items", len(lat), b.N)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
