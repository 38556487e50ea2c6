package admin

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// routeMCP mounts the MCP endpoint (streamable HTTP) at /mcp. The MCP SDK
// is a net/http handler that streams (server-sent events on a long GET, and
// answers to POSTs): bridge runs it on fasthttp without buffering its
// answer, so a session's notifications reach the client as they happen.
func (s *Server) routeMCP() {
	h := s.mcp.Handler()
	s.app.All("/mcp", func(c *fiber.Ctx) error { return s.bridge(c, h) })
}

// bridge serves a net/http handler's answer as a stream: the status and
// headers once the handler writes its first byte (or flushes, or returns),
// then every write, flushed when the handler flushes. The handler's request
// context ends when the client goes or the server shuts down.
func (s *Server) bridge(c *fiber.Ctx, h http.Handler) error {
	var req http.Request
	if err := fasthttpadaptor.ConvertRequest(c.Context(), &req, true); err != nil {
		return problemError(fiber.StatusBadRequest, "malformed-request", err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &streamWriter{header: http.Header{}, ready: make(chan struct{}), chunks: make(chan []byte, 16), done: make(chan struct{}),
		gone: make(chan struct{})}
	go func() {
		defer cancel()
		defer w.finish()
		h.ServeHTTP(w, req.WithContext(ctx))
	}()
	select {
	case <-w.ready:
	case <-w.done:
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	c.Status(status)
	for k, vs := range w.header {
		for i, v := range vs {
			if i == 0 {
				c.Set(k, v)
			} else {
				c.Context().Response.Header.Add(k, v)
			}
		}
	}
	conn := c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(bw *bufio.Writer) {
		defer cancel()
		defer close(w.gone) // the handler's writes fail from now on
		for {
			select {
			case b, ok := <-w.chunks:
				if !ok {
					return
				}
				// Each write gets WriteTimeout, not the stream (see liveEvents).
				conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
				if b == nil {
					if bw.Flush() != nil {
						return
					}
					continue
				}
				if _, err := bw.Write(b); err != nil {
					return
				}
			case <-s.shutdown:
				return
			}
		}
	})
	return nil
}

// streamWriter is the http.ResponseWriter bridge hands the handler: writes
// go to chunks (nil is a flush); the first one, a flush or WriteHeader
// makes the headers ready.
type streamWriter struct {
	header   http.Header
	status   int
	ready    chan struct{}
	once     sync.Once
	chunks   chan []byte
	done     chan struct{}
	gone     chan struct{} // closed when the client is no longer written to
	finished sync.Once
	closed   bool
	mu       sync.Mutex
}

func (w *streamWriter) Header() http.Header { return w.header }

func (w *streamWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status = status
		// The handler's header map is ours to read from now on.
		w.header = w.header.Clone()
		close(w.ready)
	})
}

func (w *streamWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	select {
	case w.chunks <- append([]byte(nil), b...):
		return len(b), nil
	case <-w.gone:
		return 0, io.ErrClosedPipe
	}
}

func (w *streamWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		select {
		case w.chunks <- nil:
		case <-w.gone:
		}
	}
}

func (w *streamWriter) finish() {
	w.finished.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.chunks)
		w.mu.Unlock()
		close(w.done)
	})
}

var _ http.Flusher = (*streamWriter)(nil)
