package main

import (
	"testing"

	"fluvius.dev/fluvius/sdk/scenario"
)

// The scenarios run natively here; the host's tests run them against the
// built .wasm.
func TestScenarios(t *testing.T) { scenario.RunFile(t, scenario.Native(Domain), "scenarios.json") }
