package meter_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/meter"
)

var fuzzRuntime = sync.OnceValue(func() wazero.Runtime {
	cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2)
	return wazero.NewRuntimeWithConfig(context.Background(), cfg)
})

// compiles reports whether wazero accepts wasm.
func compiles(wasm []byte) error {
	ctx := context.Background()
	c, err := fuzzRuntime().CompileModule(ctx, wasm)
	if err == nil {
		c.Close(ctx)
	}
	return err
}

func FuzzRewrite(f *testing.F) {
	seeds := []wmod{spin(), recurse(), tree(), sum(), fillAndGrow(), features(), globals(), goLoop(),
		tables(nil, ins(funcref, 0x00, 10)), tables([][]byte{ins("env", "t", 0x01, funcref, 0x01, 2, 50)}),
		rec(), exitKinds(brTableExit())}
	for _, m := range seeds {
		f.Add(m.bytes())
	}
	withStart := spin()
	withStart.start = u(0)
	f.Add(withStart.bytes())
	named := sum()
	named.customs = [][]byte{ins("name", 1, sized(vec(ins(0, "sum"))), 2, sized(vec(ins(0, vec(ins(1, "acc"))))))}
	f.Add(named.bytes())
	f.Add(synthetic(2))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))

	f.Fuzz(func(t *testing.T, in []byte) {
		opts := meter.Options{StartFuel: 1000}
		out, err := meter.Rewrite(in, opts)
		if err != nil {
			if out != nil {
				t.Fatal("output with an error")
			}
			return
		}
		if again, _ := meter.Rewrite(in, opts); !bytes.Equal(again, out) {
			t.Fatal("two rewrites differ")
		}
		// The output is well formed enough to be read again, up to the
		// export that is now there.
		if _, err := meter.Rewrite(out, opts); err == nil || !strings.Contains(err.Error(), "already exports") {
			t.Fatalf("rewriting the output: %v", err)
		}
		if compiles(in) != nil {
			return
		}
		if err := compiles(out); err != nil {
			t.Fatalf("wazero accepts the input but not the output: %v", err)
		}
	})
}
