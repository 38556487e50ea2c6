package tracing_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"fluvius.dev/fluvius/tracing"
)

// Without a collector named, nothing is recorded, but the W3C trace
// context is still read from requests.
func TestNothingRecordedUnlessConfigured(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if tracing.Configured() {
		t.Fatal("configured without an endpoint")
	}
	shutdown, err := tracing.Setup(context.Background(), "fluvius-test", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	ctx := otel.GetTextMapPropagator().Extract(context.Background(),
		propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	_, span := otel.Tracer("test").Start(ctx, "work")
	defer span.End()
	if span.IsRecording() {
		t.Fatal("a span is recorded with no collector configured")
	}
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("the caller's trace was not continued: %s", got)
	}
}

// A named collector is configured (its export is tested against a real
// OTLP receiver with a host process: cmd/fluvius-host TestTracesExportedOverOTLP).
func TestConfiguredByTheStandardVariables(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
	if !tracing.Configured() {
		t.Fatal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT did not configure tracing")
	}
}
