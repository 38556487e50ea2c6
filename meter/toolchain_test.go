package meter_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"fluvius.dev/fluvius/meter"
)

// toolchainOpts gives the start functions (AssemblyScript emits one) a
// budget.
var toolchainOpts = meter.Options{StartFuel: 1 << 40}

// toolchainModules lists the modules real toolchains built, when they are
// there: the example plugins (Go or TinyGo, and AssemblyScript), plus any
// path list in METER_WASM.
func toolchainModules(t testing.TB) []string {
	t.Helper()
	patterns := []string{"../build/plugins/*.wasm", "../plugins/examples/counter-as/build/*.wasm"}
	patterns = append(patterns, filepath.SplitList(os.Getenv("METER_WASM"))...)
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

func TestToolchainModulesStillCompile(t *testing.T) {
	files := toolchainModules(t)
	if len(files) == 0 {
		t.Skip("no built plugins (run make plugins, or set METER_WASM)")
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out := rewrite(t, in, toolchainOpts)
			t.Logf("%s: %d bytes, metered %d (+%.1f%%)", f, len(in), len(out), 100*float64(len(out)-len(in))/float64(len(in)))
			c, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("the metered module does not compile: %v", err)
			}
			c.Close(ctx)
		})
	}
}

// TestToolchainModulesRunTheSame runs the initialiser of each built WASI
// reactor, then its export fluvius_manifest when it has one, with and
// without metering: the results and the memory must be the same, the fuel
// used the same on every run, and one unit less must trap.
func TestToolchainModulesRunTheSame(t *testing.T) {
	files := toolchainModules(t)
	if len(files) == 0 {
		t.Skip("no built plugins (run make plugins, or set METER_WASM)")
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out := rewrite(t, in, toolchainOpts)
		t.Run(filepath.Base(f), func(t *testing.T) {
			plain, _, err := runReactor(t, in, -1)
			if err != nil {
				t.Skipf("does not run as a reactor here: %v", err)
			}
			got, used, err := runReactor(t, out, 1<<50)
			if err != nil {
				t.Fatalf("metered: %v", err)
			}
			if !bytes.Equal(got, plain) {
				t.Error("metered run ends with another memory or result than the plain one")
			}
			if _, again, _ := runReactor(t, out, 1<<50); again != used {
				t.Errorf("used %d fuel, then %d", used, again)
			}
			if _, _, err := runReactor(t, out, used-1); err == nil {
				t.Errorf("ran with %d fuel, one less than it used", used-1)
			}
			t.Logf("%d units of fuel", used)
		})
	}
}

// TestToolchainModulesCostModel runs each built reactor as
// TestToolchainModulesRunTheSame does, traced: no pass of a region may
// run more instructions than its charge, and the log compares the fuel
// used to the instructions executed.
func TestToolchainModulesCostModel(t *testing.T) {
	files := toolchainModules(t)
	if len(files) == 0 {
		t.Skip("no built plugins (run make plugins, or set METER_WASM)")
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := runReactor(t, in, -1); err != nil {
			continue // TestToolchainModulesRunTheSame says why
		}
		out, err := meter.RewriteTraced(in, toolchainOpts)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			var count, violation, depth, maxDepth uint64
			// The interpreter: it compiles the traced code much faster.
			cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2)
			_, used, err := runReactorThen(t, cfg, out, 1<<50, func(mod api.Module) {
				// Not the start function's, which StartFuel paid.
				mod.ExportedGlobal(meter.TraceCount).(api.MutableGlobal).Set(0)
			}, func(mod api.Module) {
				count = mod.ExportedGlobal(meter.TraceCount).Get()
				violation = mod.ExportedGlobal(meter.TraceViolation).Get()
				depth = mod.ExportedGlobal(meter.TraceDepth).Get()
				maxDepth = mod.ExportedGlobal(meter.TraceMaxDepth).Get()
			})
			if violation != 0 {
				t.Fatalf("a pass ran more instructions than it was charged for (%v)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d units of fuel for %d instructions (%.2f a unit), calls %d deep at most",
				used, count, float64(count)/float64(used), maxDepth)
			if depth != 0 {
				t.Errorf("call depth %d after the calls returned", int32(depth))
			}
			if maxDepth > meter.DefaultMaxCallDepth/10 {
				t.Errorf("calls %d deep: within a tenth of DefaultMaxCallDepth no more", maxDepth)
			}
		})
	}
}

// reactorCache spares recompiling the same module on every run.
var reactorCache = wazero.NewCompilationCache()

// runReactor instantiates a WASI reactor, sets its fuel unless fuel is
// negative, and calls _initialize and fluvius_manifest. It returns the
// results followed by the memory, and the fuel used.
func runReactor(t *testing.T, wasm []byte, fuel int64) ([]byte, int64, error) {
	cfg := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2).WithCompilationCache(reactorCache)
	return runReactorThen(t, cfg, wasm, fuel, nil, nil)
}

// runReactorThen is runReactor in a runtime of the given configuration,
// calling before with the instance before the calls, and after once they
// are done, failed or not.
func runReactorThen(t *testing.T, cfg wazero.RuntimeConfig, wasm []byte, fuel int64,
	before, after func(api.Module)) ([]byte, int64, error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		return nil, 0, err
	}
	if fuel >= 0 {
		setFuel(t, mod, fuel)
	}
	if before != nil {
		before(mod)
	}
	if after != nil {
		defer after(mod)
	}
	var state []byte
	for _, name := range []string{"_initialize", "fluvius_manifest"} {
		if fn := mod.ExportedFunction(name); fn != nil {
			res, err := fn.Call(ctx)
			if err != nil {
				return nil, 0, err
			}
			for _, r := range res {
				state = binary.LittleEndian.AppendUint64(state, r)
			}
		}
	}
	if mem := mod.Memory(); mem != nil {
		b, _ := mem.Read(0, mem.Size())
		state = append(state, b...)
	}
	if fuel < 0 {
		return state, 0, nil
	}
	return state, fuel - getFuel(t, mod), nil
}

// BenchmarkRewrite rewrites the largest built module, or a synthetic one
// when none is built.
func BenchmarkRewrite(b *testing.B) {
	var in []byte
	for _, f := range toolchainModules(b) {
		if data, err := os.ReadFile(f); err == nil && len(data) > len(in) {
			in = data
		}
	}
	if in == nil {
		in = synthetic(2000)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := meter.Rewrite(in, toolchainOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// synthetic is a module of n copies each of a few test functions.
func synthetic(n int) []byte {
	m := fillAndGrow()
	m.types = append(m.types, functype([]byte{i32}, []byte{i64}))
	for range n {
		m.funcs = append(m.funcs, u(2), u(2), u(0))
		m.codes = append(m.codes, tree().codes[0], sum().codes[0], m.codes[0])
	}
	return m.bytes()
}
