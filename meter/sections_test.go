package meter_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"fluvius.dev/fluvius/meter"
)

func TestSectionsAreAddedAndCustomSectionsKept(t *testing.T) {
	m := wmod{
		types: [][]byte{functype(nil, []byte{i32})},
		funcs: [][]byte{u(0)},
		codes: [][]byte{code(nil, i32Const, 7, end)},
		customs: [][]byte{
			ins("name", 1, sized(vec(ins(0, "seven")))),
			ins("producers", 0xde, 0xad),
		},
	}
	in := m.bytes()
	out := rewrite(t, in, meter.Options{})
	for _, c := range m.customs {
		if !bytes.Contains(out, sized(c)) {
			t.Errorf("custom section %q changed", c)
		}
	}
	eachEngine(t, func(t *testing.T, e engine) {
		mod := instantiate(t, e, out)
		setFuel(t, mod, 5)
		if getFuel(t, mod) != 5 {
			t.Error("the fuel global does not keep its value")
		}
	})
	// Without any section to copy but the header.
	empty := rewrite(t, []byte("\x00asm\x01\x00\x00\x00"), meter.Options{})
	eachEngine(t, func(t *testing.T, e engine) {
		mod := instantiate(t, e, empty)
		if getFuel(t, mod) != 0 {
			t.Error("the fuel does not start at 0")
		}
	})
}

// globals has an imported global (index 0) and two of its own (1 and 2);
// f adds the imported one to global 2 and returns it.
func globals() wmod {
	return wmod{
		types:   [][]byte{functype(nil, []byte{i64})},
		imports: [][]byte{ins("env", "g", 0x03, i64, 0x00)},
		funcs:   [][]byte{u(0)},
		globals: [][]byte{ins(i64, 0x00, i64Const, 1, end), ins(i64, 0x01, i64Const, 0, end)},
		exports: [][]byte{exportFunc("f", 0), ins("g2", 0x03, 2)},
		codes: [][]byte{code(nil,
			globalGet, 2, globalGet, 0, i64Add, globalSet, 2, globalGet, 2, end)},
	}
}

func TestExistingGlobalsKeepTheirIndexes(t *testing.T) {
	out := rewrite(t, globals().bytes(), meter.Options{})
	env := wmod{
		globals: [][]byte{ins(i64, 0x00, i64Const, 10, end)},
		exports: [][]byte{ins("g", 0x03, 0)},
	}.bytes()
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		rt := newRuntime(ctx, e)
		defer rt.Close(ctx)
		if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
			t.Fatal(err)
		}
		mod, err := rt.Instantiate(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		for want := uint64(10); want <= 20; want += 10 {
			res, err, used := callWith(t, mod, 100, "f")
			if err != nil || res[0] != want {
				t.Fatalf("f() = %v, %v; want %d", res, err, want)
			}
			if used != 6 {
				t.Errorf("used %d, want 6", used)
			}
		}
		if g := mod.ExportedGlobal("g2").Get(); g != 20 {
			t.Errorf("g2 = %d, want 20", g)
		}
	})
}
