package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// wsClient is a WebSocket client of GET /_events.
type wsClient struct {
	conn net.Conn
	rw   io.ReadWriter // reads what the handshake read ahead first
}

// dialWS opens a live WebSocket; an answer other than 101 comes back as
// ws.StatusError with its status.
func dialWS(t *testing.T, s *server, path string, netDial func(string) (net.Conn, error), headers ...string) (*wsClient, error) {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(h), Timeout: 10 * time.Second}
	if netDial != nil {
		d.NetDial = func(_ context.Context, _, addr string) (net.Conn, error) { return netDial(addr) }
	}
	conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(s.url, "http")+path)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{conn: conn, rw: conn}
	if br != nil {
		c.rw = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, conn), conn}
	}
	return c, nil
}

// next reads the next message as an event; pings are answered on the way.
func (c *wsClient) next(t *testing.T) (liveEvent, error) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	data, op, err := wsutil.ReadServerData(c.rw)
	if err != nil {
		return liveEvent{}, err
	}
	var ev liveEvent
	if op != ws.OpText || json.Unmarshal(data, &ev) != nil {
		t.Fatalf("message %v %q", op, data)
	}
	return ev, nil
}

func (c *wsClient) expect(t *testing.T, want ...string) []liveEvent {
	t.Helper()
	var got []liveEvent
	for i := 0; i+1 < len(want); i += 2 {
		ev, err := c.next(t)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != want[i] || ev.AggregateID != want[i+1] {
			t.Fatalf("event %d: %s of %s, want %s of %s", i/2, ev.Type, ev.AggregateID, want[i], want[i+1])
		}
		got = append(got, ev)
	}
	return got
}

// closed reads until the host closes and returns its close code and
// reason, and how many events came first.
func (c *wsClient) closed(t *testing.T) (ws.StatusCode, string, int) {
	t.Helper()
	for n := 0; ; n++ {
		_, err := c.next(t)
		var ce wsutil.ClosedError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, n
		}
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
	}
}

// Over a WebSocket: the same events as JSON messages with their cursors,
// resuming with after=, the same refusals before the upgrade, pings as
// heartbeats, a client's close answered, and the host's close frames with
// their codes: 1008 for a slow client, 1001 when the host stops.
func TestLiveEventsWebSocket(t *testing.T) { onDrivers(t, testLiveEventsWebSocket) }

func testLiveEventsWebSocket(t *testing.T, fresh func() string) {
	var st store.Driver
	s := startServerOn(t, fresh(), nil, func(_ *host.Host, d store.Driver, o *admin.Options) {
		st, o.Live.Buffer, o.Live.SendBuffer, o.Live.Heartbeat = d, 64, 64<<10, 50*time.Millisecond
	})
	c, err := dialWS(t, s, "/_events?domain=user", nil, acmeAnn...)
	if err != nil {
		t.Fatal(err)
	}
	u1 := createUser(t, s, "ann", acmeAnn...)
	createUser(t, s, "bob", globexBob...)
	renameUser(t, s, u1, "Ann B", acmeAnn...)
	seen := c.expect(t, "user-created", u1, "user-updated", u1)
	if seen[0].Domain != "user" || seen[0].Version != 1 || seen[0].Cursor == "" || !strings.Contains(string(seen[0].Data), "ann@example.com") {
		t.Fatalf("event %+v", seen[0])
	}
	// Idle, the stream pings; the client answers.
	for pings := 0; pings < 3; {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, err := ws.ReadHeader(c.rw)
		if err != nil || h.OpCode != ws.OpPing || h.Length != 0 {
			t.Fatalf("an idle stream sent %+v %v", h, err)
		}
		if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewPongFrame(nil))); err != nil {
			t.Fatal(err)
		}
		pings++
	}
	renameUser(t, s, u1, "Ann C", acmeAnn...)
	c.expect(t, "user-updated", u1)

	// A client's close is answered with a close.
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := c.closed(t); code != ws.StatusNormalClosure {
		t.Fatalf("the host answered a close with %d", code)
	}

	resumed, err := dialWS(t, s, "/_events?domain=user&after="+seen[0].Cursor, nil, acmeAnn...)
	if err != nil {
		t.Fatal(err)
	}
	resumed.expect(t, "user-updated", u1, "user-updated", u1)
	resumed.conn.Close() // the host notices at its next heartbeat

	for path, status := range map[string]int{"/_events?domain=nope": 404, "/_events?id=x": 400, "/_events?domain=user&after=x": 400} {
		if _, err := dialWS(t, s, path, nil); !errors.Is(err, ws.StatusError(status)) {
			t.Fatalf("%s: %v, want %d", path, err, status)
		}
	}

	// A client that reads nothing while 2,000 events are written is
	// closed with 1008 and the reason, after what it had.
	slow, err := dialWS(t, s, "/_events?domain=user", dialSmallWindow, acmeAnn...)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 4<<10)
	for b := range 40 {
		evs := make([]store.NewEvent, 50)
		for i := range evs {
			evs[i] = store.NewEvent{ID: fmt.Sprintf("ws-%d-%d", b, i), Type: "user-updated", Data: []byte(`{"name":"` + pad + `"}`), Metadata: []byte(`{}`)}
		}
		if _, err := st.Executor().EventsAppend(context.Background(), &store.EventsAppendParams{
			StreamKey: store.StreamKey{Tenant: "acme", Stream: host.Stream("user", "user", u1)}, ExpectedVersion: store.AnyVersion,
			Events: evs, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if code, reason, n := slow.closed(t); code != ws.StatusPolicyViolation || reason != "slow-consumer" || n >= 2000 {
		t.Fatalf("the slow client was closed with %d %q after %d events", code, reason, n)
	}

	// Stopping the host closes with 1001.
	last, err := dialWS(t, s, "/_events?domain=user", nil, acmeAnn...)
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	if code, reason, _ := last.closed(t); code != ws.StatusGoingAway || reason != "shutting-down" {
		t.Fatalf("at shutdown: %d %q", code, reason)
	}
}
