package admin_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/metrics"
	"fluvius.dev/fluvius/store"
)

// /readyz names its checks; /metrics is Prometheus text for the admin role,
// with the host's commands and the HTTP timings.
func TestReadyAndMetrics(t *testing.T) {
	onDrivers(t, func(t *testing.T, fresh func() string) {
		mx := metrics.New()
		s := startServerOn(t, fresh(), func(c *host.Config) { c.Observer = mx }, func(h *host.Host, st store.Driver, o *admin.Options) {
			mx.Watch(h)
			o.Metrics = mx
			o.Auth = &auth.Authenticator{AdminKey: testAdminKey, Keys: auth.NewAPIKeys(st.(store.APIKeyStore))}
		})
		ready := s.do(t, "GET", "/readyz", "").want(t, 200)
		checks := ready.body["checks"].(map[string]any)
		if ready.body["ready"] != true || checks["store"] != "ok" || checks["migrations"] != "ok" || checks["domains"] != float64(2) {
			t.Fatalf("readyz: %s", ready.raw)
		}
		s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`).want(t, 201)
		s.do(t, "POST", "/user:create-user/user/:new", `{"email":"nope","name":"Bo"}`).problem(t, 422, "invalid-email")
		s.do(t, "GET", "/metrics", "").problem(t, 401, "unauthenticated")
		req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		text := string(body)
		for _, want := range []string{
			`fluvius_commands_total{command="create-user",domain="user",outcome="ok"} 1`,
			`fluvius_commands_total{command="create-user",domain="user",outcome="refused"} 1`,
			`fluvius_command_decide_seconds_count{command="create-user",domain="user"} 2`,
			`fluvius_command_commit_seconds_count{domain="user"} 1`,
			`fluvius_command_fuel_count{command="create-user",domain="user"} 2`,
			`fluvius_http_request_duration_seconds_count{method="POST",route="command",status="2xx"} 1`,
			`fluvius_http_request_duration_seconds_count{method="POST",route="command",status="4xx"} 1`,
			`fluvius_plugin_instances{domain="user",state="idle"}`,
			`fluvius_commit_batch_size_sum 1`,
			`fluvius_commit_transaction_seconds_count 1`,
			`fluvius_store_up 1`,
			`fluvius_idempotency_records 0`,
			`go_goroutines`,
		} {
			if !strings.Contains(text, want) {
				t.Fatalf("/metrics lacks %s:\n%.3000s", want, text)
			}
		}
		if strings.Contains(fresh(), "postgres") != strings.Contains(text, "fluvius_pg_oldest_transaction_seconds") {
			t.Fatalf("the PostgreSQL transaction age is reported on the wrong store:\n%.2000s", text)
		}
	})
}

// Idempotency records expire: swept, a key answers anew.
func TestIdempotencyExpiry(t *testing.T) {
	var h *host.Host
	s := startServerOn(t, t.TempDir(), nil, func(hh *host.Host, _ store.Driver, _ *admin.Options) { h = hh })
	key := []string{"Idempotency-Key", "once"}
	first := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`, key...).want(t, 201).body["id"]
	if again := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`, key...).want(t, 201).body["id"]; again != first {
		t.Fatalf("a retry within the TTL made %v, not %v", again, first)
	}
	if n, err := h.SweepIdempotency(context.Background(), time.Hour); err != nil || n != 0 {
		t.Fatalf("a sweep of records younger than the TTL deleted %d (%v)", n, err)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := h.SweepIdempotency(context.Background(), time.Millisecond); err != nil || n != 1 {
		t.Fatalf("the sweep deleted %d (%v)", n, err)
	}
	if again := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`, key...).want(t, 201).body["id"]; again == first {
		t.Fatal("an expired key still answered the first command")
	}
}
