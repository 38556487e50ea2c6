package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hotAggregates is how many aggregates update-hot spreads over: few enough
// that concurrent clients collide on versions.
const hotAggregates = 4

// target is a serving host and the aggregates made on it for the mixes:
// the user example, whose create-user and update-user are the write path
// and whose list takes filters.
type target struct {
	base      string
	host      *hostProc // for its version-conflict count
	hot, cold []string
	seq       atomic.Int64 // makes every payload differ: update-user refuses a no-op
}

// newClient is an HTTP client that keeps one connection per client alive,
// so the cell measures requests, not TCP handshakes.
func newClient(clients int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients,
		IdleConnTimeout: time.Minute,
	}}
}

// send sends one request and classifies the answer (see opFunc).
func send(ctx context.Context, client *http.Client, method, u, body string) (string, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return "request", nil
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return "transport", nil
	}
	// Read to the end: a body left unread costs the connection.
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return "transport", nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return strconv.Itoa(res.StatusCode), b
	}
	return "", b
}

// do sends one request of kind o.
func (t *target) do(ctx context.Context, client *http.Client, o op, rng *rand.Rand) string {
	n := t.seq.Add(1)
	var class string
	switch o {
	case opCreate:
		class, _ = send(ctx, client, "POST", t.base+"/user:create-user/user/:new",
			fmt.Sprintf(`{"email":"new-%d@bench.example","name":"New %d"}`, n, n))
	case opUpdateHot, opUpdateCold:
		ids := t.cold
		if o == opUpdateHot {
			ids = t.hot
		}
		class, _ = send(ctx, client, "POST", t.base+"/user:update-user/user/"+ids[rng.IntN(len(ids))],
			fmt.Sprintf(`{"name":"Name %d"}`, n))
	case opQuery:
		// A selective filter the store cannot answer from the id index: one
		// cold user by a substring of its e-mail, as a search box would.
		q := fmt.Sprintf(`{"email.has":"cold-%d@"}`, rng.IntN(len(t.cold)))
		class, _ = send(ctx, client, "GET", t.base+"/user.user/?limit=10&query="+url.QueryEscape(q), "")
	default:
		class = "unknown-op"
	}
	return class
}

// seed creates the hot and cold aggregates the updates and queries use.
func (t *target) seed(ctx context.Context, cold int) error {
	var err error
	if t.hot, err = createUsers(ctx, t.base, "hot", hotAggregates); err != nil {
		return err
	}
	t.cold, err = createUsers(ctx, t.base, "cold", cold)
	return err
}

// createUsers creates n users named prefix-i, 16 at a time, and returns
// their ids in order.
func createUsers(ctx context.Context, base, prefix string, n int) ([]string, error) {
	const workers = 16
	client := newClient(workers)
	defer client.CloseIdleConnections()
	ids := make([]string, n)
	next := make(chan int)
	var mu sync.Mutex
	var failed error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				class, body := send(ctx, client, "POST", base+"/user:create-user/user/:new",
					fmt.Sprintf(`{"email":"%s-%d@bench.example","name":"%s %d"}`, prefix, i, prefix, i))
				var created struct {
					ID string `json:"id"`
				}
				if class == "" {
					json.Unmarshal(body, &created)
				}
				if created.ID == "" {
					mu.Lock()
					failed = fmt.Errorf("creating %s user %d: %s %.200s", prefix, i, class, body)
					mu.Unlock()
				}
				ids[i] = created.ID
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		return nil, failed
	}
	return ids, ctx.Err()
}

// count is how many users the store holds: a filtered list scans them, so
// the query cells' cost depends on it.
func (t *target) count(ctx context.Context) int {
	client := newClient(1)
	defer client.CloseIdleConnections()
	class, body := send(ctx, client, "GET", t.base+"/user.user/?limit=1", "")
	var page struct {
		Pagination struct {
			Total int `json:"total"`
		} `json:"pagination"`
	}
	if class != "" || json.Unmarshal(body, &page) != nil {
		return -1
	}
	return page.Pagination.Total
}

// runMix drives one cell of a mix against the target.
func (t *target) runMix(ctx context.Context, store string, m mix, clients int, warmup, duration time.Duration) cell {
	aggregates := t.count(ctx)
	conflicts := t.conflicts(ctx)
	client := newClient(clients)
	defer client.CloseIdleConnections()
	total := m.total()
	w := drive(ctx, clients, warmup, duration, func(ctx context.Context, _ int, rng *rand.Rand) string {
		return t.do(ctx, client, m.pick(rng.IntN(total)), rng)
	})
	c := cellOf(store, m.Name, clients, w)
	c.Aggregates = aggregates
	if before, after := conflicts, t.conflicts(ctx); before >= 0 && after >= 0 {
		c.Conflicts = int(after - before)
	}
	return c
}

// conflicts is the host's count of version conflicts met so far, or -1.
func (t *target) conflicts(ctx context.Context) float64 {
	text, err := t.host.metricsText(ctx)
	if err != nil {
		return -1
	}
	return metricSum(text, "fluvius_version_conflicts_total")
}
