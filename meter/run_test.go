package meter_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/meter"
)

// engine is a wazero configuration the behaviour tests run under: the
// interpreter and, where the platform has it, the compiler.
type engine struct {
	name string
	cfg  func() wazero.RuntimeConfig
}

func engines() []engine {
	return []engine{
		{"interpreter", wazero.NewRuntimeConfigInterpreter},
		{"compiler", wazero.NewRuntimeConfig}, // the interpreter where no compiler exists
	}
}

// eachEngine runs f once per engine as a subtest.
func eachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

func newRuntime(ctx context.Context, e engine) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, e.cfg().WithCoreFeatures(api.CoreFeaturesV2))
}

// instantiate compiles and instantiates wasm, closing it with the test.
func instantiate(t testing.TB, e engine, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := newRuntime(ctx, e)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatalf("instantiating: %v", err)
	}
	return mod
}

func rewrite(t testing.TB, wasm []byte, opts meter.Options) []byte {
	t.Helper()
	out, err := meter.Rewrite(wasm, opts)
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	return out
}

// metered instantiates the metered form of wasm.
func metered(t testing.TB, e engine, wasm []byte, opts meter.Options) api.Module {
	t.Helper()
	return instantiate(t, e, rewrite(t, wasm, opts))
}

func fuelOf(t testing.TB, mod api.Module) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q exported", meter.FuelGlobal)
	}
	return g
}

func setFuel(t testing.TB, mod api.Module, fuel int64) {
	t.Helper()
	fuelOf(t, mod).Set(uint64(fuel))
}

func getFuel(t testing.TB, mod api.Module) int64 {
	t.Helper()
	return int64(fuelOf(t, mod).Get())
}

// callWith sets the fuel, calls f and returns its results, the error and
// the fuel used.
func callWith(t testing.TB, mod api.Module, fuel int64, name string, args ...uint64) ([]uint64, error, int64) {
	t.Helper()
	setFuel(t, mod, fuel)
	res, err := mod.ExportedFunction(name).Call(context.Background(), args...)
	return res, err, fuel - getFuel(t, mod)
}
