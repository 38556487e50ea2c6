package admin_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// BenchmarkLiveLatency measures how soon a live client has an event: one
// SSE client follows an aggregate while one writer changes it, one command
// at a time, over real listeners. Per command: from sending it to the
// client having its event (send-live), and to the writer having its answer
// (send-answer). The commit lies between the send and the answer, so
// commit-to-client is at most send-live, and live-answer (the client's
// event less the answer's arrival; negative: the client was first) says
// how it compares with the answer.
func BenchmarkLiveLatency(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			where := b.TempDir()
			if driver == "postgres" {
				where = pgtest.URL(b)
			}
			s := startServer(b, where)
			res := post(b, s, "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`)
			id := strings.TrimPrefix(res.Header.Get("Location"), "/user.user/")
			c := openSSE(b, s, "/_events?domain=user&resource=user&id="+id)
			send, answer, liveAfter := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				post(b, s, "/user:update-user/user/"+id, fmt.Sprintf(`{"name":"Ann %d"}`, i))
				t1 := time.Now()
				for ev := c.next(b); ev.Version != int64(i+2); ev = c.next(b) {
				}
				t2 := time.Now()
				send, answer, liveAfter = append(send, t2.Sub(t0)), append(answer, t1.Sub(t0)), append(liveAfter, t2.Sub(t1))
			}
			b.StopTimer()
			report(b, send, "send-live")
			report(b, answer, "send-answer")
			report(b, liveAfter, "live-answer")
		})
	}
}

func report(b *testing.B, d []time.Duration, name string) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
}

// post sends a command and fails unless it succeeds.
func post(b testing.TB, s *server, path, body string) *http.Response {
	res, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		b.Fatalf("%s: %d", path, res.StatusCode)
	}
	return res
}

// BenchmarkLiveIdleClients holds 1,000 idle SSE clients on one host and
// reports what each costs it: heap and goroutine stacks, from MemStats
// before and after (the clients are bare connections in the same process,
// reading nothing, so nearly all of it is the host's).
func BenchmarkLiveIdleClients(b *testing.B) {
	const clients = 1000
	mem := func() runtime.MemStats {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m
	}
	for range b.N {
		s := startServerWith(b, b.TempDir(), nil, func(o *admin.Options) { o.Live.MaxClients = clients })
		addr := strings.TrimPrefix(s.url, "http://")
		before := mem()
		goroutines := runtime.NumGoroutine()
		conns := make([]net.Conn, clients)
		for i := range conns {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns[i] = conn
			fmt.Fprint(conn, "GET /_events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
			head := make([]byte, 1024) // the answer's head and the retry hint
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := conn.Read(head); err != nil || !strings.HasPrefix(string(head[:n]), "HTTP/1.1 200") {
				b.Fatalf("client %d: %q %v", i, head[:n], err)
			}
		}
		after := mem()
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/clients, "heap-B/client")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/clients, "stack-B/client")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/clients, "goroutines/client")
		for _, conn := range conns {
			conn.Close()
		}
		s.stop()
	}
}
