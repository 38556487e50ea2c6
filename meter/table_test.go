package meter_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"fluvius.dev/fluvius/meter"
)

const externref = 0x6f

// tables is a module with the given tables (type and limits each) and,
// for table 0, "grow" (table.grow by the argument, with null) and "size".
func tables(imports [][]byte, defined ...[]byte) wmod {
	elem := byte(funcref)
	if len(defined) > 0 {
		elem = defined[0][0]
	}
	return wmod{
		types:   [][]byte{functype([]byte{i32}, []byte{i32}), functype(nil, []byte{i32})},
		imports: imports,
		funcs:   [][]byte{u(0), u(1)},
		tables:  defined,
		exports: [][]byte{exportFunc("grow", 0), exportFunc("size", 1)},
		codes: [][]byte{
			code(nil, refNull, int(elem), localGet, 0, misc, 15, 0, end),
			code(nil, misc, 16, 0, end),
		},
	}
}

func TestTablesAreBounded(t *testing.T) {
	for _, c := range []struct {
		name  string
		table []byte // as in the input
		opts  meter.Options
		want  []byte // as in the output
		max   uint32 // the table's maximum after the rewrite
	}{
		{"no maximum", ins(funcref, 0x00, 10), meter.Options{}, ins(funcref, 0x01, 10, u(65536)), 65536},
		{"a larger maximum", ins(funcref, 0x01, 10, u(1<<20)), meter.Options{}, ins(funcref, 0x01, 10, u(65536)), 65536},
		{"a smaller maximum", ins(funcref, 0x01, 10, 20), meter.Options{}, ins(funcref, 0x01, 10, 20), 20},
		{"at the bound", ins(externref, 0x01, 10, u(65536)), meter.Options{}, ins(externref, 0x01, 10, u(65536)), 65536},
		{"a bound of 100", ins(externref, 0x00, 10), meter.Options{MaxTableElements: 100}, ins(externref, 0x01, 10, 100), 100},
		{"min at the bound", ins(funcref, 0x00, 100), meter.Options{MaxTableElements: 100}, ins(funcref, 0x01, 100, 100), 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := rewrite(t, tables(nil, c.table).bytes(), c.opts)
			if sec := append([]byte{4}, sized(vec(c.want))...); !bytes.Contains(out, sec) {
				t.Errorf("no table section % x in the output", sec)
			}
			eachEngine(t, func(t *testing.T, e engine) {
				mod := metered(t, e, tables(nil, c.table).bytes(), c.opts)
				size, _, _ := callWith(t, mod, 1<<40, "size")
				min := uint32(size[0])
				if res, err, _ := callWith(t, mod, 1<<40, "grow", 100_000); err != nil || int32(res[0]) != -1 {
					t.Errorf("grow(100000) = %v, %v; want -1", res, err)
				}
				if res, err, _ := callWith(t, mod, 1<<40, "grow", uint64(c.max-min+1)); err != nil || int32(res[0]) != -1 {
					t.Errorf("grow(%d) past the maximum = %v, %v; want -1", c.max-min+1, res, err)
				}
				if res, err, _ := callWith(t, mod, 1<<40, "grow", uint64(c.max-min)); err != nil || uint32(res[0]) != min {
					t.Errorf("grow(%d) up to the maximum = %v, %v; want %d", c.max-min, res, err, min)
				}
				if res, _, _ := callWith(t, mod, 1<<40, "size"); uint32(res[0]) != c.max {
					t.Errorf("size %d after growing, want %d", res[0], c.max)
				}
			})
		})
	}
}

func TestTablesAboveTheBoundAreRefused(t *testing.T) {
	imported := func(limits ...any) []byte { return ins("env", "t", 0x01, funcref, ins(limits...)) }
	for _, c := range []struct {
		name string
		wasm []byte
		opts meter.Options
		want []string
	}{
		{"2^27 elements", tables(nil, ins(funcref, 0x00, u(1<<27))).bytes(), meter.Options{},
			[]string{"table 0", "minimum of 134217728", "65536", "MaxTableElements"}},
		{"above a bound of 5", tables(nil, ins(funcref, 0x01, 10, 10)).bytes(), meter.Options{MaxTableElements: 5},
			[]string{"table 0", "minimum of 10", "5 of Options.MaxTableElements"}},
		{"imported, too large", tables([][]byte{imported(0x01, u(1<<20), u(1<<20))}).bytes(), meter.Options{},
			[]string{"table 0", "minimum of 1048576"}},
		{"imported, no maximum", tables([][]byte{imported(0x00, 1)}).bytes(), meter.Options{},
			[]string{"table 0", "imported without a maximum"}},
		{"imported, a larger maximum", tables([][]byte{imported(0x01, 1, u(65537))}).bytes(), meter.Options{},
			[]string{"table 0", "imported with a maximum of 65537"}},
		{"the second", tables([][]byte{imported(0x01, 1, 1)}, ins(funcref, 0x00, u(65537))).bytes(), meter.Options{},
			[]string{"table 1", "minimum of 65537"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := meter.Rewrite(c.wasm, c.opts)
			if err == nil {
				t.Fatalf("accepted: % x", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// An imported table with a maximum within the bound is kept as it is,
// and so is its import; the module's own tables follow it.
func TestImportedTableWithinTheBound(t *testing.T) {
	imp := ins("env", "t", 0x01, funcref, 0x01, 2, 50)
	in := tables([][]byte{imp}, ins(funcref, 0x00, 3)).bytes()
	out := rewrite(t, in, meter.Options{})
	if !bytes.Contains(out, append([]byte{2}, sized(vec(imp))...)) {
		t.Error("the import section changed")
	}
	env := wmod{tables: [][]byte{ins(funcref, 0x01, 2, 50)}, exports: [][]byte{ins("t", 0x01, 0)}}.bytes()
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
		// grow and size work on table 0, the imported one.
		if res, err, _ := callWith(t, mod, 1<<40, "grow", 49); err != nil || int32(res[0]) != -1 {
			t.Errorf("grow(49) = %v, %v; want -1", res, err)
		}
		if res, err, _ := callWith(t, mod, 1<<40, "grow", 48); err != nil || res[0] != 2 {
			t.Errorf("grow(48) = %v, %v; want 2", res, err)
		}
	})
}
