package main

import (
	"testing"

	"fluvius.dev/fluvius/sdk/scenario"
)

func TestScenarios(t *testing.T) { scenario.RunFile(t, scenario.Native(Domain), "scenarios.json") }
