package meter_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"fluvius.dev/fluvius/meter"
)

// wat assembles testdata/name with wat2wasm (Debian's wabt), which CI must
// have; elsewhere its absence skips the test.
func wat(t *testing.T, name string, flags ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wat2wasm is not on PATH: install Debian's wabt")
		}
		t.Skip("wat2wasm is not on PATH (Debian's wabt)")
	}
	out := filepath.Join(t.TempDir(), "out.wasm")
	args := append(flags, filepath.Join("testdata", name), "-o", out)
	if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSIMDAndTailCallsFromWAT(t *testing.T) {
	in := wat(t, "simd_tail.wat", "--enable-tail-call")
	out := rewrite(t, in, meter.Options{})
	ctx := context.Background()
	eachEngine(t, func(t *testing.T, e engine) {
		cfg := e.cfg().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall)
		run := func(wasm []byte) api.Module {
			rt := wazero.NewRuntimeWithConfig(ctx, cfg)
			t.Cleanup(func() { rt.Close(ctx) })
			mod, err := rt.Instantiate(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			return mod
		}
		plain, mod := run(in), run(out)
		want, err := plain.ExportedFunction("simd").Call(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, err, _ := callWith(t, mod, 1<<40, "simd"); err != nil || got[0] != want[0] {
			t.Errorf("simd: metered %v, %v; plain %v", got, err, want)
		}
		got, err, used := callWith(t, mod, 1<<40, "down", 1000)
		if err != nil || got[0] != 42 {
			t.Errorf("down(1000) = %v, %v", got, err)
		}
		if used < 1001 {
			t.Errorf("1001 tail calls used %d fuel", used)
		}
		if _, err, _ := callWith(t, mod, 1_000_000, "forever", 0); err == nil || getFuel(t, mod) >= 0 {
			t.Errorf("endless tail recursion: %v, fuel %d", err, getFuel(t, mod))
		}
	})
}
