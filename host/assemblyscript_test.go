package host_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
)

// A plugin in another language, written against abi/ABI.md with no SDK:
// the host loads it, the scenario harness tests it and it serves commands.
// Its build needs npm's AssemblyScript (npm ci in its directory); CI has it.
func TestAssemblyScriptPlugin(t *testing.T) {
	dir := filepath.Join("..", "plugins", "examples", "counter-as")
	wasm := counterAS(t)
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

// counterAS builds the AssemblyScript example once per test binary.
func counterAS(t testing.TB) []byte {
	t.Helper()
	dir := filepath.Join("..", "plugins", "examples", "counter-as")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "asc")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI builds the AssemblyScript plugin: run npm ci in plugins/examples/counter-as")
		}
		t.Skip("AssemblyScript is not installed: npm ci in plugins/examples/counter-as")
	}
	builtMu.Lock()
	defer builtMu.Unlock()
	if wasm, ok := built["counter-as"]; ok {
		return wasm
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
	built["counter-as"] = wasm
	return wasm
}

// BenchmarkGuestCallAssemblyScript is one add command decided by the
// AssemblyScript counter, whose own work is a few hundred nanoseconds: what
// is left is the host's cost per guest call (encoding the envelope into the
// guest, the call, decoding the answer). fuel=off shows what metering adds.
func BenchmarkGuestCallAssemblyScript(b *testing.B) {
	wasm := counterAS(b)
	for _, unmetered := range []bool{false, true} {
		name := "fuel=on"
		if unmetered {
			name = "fuel=off"
		}
		b.Run(name, func(b *testing.B) {
			e := bareEnv(b, func(c *host.Config) { c.Unmetered = unmetered })
			p, err := e.host.Load(ctx, "counter-as.wasm", wasm)
			if err != nil {
				b.Fatal(err)
			}
			cmd := &abi.Command{ID: "cmd-1", Domain: "tally", Name: "add", Resource: "counter", AggregateID: "c-1",
				Payload: []byte(`{"by":2}`), State: []byte(`{"n":40}`), Version: 3, Time: 1}
			b.ReportAllocs()
			for b.Loop() {
				res, err := p.Handle(ctx, cmd)
				if err != nil || res.Status != abi.StatusOK {
					b.Fatal(err, res)
				}
			}
		})
	}
}
