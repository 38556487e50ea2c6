package host_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/sdk/scenario"
)

var (
	builtMu sync.Mutex
	built   = map[string][]byte{}
)

// example builds an example plugin with a toolchain once per test binary.
// TinyGo is required under CI; elsewhere its absence skips the test.
func example(t testing.TB, name string, tc wasmbuild.Toolchain) []byte {
	t.Helper()
	if tc == wasmbuild.TinyGo {
		if _, _, err := wasmbuild.FindTinyGo(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI builds the TinyGo variants: %v", err)
			}
			t.Skip(err)
		}
	}
	builtMu.Lock()
	defer builtMu.Unlock()
	key := name + "/" + string(tc)
	if wasm, ok := built[key]; ok {
		return wasm
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	if err := wasmbuild.Build(context.Background(), tc, filepath.Join("..", "plugins", "examples", name), out); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[key] = wasm
	return wasm
}

var examples = []string{"user", "order", "bank"}

// Every example's scenarios pass against its .wasm, built with Go's wasip1
// port and with TinyGo, metered and not, exactly as they pass natively in
// the example's own tests: metering changes no result.
func TestExampleScenariosInWasm(t *testing.T) {
	for _, tc := range []wasmbuild.Toolchain{wasmbuild.Go, wasmbuild.TinyGo} {
		for _, unmetered := range []bool{false, true} {
			name := string(tc) + "/metered"
			if unmetered {
				name = string(tc) + "/unmetered"
			}
			t.Run(name, func(t *testing.T) { testExampleScenarios(t, tc, unmetered) })
		}
	}
}

func testExampleScenarios(t *testing.T, tc wasmbuild.Toolchain, unmetered bool) {
	e := bareEnv(t, func(c *host.Config) { c.Unmetered = unmetered })
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			p, err := e.host.Load(ctx, name+".wasm", example(t, name, tc))
			if err != nil {
				t.Fatal(err)
			}
			runScenarios(t, p, filepath.Join("..", "plugins", "examples", name, "scenarios.json"))
		})
	}
}

// runScenarios runs a scenario file against a loaded plugin.
func runScenarios(t *testing.T, p scenario.Engine, path string) {
	t.Helper()
	f, err := scenario.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if hp, ok := p.(*host.Plugin); ok {
		// Given aggregates and media go into the plugin's host's store.
		p = host.ScenarioEngine(hp)
	}
	outcomes, err := scenario.Run(ctx, p, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes {
		for _, f := range o.Failures {
			t.Errorf("%s: %s", o.Name, f)
		}
	}
}
