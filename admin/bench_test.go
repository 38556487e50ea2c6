package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

var benchClients = []int{1, 8, 32, 64}

// load runs op b.N times from the given number of concurrent clients and
// reports throughput and latency percentiles.
func load(b *testing.B, clients int, op func(n int64) error) {
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
				if err := op(n); err != nil {
					b.Error(err)
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
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkHTTPCommands is the whole write path over a real listener: HTTP
// -> schema check -> guest decides -> durable append + state, on each store.
// Each client sends create-user commands back to back on a keep-alive
// connection.
func BenchmarkHTTPCommands(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		for _, clients := range benchClients {
			b.Run(fmt.Sprintf("%s/clients=%d", driver, clients), func(b *testing.B) {
				where := b.TempDir()
				if driver == "postgres" {
					where = pgtest.URL(b)
				}
				s := startServer(b, where)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
				defer client.CloseIdleConnections()
				load(b, clients, func(n int64) error {
					res, err := client.Post(s.url+"/user:create-user/user/:new", "application/json",
						strings.NewReader(fmt.Sprintf(`{"email":"u%d@example.com","name":"User %d"}`, n, n)))
					if err != nil {
						return err
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						return fmt.Errorf("status %d", res.StatusCode)
					}
					return nil
				})
			})
		}
	}
}

// BenchmarkPostgresNaiveInsert is the baseline for BenchmarkHTTPCommands on
// PostgreSQL: each client inserts one event per transaction into the same
// events table, with nothing else around it (no HTTP, no guest, no state).
func BenchmarkPostgresNaiveInsert(b *testing.B) {
	for _, clients := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			ctx := context.Background()
			d, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			pool := d.Pool()
			load(b, clients, func(n int64) error {
				_, err := pool.Exec(ctx, `INSERT INTO events (id, stream, version, type, data, created_at)
					VALUES ($1, $2, 1, 'user-created', $3::jsonb, now())`,
					uuid.NewString(), fmt.Sprintf("user.user/%d", n), fmt.Sprintf(`{"email":"u%d@example.com","name":"User %d"}`, n, n))
				return err
			})
		})
	}
}

// BenchmarkHTTPUpdates is updates over HTTP, each client on aggregates of
// its own (64 per client, in turn): the path where the host's state cache
// saves a store read per command. cache=off is the same without it.
func BenchmarkHTTPUpdates(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		for _, clients := range []int{1, 32} {
			for _, cache := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/clients=%d/cache=%v", driver, clients, cache), func(b *testing.B) {
					where := b.TempDir()
					if driver == "postgres" {
						where = pgtest.URL(b)
					}
					s := startServerWith(b, where, func(c *host.Config) {
						if !cache {
							c.StateCacheItems = -1
						}
					}, nil)
					client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
					defer client.CloseIdleConnections()
					ids := make([]string, clients*64)
					for i := range ids {
						res, err := client.Post(s.url+"/user:create-user/user/:new", "application/json",
							strings.NewReader(fmt.Sprintf(`{"email":"u%d@example.com","name":"User"}`, i)))
						if err != nil {
							b.Fatal(err)
						}
						var created struct{ ID string }
						json.NewDecoder(res.Body).Decode(&created)
						res.Body.Close()
						ids[i] = created.ID
					}
					load(b, clients, func(n int64) error {
						id := ids[int(n)%len(ids)]
						res, err := client.Post(s.url+"/user:update-user/user/"+id, "application/json",
							strings.NewReader(fmt.Sprintf(`{"name":"User %d"}`, n)))
						if err != nil {
							return err
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							return fmt.Errorf("status %d", res.StatusCode)
						}
						return nil
					})
				})
			}
		}
	}
}

// BenchmarkHTTPAuth is commands over HTTP with authentication and
// authorization on next to off, in one run: anonymous (development mode),
// a JWT on every request, and a JWT plus a command that declares a
// permission the caller's role is granted (faulty's open-vault).
func BenchmarkHTTPAuth(b *testing.B) {
	for _, mode := range []string{"off", "jwt", "jwt+policy"} {
		b.Run(fmt.Sprintf("sqlite/clients=32/%s", mode), func(b *testing.B) {
			ctx := context.Background()
			var az *authz.Authorizer
			verifier, err := auth.NewVerifier(ctx, auth.Config{Secret: []byte(jwtSecret)})
			if err != nil {
				b.Fatal(err)
			}
			defer verifier.Close()
			s := startServerWith(b, b.TempDir(), func(c *host.Config) {
				if az, err = authz.New(ctx, c.Store.(store.PolicyStore), nil); err != nil {
					b.Fatal(err)
				}
				c.Authorizer = az
			}, func(o *admin.Options) {
				if mode != "off" {
					o.Auth = &auth.Authenticator{JWT: verifier, RequireAuth: true}
				}
			})
			defer az.Close()
			if err := az.Add(ctx, store.PolicyRule{Type: "p", Values: []string{"role:keeper", "acme", "faulty:open-vault", "run"}}); err != nil {
				b.Fatal(err)
			}
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "kim", "tenant": "acme",
				"roles": []string{"keeper"}, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(jwtSecret))
			if err != nil {
				b.Fatal(err)
			}
			path, body := "/user:create-user/user/:new", `{"email":"u@example.com","name":"U"}`
			if mode == "jwt+policy" {
				path, body = "/faulty:open-vault/vault/:new", `{}`
			}
			const clients = 32
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
			defer client.CloseIdleConnections()
			load(b, clients, func(n int64) error {
				req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if mode != "off" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				res, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					return fmt.Errorf("status %d", res.StatusCode)
				}
				return nil
			})
		})
	}
}
