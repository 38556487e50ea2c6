package main

import (
	"testing"

	"fluvius.dev/fluvius/host/harness"
)

// The scenarios run natively here; the host's tests run them against the
// built .wasm.
func TestScenarios(t *testing.T) { harness.RunFile(t, harness.Native(Domain), "scenarios.json") }
