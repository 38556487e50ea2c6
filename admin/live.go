package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/live"
)

// LiveOptions configure GET /_events.
type LiveOptions struct {
	// MaxClients bounds the live clients of this host; past it a stream is
	// refused with 503 and Retry-After. 0 means 1000.
	MaxClients int
	// Heartbeat is how often an idle stream sends a comment (SSE) or a
	// ping (WebSocket), so proxies keep it and dead clients are noticed; 0
	// means 15 s.
	Heartbeat time.Duration
	// Buffer and BufferBytes bound the events waiting for one client (0:
	// 256 events, 1 MiB); a client that lets more pile up is dropped
	// (slow-consumer).
	Buffer, BufferBytes int
	// SendBuffer is the kernel's send buffer for a stream's connection;
	// 0 means 256 KiB. The kernel would otherwise grow it to several MiB
	// for a client that stops reading, host memory the buffers above do
	// not count.
	SendBuffer int
}

// boundSendBuffer sets a stream connection's kernel send buffer.
func (s *Server) boundSendBuffer(conn net.Conn) {
	if h, ok := conn.(interface{ UnsafeConn() net.Conn }); ok { // fasthttp's hijacked connection
		conn = h.UnsafeConn()
	}
	if c, ok := conn.(interface{ SetWriteBuffer(int) error }); ok {
		c.SetWriteBuffer(s.liveOpts.SendBuffer)
	}
}

// sseRetry is the reconnection delay an SSE stream suggests.
const sseRetry = 2 * time.Second

// liveQueryKeys are the parameters GET /_events takes.
var liveQueryKeys = []string{"domain", "resource", "id", "type", "after"}

// liveEvents handles GET /_events: the caller's events as they are
// committed, as Server-Sent Events or, on an upgrade, over a WebSocket.
func (s *Server) liveEvents(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	p, err := liveParams(c)
	if err != nil {
		return err
	}
	p.Caller = caller
	if err := s.authorizeStream(c.UserContext(), caller, p.Filter); err != nil {
		return err
	}
	if isWebSocketUpgrade(c) {
		return s.liveWebSocket(c, p)
	}
	if c.Get(fiber.HeaderAccept) != "" && c.Accepts("text/event-stream") == "" {
		return problemError(fiber.StatusNotAcceptable, "not-acceptable",
			"GET /_events answers text/event-stream (Server-Sent Events), or a WebSocket on an upgrade")
	}
	var sub *live.Subscription
	if c.Method() != fiber.MethodHead {
		if sub, err = s.live.Subscribe(c.UserContext(), p); err != nil {
			return s.liveRefused(c, err)
		}
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no") // proxies that buffer answers must not hold a stream's events
	if sub == nil {
		return nil
	}
	// fasthttp sets the connection's write deadline once, before it writes
	// an answer: a stream would be cut WriteTimeout after it began. The
	// stream moves the deadline on before each write instead, so that
	// WriteTimeout bounds every write (a client that stops reading is
	// still cut) and not the stream.
	conn := c.Context().Conn()
	s.boundSendBuffer(conn)
	// The connection ends with the stream: its send buffer is a stream's.
	c.Context().SetConnectionClose()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) { s.streamSSE(w, conn, sub) })
	return nil
}

// liveParams reads a stream's filter and where it resumes: Last-Event-ID
// (an SSE client reconnecting) over the after parameter.
func liveParams(c *fiber.Ctx) (*live.SubscribeParams, error) {
	args := c.Context().QueryArgs()
	var bad error
	args.VisitAll(func(k, _ []byte) {
		if bad == nil && !slices.Contains(liveQueryKeys, string(k)) {
			bad = problemError(fiber.StatusBadRequest, "invalid-query", "unknown parameter "+strconv.Quote(string(k))+
				": GET /_events takes "+strings.Join(liveQueryKeys, ", "))
		}
	})
	if bad != nil {
		return nil, bad
	}
	for _, k := range []string{"domain", "resource", "id", "after"} {
		if n := len(args.PeekMulti(k)); n > 1 {
			return nil, problemError(fiber.StatusBadRequest, "invalid-query", k+" is given "+strconv.Itoa(n)+" times")
		}
	}
	p := &live.SubscribeParams{Filter: live.Filter{Domain: strings.Clone(c.Query("domain")),
		Resource: strings.Clone(c.Query("resource")), ID: strings.Clone(c.Query("id"))}}
	for _, v := range args.PeekMulti("type") {
		for _, t := range strings.Split(string(v), ",") {
			if t = strings.TrimSpace(t); t == "" {
				return nil, problemError(fiber.StatusBadRequest, "invalid-query", "type names event types, comma separated or repeated; one is empty")
			}
			p.Filter.Types = append(p.Filter.Types, t)
		}
	}
	if err := p.Filter.Check(); err != nil {
		return nil, problemError(fiber.StatusBadRequest, "invalid-query", "resource needs domain, and id needs resource")
	}
	from, name := c.Get("Last-Event-ID"), "Last-Event-ID"
	if from == "" {
		from, name = c.Query("after"), "after"
	}
	if from != "" {
		cur, ok := parseCursor(from)
		if !ok || cur.Position < 0 {
			return nil, problemError(fiber.StatusBadRequest, "invalid-query", name+" is the id of an event a stream gave, not "+strconv.Quote(from))
		}
		p.After = &cur
	}
	return p, nil
}

// authorizeStream refuses, before a stream starts, what can be known up
// front: a domain or resource not served (404), an aggregate or resource
// the caller may not read (401, 403). The rest is decided event by event.
func (s *Server) authorizeStream(ctx context.Context, caller abi.Caller, f live.Filter) error {
	switch {
	case f.ID != "":
		_, err := s.host.AuthorizeRead(ctx, caller, f.Domain, f.Resource, f.ID)
		return err
	case f.Domain != "":
		return s.host.AuthorizeReadResource(caller, f.Domain, f.Resource)
	}
	return nil
}

// liveAccess decides reads for the hub by the host's rules: a refusal
// (not found, forbidden, unauthenticated) is a grant that does not allow;
// anything else is a failure.
func (s *Server) liveAccess(ctx context.Context, caller abi.Caller, domain, resource, id string) (live.Grant, error) {
	a, err := s.host.AuthorizeRead(ctx, caller, domain, resource, id)
	g := live.Grant{Allowed: err == nil, ByRoles: a.ByRoles, Version: a.StateVersion}
	if err != nil {
		switch host.AsError(err).Kind {
		case host.KindNotFound, host.KindForbidden, host.KindUnauthenticated:
			return g, nil
		}
		return g, err
	}
	return g, nil
}

// liveRefused answers a stream the hub did not take.
func (s *Server) liveRefused(c *fiber.Ctx, err error) error {
	p := Problem{Status: fiber.StatusServiceUnavailable}
	switch {
	case errors.Is(err, live.ErrFull):
		p.Code, p.Detail = "too-many-streams", "this host serves as many live streams as it may: try again later, or another host"
	case errors.Is(err, live.ErrClosed):
		p.Code, p.Detail = "shutting-down", "this host is shutting down"
	default:
		return err
	}
	status, body := p.render()
	c.Set(fiber.HeaderRetryAfter, "5") // a full host does not empty in a second
	c.Set(fiber.HeaderContentType, problemContentType)
	return c.Status(status).Send(body)
}

// liveEventView is an event as a stream sends it: as GET .../events shows
// it, with its aggregate and its cursor.
type liveEventView struct {
	host.EventView
	Domain      string `json:"domain"`
	Resource    string `json:"resource"`
	AggregateID string `json:"aggregate_id"`
	Cursor      string `json:"cursor"`
}

func viewLiveEvent(ev *live.Event) ([]byte, error) {
	return json.Marshal(liveEventView{EventView: host.ViewEvent(ev.Event, true), Domain: ev.Domain, Resource: ev.Resource,
		AggregateID: ev.AggregateID, Cursor: cursorString(ev.Cursor())})
}

// endReason is the reason a stream gives its client when it ends it.
func (s *Server) endReason(err error, caller abi.Caller) (reason, detail string) {
	switch {
	case errors.Is(err, live.ErrSlowConsumer):
		return "slow-consumer", "the client fell behind the events: reconnect from the last event id to resume"
	case errors.Is(err, live.ErrClosed):
		return "shutting-down", "this host is shutting down: reconnect from the last event id to resume"
	}
	s.log.Error("live stream failed", "user", caller.UserID, "tenant", caller.Tenant, "err", err)
	return "internal", "the stream failed: reconnect from the last event id to resume"
}

// streamSSE writes a subscription as Server-Sent Events until it ends or
// the client goes: a retry hint first, then each event (id: its cursor,
// event: its type, data: its JSON), a comment as heartbeat when idle, and
// an error event saying why the host ends the stream.
func (s *Server) streamSSE(w *bufio.Writer, conn net.Conn, sub *live.Subscription) {
	defer sub.Close()
	// Every write to the connection gets WriteTimeout (see liveEvents):
	// the deadline moves on before each event, as the writer's buffer may
	// pass events on to the connection before a flush.
	extend := func() error { return conn.SetWriteDeadline(time.Now().Add(s.writeTimeout)) }
	flush := func() error {
		if err := extend(); err != nil {
			return err
		}
		return w.Flush()
	}
	w.WriteString("retry: " + strconv.FormatInt(sseRetry.Milliseconds(), 10) + "\n\n")
	if flush() != nil {
		return
	}
	beat := time.NewTicker(s.liveOpts.Heartbeat)
	defer beat.Stop()
	written := false // events wait in w: flush once no more are ready
	for {
		wake := beat.C
		if written {
			wake = ready
		}
		ev, err := sub.Next(wake)
		if err != nil {
			reason, detail := s.endReason(err, sub.Caller())
			data, _ := json.Marshal(map[string]string{"reason": reason, "detail": detail})
			w.WriteString("event: error\ndata: ")
			w.Write(data)
			w.WriteString("\n\n")
			flush()
			return
		}
		if ev == nil {
			if !written {
				w.WriteString(": heartbeat\n\n")
			}
			if flush() != nil {
				return
			}
			written = false
			continue
		}
		data, err := viewLiveEvent(ev)
		if err != nil {
			s.log.Error("live stream: encoding an event", "stream", ev.Stream, "version", ev.Version, "err", err)
			continue
		}
		if extend() != nil {
			return
		}
		w.WriteString("id: " + cursorString(ev.Cursor()) + "\n")
		if !strings.ContainsAny(ev.Type, "\r\n") {
			w.WriteString("event: " + ev.Type + "\n")
		}
		w.WriteString("data: ")
		w.Write(data)
		w.WriteString("\n\n")
		written = true
	}
}

// ready is a wake that has fired: Next with it returns at once when no
// event is ready.
var ready = func() chan time.Time { c := make(chan time.Time); close(c); return c }()
