package admin

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/live"
)

// isWebSocketUpgrade says whether a request asks for a WebSocket (RFC 6455
// section 4.2.1): a GET with Upgrade: websocket and Connection: upgrade.
func isWebSocketUpgrade(c *fiber.Ctx) bool {
	if c.Method() != fiber.MethodGet || !strings.EqualFold(strings.TrimSpace(c.Get(fiber.HeaderUpgrade)), "websocket") {
		return false
	}
	for _, t := range strings.Split(c.Get(fiber.HeaderConnection), ",") {
		if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
			return true
		}
	}
	return false
}

// wsMaxMessage is what a client may send in one message, read and let go.
const wsMaxMessage = 64 << 10

// liveWebSocket answers an upgrade of GET /_events: the same events as
// SSE, each a text message with the same JSON (its cursor in it, for
// after= on reconnecting), a ping as heartbeat, and a close frame with a
// code and the reason when the host ends the stream.
func (s *Server) liveWebSocket(c *fiber.Ctx, p *live.SubscribeParams) error {
	if c.Get("Sec-WebSocket-Version") != "13" {
		c.Set("Sec-WebSocket-Version", "13")
		return problemError(fiber.StatusUpgradeRequired, "websocket-version", "this host speaks WebSocket version 13")
	}
	key := c.Get("Sec-WebSocket-Key")
	if nonce, err := base64.StdEncoding.DecodeString(key); err != nil || len(nonce) != 16 {
		return problemError(fiber.StatusBadRequest, "invalid-websocket-key", "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	sub, err := s.live.Subscribe(c.UserContext(), p)
	if err != nil {
		return s.liveRefused(c, err)
	}
	accept := websocketAccept(key)
	// The handshake's answer is written on the hijacked connection, so
	// fasthttp writes nothing and always hands the connection over. Should
	// it not (the connection failed first), the guard lets the
	// subscription go.
	var claimed atomic.Bool
	s.streams.Add(1)
	guard := time.AfterFunc(s.writeTimeout, func() {
		if claimed.CompareAndSwap(false, true) {
			sub.Close()
			s.streams.Done()
		}
	})
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		if !claimed.CompareAndSwap(false, true) {
			return
		}
		guard.Stop()
		defer s.streams.Done()
		s.streamWebSocket(conn, accept, sub)
	})
	return nil
}

// websocketAccept is the Sec-WebSocket-Accept answering a key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// streamWebSocket writes a subscription as WebSocket messages until it
// ends or the client goes. Hijacked connections have no server timeouts:
// every write here gets WriteTimeout itself.
func (s *Server) streamWebSocket(conn net.Conn, accept string, sub *live.Subscription) {
	defer sub.Close()
	s.boundSendBuffer(conn)
	bw := bufio.NewWriterSize(conn, 4<<10)
	var mu sync.Mutex // the writer and the reader (pongs, the close answer) both write
	closing := false  // under mu: a close frame was sent, and nothing may follow it
	send := func(f ws.Frame, flush bool) error {
		mu.Lock()
		defer mu.Unlock()
		if closing {
			return net.ErrClosed
		}
		closing = f.Header.OpCode == ws.OpClose
		if err := conn.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil {
			return err
		}
		if err := ws.WriteFrame(bw, f); err != nil || !flush {
			return err
		}
		return bw.Flush()
	}
	flushOut := func() error {
		mu.Lock()
		defer mu.Unlock()
		if err := conn.SetWriteDeadline(time.Now().Add(s.writeTimeout)); err != nil {
			return err
		}
		return bw.Flush()
	}
	conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		accept + "\r\n\r\n")
	if bw.Flush() != nil {
		conn.Close()
		return
	}
	var gone atomic.Bool // the client closed, broke the protocol or went: nothing more to tell it
	read := make(chan struct{})
	go func() {
		defer close(read)
		readWebSocket(conn, send)
		gone.Store(true)
		sub.Close() // the writer's Next returns
	}()
	beat := time.NewTicker(s.liveOpts.Heartbeat)
	defer beat.Stop()
	written := false // messages wait in bw: flush once no more are ready
	for {
		wake := beat.C
		if written {
			wake = ready
		}
		ev, err := sub.Next(wake)
		if err != nil {
			if !gone.Load() {
				reason, _ := s.endReason(err, sub.Caller())
				send(ws.NewCloseFrame(ws.NewCloseFrameBody(websocketCloseCode(err), reason)), true)
			}
			break
		}
		if ev == nil {
			if written {
				err = flushOut()
			} else {
				err = send(ws.NewPingFrame(nil), true)
			}
			if err != nil {
				break
			}
			written = false
			continue
		}
		data, err := viewLiveEvent(ev)
		if err != nil {
			s.log.Error("live stream: encoding an event", "stream", ev.Stream, "version", ev.Version, "err", err)
			continue
		}
		if send(ws.NewTextFrame(data), false) != nil {
			break
		}
		written = true
	}
	// The client may answer a close: it has a moment to, then the
	// connection goes and the reader with it.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	<-read
	conn.Close()
}

func websocketCloseCode(err error) ws.StatusCode {
	switch {
	case errors.Is(err, live.ErrSlowConsumer):
		// 1008 (policy violation) rather than IANA's 1013 (try again
		// later): clients that know RFC 6455's codes alone refuse 1013.
		return ws.StatusPolicyViolation
	case errors.Is(err, live.ErrClosed):
		return ws.StatusGoingAway
	}
	return ws.StatusInternalServerError
}

// readWebSocket reads a live client's frames until it closes or the
// connection ends: pings are answered, a close is answered, messages are
// read and let go (a stream takes none), a protocol error closes with 1002
// (1009 for a message past wsMaxMessage).
func readWebSocket(conn net.Conn, send func(ws.Frame, bool) error) {
	r := bufio.NewReaderSize(conn, 512)
	refuse := func(code ws.StatusCode, reason string) {
		send(ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason)), true)
	}
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		switch {
		case !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved():
			refuse(ws.StatusProtocolError, "client frames are masked, without extensions")
			return
		case h.OpCode.IsControl() && (h.Length > ws.MaxControlFramePayloadSize || !h.Fin):
			refuse(ws.StatusProtocolError, "a control frame is one frame of at most 125 bytes")
			return
		case !h.OpCode.IsControl():
			if h.Length > wsMaxMessage {
				refuse(ws.StatusMessageTooBig, "a live stream takes no messages")
				return
			}
			if _, err := io.CopyN(io.Discard, r, h.Length); err != nil {
				return
			}
			continue
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			if send(ws.NewPongFrame(payload), true) != nil {
				return
			}
		case ws.OpClose:
			send(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")), true)
			return
		}
	}
}
