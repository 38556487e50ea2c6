package admin_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHTTPCommands is the whole write path over a real listener: HTTP
// -> schema check -> guest decides -> durable SQLite append + state. Each
// client sends create-user commands back to back on a keep-alive connection.
func BenchmarkHTTPCommands(b *testing.B) {
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s := startServer(b, b.TempDir())
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
			defer client.CloseIdleConnections()
			var next atomic.Int64
			var mu sync.Mutex
			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := 0; c < clients; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							break
						}
						start := time.Now()
						res, err := client.Post(s.url+"/user:create-user/user/:new", "application/json",
							strings.NewReader(fmt.Sprintf(`{"email":"u%d@example.com","name":"User %d"}`, n, n)))
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusCreated {
							b.Errorf("status %d", res.StatusCode)
							return
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			if len(latencies) > 0 {
				b.ReportMetric(float64(len(latencies))/b.Elapsed().Seconds(), "commands/s")
				b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-us")
			}
		})
	}
}
