package meter_test

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"fluvius.dev/fluvius/meter"
)

const (
	returnCall         = 0x12
	returnCallIndirect = 0x13
)

// depthTrap fails the test unless err is the depth check's trap: an
// unreachable with fuel left, not wazero's own stack overflow.
func depthTrap(t *testing.T, mod api.Module, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Error("returned, want the depth trap")
	case strings.Contains(err.Error(), "stack overflow"):
		t.Errorf("stopped by wazero: %v", err)
	case !strings.Contains(err.Error(), "unreachable"):
		t.Errorf("stopped by %v, want unreachable", err)
	case getFuel(t, mod) < 0:
		t.Errorf("stopped by fuel (%d), want the depth check", getFuel(t, mod))
	}
}

// engineDepth is the MaxCallDepth for an engine's unbounded recursions: the
// default, but under the interpreter's own limit of 2000 frames.
func engineDepth(e engine) uint32 {
	if e.name == "interpreter" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		return 1500
	}
	return 0
}

// (func $r (call $r)) with plenty of fuel: the depth check stops it, at
// exactly the frame past the bound, long before wazero's stack limit
// (about 100 MB in the compiler, 2000 frames in the interpreter).
func TestUnboundedRecursionStopsAtTheDepthBound(t *testing.T) {
	in := one(nil, nil, code(nil, call, 0, end)).bytes()
	eachEngine(t, func(t *testing.T, e engine) {
		opts, depth := meter.Options{MaxCallDepth: engineDepth(e)}, int64(meter.DefaultMaxCallDepth)
		if opts.MaxCallDepth != 0 {
			depth = int64(opts.MaxCallDepth)
		}
		mod := metered(t, e, in, opts)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err, used := callWith(t, mod, 1<<40, "f")
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		depthTrap(t, mod, err)
		// Each frame pays its call and end, 2, and the one past the bound
		// pays before it traps.
		if want := 2 * (depth + 1); used != want {
			t.Errorf("used %d fuel, want %d: %d frames", used, want, depth+1)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		if alloc > 16<<20 {
			t.Errorf("the call allocated %d bytes", alloc)
		}
		t.Logf("trapped after %d frames in %v, %d KiB allocated", depth+1, elapsed, alloc>>10)
	})
}

// rec(k) recurses k times: k+1 frames.
func rec() wmod {
	return one([]byte{i32}, []byte{i32}, code(nil,
		localGet, 0, ifOp, i32,
		localGet, 0, i32Const, 1, i32Sub, call, 0, i32Const, 1, i32Add,
		elseOp,
		i32Const, 0,
		end,
		end))
}

func TestCallDepthBoundIsExact(t *testing.T) {
	const bound = 50
	in := rec().bytes()
	opts := meter.Options{MaxCallDepth: bound}
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, in, opts)
		for range 3 { // and again: every frame gave its depth back
			if res, err, _ := callWith(t, mod, 1<<40, "f", bound-1); err != nil || res[0] != bound-1 {
				t.Fatalf("%d frames: %v, %v", bound, res, err)
			}
		}
		mod = metered(t, e, in, opts)
		_, err, _ := callWith(t, mod, 1<<40, "f", bound)
		depthTrap(t, mod, err)
	})
}

// exitKinds is a module around g, the function under test, of type
// (i32) -> (i32, i64, i32):
//
//	func 0 g(x)        the body given
//	func 1 h(x)        (x+3, x+1000, 7), g's tail callee, also table slot 0
//	func 2 loop(n, x)  calls g(x) n times, dropping the results
//	func 3 rec(k)      recurses k times: k+1 frames
//
// Type 3, () -> (i32, i64, i32), is the type of g's inner blocks.
func exitKinds(g []byte) wmod {
	res := []byte{i32, i64, i32}
	return wmod{
		types: [][]byte{
			functype([]byte{i32}, res),
			functype([]byte{i32, i32}, nil),
			functype([]byte{i32}, []byte{i32}),
			functype(nil, res),
		},
		funcs:   [][]byte{u(0), u(0), u(1), u(2)},
		tables:  [][]byte{ins(funcref, 0x00, 1)},
		exports: [][]byte{exportFunc("g", 0), exportFunc("loop", 2), exportFunc("rec", 3)},
		elems:   [][]byte{ins(0x00, i32Const, 0, end, vec(u(1)))},
		codes: [][]byte{
			g,
			code(nil, localGet, 0, i32Const, 3, i32Add, localGet, 0, i64ExtendU, i64Const, s(1000), i64Add,
				i32Const, 7, end),
			code(nil,
				block, void, loop, void,
				localGet, 0, i32Eqz, brIf, 1,
				localGet, 1, call, 0, drop, drop, drop,
				localGet, 0, i32Const, 1, i32Sub, localSet, 0,
				br, 0,
				end, end,
				end),
			code(nil,
				localGet, 0, ifOp, i32,
				localGet, 0, i32Const, 1, i32Sub, call, 3, i32Const, 1, i32Add,
				elseOp,
				i32Const, 0,
				end,
				end),
		},
	}
}

// brTableExit is a body of g for exitKinds that leaves through a br_table
// with the results (x+1, x, 2x): index 0 and the default pick the
// function's label, 1 the inner block, which replaces the last result
// with 5.
func brTableExit() []byte {
	return code(nil,
		block, 3,
		localGet, 0, i32Const, 1, i32Add, localGet, 0, i64ExtendU, localGet, 0, localGet, 0, i32Add,
		localGet, 0, brTable, 2, 1, 0, 1,
		end,
		drop, i32Const, 5,
		end)
}

// Every way a frame ends gives back its depth, exactly once, and leaves
// the results it carries as they were. Each case runs g 10,000 times
// under a bound of 100: a frame that kept its depth would trap within a
// hundred calls. Then a recursion of exactly the bound must still fit, and
// one frame more must not: a frame that gave back twice would let it.
func TestEveryExitGivesBackItsDepth(t *testing.T) {
	// (x+1, x, 2x) and (9, 9, 9).
	vals := []any{localGet, 0, i32Const, 1, i32Add, localGet, 0, i64ExtendU, localGet, 0, localGet, 0, i32Add}
	other := []any{i32Const, 9, i64Const, 9, i32Const, 9}
	body := func(parts ...any) []byte { return code(nil, append(parts, end)...) }
	seq := func(groups ...any) []any {
		var all []any
		for _, g := range groups {
			if flat, ok := g.([]any); ok {
				all = append(all, flat...)
			} else {
				all = append(all, g)
			}
		}
		return all
	}
	brIfBody := body(seq(vals, localGet, 0, brIf, 0, drop, drop, drop, other)...)
	brIfBlock := body(seq(block, 3, vals, localGet, 0, brIf, 1, end, drop, i32Const, 5)...)
	brTableBody := brTableExit()
	cases := []struct {
		name string
		g    []byte
		x    uint64
	}{
		{"return", body(seq(vals, ret)...), 4},
		{"return from an if", body(seq(localGet, 0, ifOp, void, vals, ret, end, other)...), 4},
		{"falling off the end", body(vals...), 4},
		{"falling off the end after an if", body(seq(localGet, 0, ifOp, void, vals, ret, end, other)...), 0},
		{"br to the function's label", body(seq(vals, br, 0)...), 4},
		{"br out of a block and a loop", body(seq(block, void, loop, void, vals, br, 2, end, end, unreachable)...), 4},
		{"br_if taken", brIfBody, 4},
		{"br_if not taken", brIfBody, 0},
		{"br_if taken from a block", brIfBlock, 4},
		{"br_if not taken from a block", brIfBlock, 0},
		{"br_table picks the function's label", brTableBody, 0},
		{"br_table defaults to the function's label", brTableBody, 7},
		{"br_table picks an inner label", brTableBody, 1},
		{"br_table of only the function's label", body(seq(block, 3, vals, localGet, 0, brTable, 1, 1, 1, end)...), 4},
		{"br_table at the function's level", body(seq(vals, localGet, 0, brTable, 1, 0, 0)...), 4},
		{"return_call", body(localGet, 0, returnCall, 1), 4},
		{"return_call_indirect", body(localGet, 0, i32Const, 0, returnCallIndirect, 0, 0), 4},
	}
	const bound = 100
	ctx := context.Background()
	opts := meter.Options{MaxCallDepth: bound}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := exitKinds(c.g).bytes()
			out := rewrite(t, in, opts)
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
				want, err := run(in).ExportedFunction("g").Call(ctx, c.x)
				if err != nil {
					t.Fatalf("unmetered: %v", err)
				}
				mod := run(out)
				if _, err, _ := callWith(t, mod, 1<<40, "loop", 10_000, c.x); err != nil {
					t.Fatalf("10,000 calls under a bound of %d: %v", bound, err)
				}
				if got, err, _ := callWith(t, mod, 1<<40, "g", c.x); err != nil || !slices.Equal(got, want) {
					t.Errorf("g(%d) = %v, %v; unmetered %v", c.x, got, err, want)
				}
				if res, err, _ := callWith(t, mod, 1<<40, "rec", bound-1); err != nil || res[0] != bound-1 {
					t.Errorf("then %d frames: %v, %v", bound, res, err)
				}
				_, err, _ = callWith(t, mod, 1<<40, "rec", bound)
				depthTrap(t, mod, err)
			})
			// Traced, the depth global itself: back to 0, after 2 deep.
			traced, err := meter.RewriteTraced(in, opts)
			if err != nil {
				t.Fatal(err)
			}
			cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall)
			rt := wazero.NewRuntimeWithConfig(ctx, cfg)
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, traced)
			if err != nil {
				t.Fatal(err)
			}
			if _, err, _ := callWith(t, mod, 1<<40, "loop", 3, c.x); err != nil {
				t.Fatal(err)
			}
			depth, deepest := mod.ExportedGlobal(meter.TraceDepth).Get(), mod.ExportedGlobal(meter.TraceMaxDepth).Get()
			if depth != 0 || deepest != 2 {
				t.Errorf("traced: depth %d after the calls, %d at most; want 0 and 2", int32(depth), deepest)
			}
		})
	}
}

// The depth global, an i32 from 0, follows the fuel global, and only the
// fuel is exported.
func TestDepthGlobalFollowsTheFuelUnexported(t *testing.T) {
	out := rewrite(t, rec().bytes(), meter.Options{StartFuel: 5})
	globals := append([]byte{6}, sized(vec(ins(i64, 0x01, i64Const, 5, end), ins(i32, 0x01, i32Const, 0, end)))...)
	exports := append([]byte{7}, sized(vec(exportFunc("f", 0), ins(meter.FuelGlobal, 0x03, 0)))...)
	if !bytes.Contains(out, globals) {
		t.Errorf("no global section % x", globals)
	}
	if !bytes.Contains(out, exports) {
		t.Errorf("no export section % x", exports)
	}
}
