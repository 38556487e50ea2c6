package host

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Traces follow a command from the HTTP layer through the dispatcher, the
// guest's decision and the commit, and on through the handlers its events
// reach. The tracer is OpenTelemetry's global one: a no-op until a
// provider is installed (package tracing, when OTLP is configured).
var tracer = otel.Tracer("fluvius.dev/fluvius/host")

// w3c is the propagation format of the trace context stored in an event's
// metadata: W3C Trace Context, whatever the process's own propagator is,
// so that every host and tool reads it the same way.
var w3c = propagation.TraceContext{}

// traceContext renders ctx's span as W3C traceparent and tracestate ("" when
// there is no span worth keeping).
func traceContext(ctx context.Context) (parent, state string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	carrier := propagation.MapCarrier{}
	w3c.Inject(ctx, carrier)
	return carrier["traceparent"], carrier["tracestate"]
}

// withTraceContext returns ctx continuing the trace an event's metadata
// names; ctx as it is when it names none (or garbage: it is stored data).
func withTraceContext(ctx context.Context, parent, state string) context.Context {
	if parent == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{"traceparent": parent, "tracestate": state})
}

// endSpan closes a span with an error's kind and code, if any.
func endSpan(span trace.Span, err error) {
	if err != nil {
		he := AsError(err)
		span.SetAttributes(attribute.String("fluvius.error.code", he.Code))
		if he.Kind == KindInternal || he.Kind == KindUnavailable {
			span.SetStatus(codes.Error, he.Message)
		}
	}
	span.End()
}
