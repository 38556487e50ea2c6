package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// A request's span is the root of what the host does for it: the
// dispatcher's, the guest's and the commit's spans are its children. The
// caller's trace is continued from its headers (W3C traceparent, with the
// process's propagator); the tracer is a no-op until a provider is
// installed (package tracing).
var httpTracer = otel.Tracer("fluvius.dev/fluvius/admin")

// headerCarrier reads a request's headers for the propagator (copies:
// the context outlives the request's buffers).
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return string(h.c.Request().Header.Peek(key)) }
func (h headerCarrier) Set(string, string)    {}
func (h headerCarrier) Keys() []string        { return nil }

func traceRequests(c *fiber.Ctx) error {
	ctx := otel.GetTextMapPropagator().Extract(c.UserContext(), headerCarrier{c})
	method := strings.Clone(c.Method())
	ctx, span := httpTracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
	c.SetUserContext(ctx)
	err := c.Next()
	if span.IsRecording() {
		status := c.Response().StatusCode()
		if err != nil {
			status = problemOf(err).Status
		}
		path := strings.Clone(c.Path())
		span.SetAttributes(attribute.String("http.request.method", method), attribute.String("url.path", path),
			attribute.Int("http.response.status_code", status), attribute.String("fluvius.request_id", requestIDOf(c)))
		if route := c.Route().Path; route != "/*" && route != "/" {
			span.SetName(method + " " + route)
			span.SetAttributes(attribute.String("http.route", strings.Clone(route)))
		} else {
			// Commands and queries are routed by the catch-all: the span
			// is named by their kind (the dispatch span names the command).
			span.SetName(method + " " + routeKind(method, path))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
	return err
}
