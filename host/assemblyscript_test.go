package host_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"fluvius.dev/fluvius/host"
)

// A plugin in another language, written against abi/ABI.md with no SDK:
// the host loads it, the scenario harness tests it and it serves commands.
// Its build needs npm's AssemblyScript (npm ci in its directory); CI has it.
func TestAssemblyScriptPlugin(t *testing.T) {
	dir := filepath.Join("..", "plugins", "examples", "counter-as")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "asc")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI builds the AssemblyScript plugin: run npm ci in plugins/examples/counter-as")
		}
		t.Skip("AssemblyScript is not installed: npm ci in plugins/examples/counter-as")
	}
	build := exec.Command("npm", "run", "--silent", "build")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "build", "counter.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	e := bareEnv(t, nil)
	p, err := e.host.Load(ctx, "counter-as.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	runScenarios(t, p, filepath.Join(dir, "scenarios.json"))
	// And it serves: open, add, refuse past the limit, and replay.
	_, created := dispatch(t, e.host, host.Command{Domain: "tally", Name: "open-counter", Resource: "counter", New: true})
	for i := 0; i < 3; i++ {
		dispatch(t, e.host, host.Command{Domain: "tally", Name: "add", Resource: "counter", AggregateID: created.ID,
			Payload: []byte(`{"by":5}`)})
	}
	rec, err := e.host.State(ctx, nobody, "tally", "counter", created.ID)
	if err != nil || string(rec.Data) != `{"n":15}` || rec.Version != 4 {
		t.Fatalf("state %+v %v", rec, err)
	}
	replayed, err := e.host.StateAt(ctx, nobody, "tally", "counter", created.ID, 2)
	if err != nil || string(replayed) != `{"n":5}` {
		t.Fatalf("state at version 2: %s %v", replayed, err)
	}
}
