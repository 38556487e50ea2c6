package meter_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/meter"
)

const (
	nop     = 0x01
	i32RemU = 0x70
	i32ShrU = 0x76
)

// nops is n nop instructions.
func nops(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = nop
	}
	return b
}

// traced runs the traced form of wasm's export f with the given fuel and
// returns the fuel used and the instructions executed. It fails the test
// if a pass ran more instructions than its region was charged for.
func traced(t *testing.T, wasm []byte, fuel int64, args ...uint64) (used, count int64, err error) {
	t.Helper()
	out, err := meter.RewriteTraced(wasm, meter.Options{})
	if err != nil {
		t.Fatalf("RewriteTraced: %v", err)
	}
	mod := instantiate(t, engines()[0], out)
	_, err, used = callWith(t, mod, fuel, "f", args...)
	if mod.ExportedGlobal(meter.TraceViolation).Get() != 0 {
		t.Fatalf("a pass ran more instructions than it was charged for")
	}
	return used, int64(mod.ExportedGlobal(meter.TraceCount).Get()), err
}

// checkFuel runs wasm's f metered with fuel enough, wants it to use
// exactly want, to trap with one unit less, and, traced, to execute
// exactly instrs instructions without any pass overrunning its charge.
func checkFuel(t *testing.T, wasm []byte, want, instrs int64, args ...uint64) {
	t.Helper()
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, wasm, meter.Options{})
		if _, err, used := callWith(t, mod, 1<<40, "f", args...); err != nil || used != want {
			t.Errorf("used %d fuel (%v), want %d", used, err, want)
		}
		if _, err, _ := callWith(t, mod, want-1, "f", args...); err == nil {
			t.Errorf("ran with %d fuel", want-1)
		}
	})
	if _, count, err := traced(t, wasm, 1<<40, args...); err != nil || count != instrs {
		t.Errorf("traced: executed %d instructions (%v), want %d", count, err, instrs)
	}
}

// A branch out of nested loops continues the pass of the region it lands
// in, which must have paid for what follows: here 100 nops after the
// block, reached only by br 2 from the inner loop.
func TestBranchOutOfNestedLoopsIsCharged(t *testing.T) {
	m := one(nil, nil, code(nil,
		block, void,
		loop, void,
		loop, void,
		br, 2,
		end,
		br, 0, // unreachable
		end,
		end,
		nops(100),
		end))
	// Entry: block, loop (2), then, as a branch from inside that loop
	// lands after the block, the 100 nops and the end: 103. The outer
	// loop's pass: the inner loop instruction (1); the inner's: br (1).
	// That is every instruction executed, each once.
	checkFuel(t, m.bytes(), 105, 105)
}

// The same from three loops deep, by br_if and br_table, with the exit
// taken on the second pass of the innermost loop: a function region's
// path continues after each of its blocks that a nested loop branches
// to, and a loop's region stops at branches to outer loops' headers.
func TestBranchesOutOfDeepLoops(t *testing.T) {
	m := one([]byte{i32}, nil, code(nil,
		block, void, // 1
		block, void, // 2
		loop, void, // 3: L1
		loop, void, // L1: 1; L2
		loop, void, // L2: 1; L3
		localGet, 0, i32Eqz, brIf, 4, // L3: 3, to after the outer block
		localGet, 0, i32Const, 1, i32Sub, localSet, 0, // 7
		localGet, 0, brTable, 2, 2, 3, 0, // 9: L1, after the inner block, L3
		end,
		end,
		end,
		end,      // skipped by br_table's 3: still 3
		nops(50), // 53
		end,      // 54
		nops(20), // reached by br_if 4 (at 3) and after the 50: 74
		end))     // 75
	// The loops' ends are all unreachable: L1 costs 1 (the loop L2), L2
	// 1 (the loop L3), L3 9. With 1, L3's first pass ends at br_table,
	// index 0: L1's header; L1's second pass enters L2 and L3 again,
	// whose pass exits by br_if 4. Charged: 75 (entry), 1+1 (L1 twice),
	// 1+1 (L2 twice), 9+9 (L3 twice). Executed: block, block, loop,
	// loop, loop, 9 in L3, then loop, loop, 3 in L3, 20 nops and the
	// end: 40.
	checkFuel(t, m.bytes(), 75+2+2+18, 3+1+1+9+1+1+3+21, 1)
	// With 2: br_table's index 1 lands after the inner block, then the
	// 50 nops, the end and the 20: the longest path of every region,
	// exactly.
	checkFuel(t, m.bytes(), 75+1+1+9, 3+1+1+9+50+1+20+1, 2)
}

// An if pays its longer arm, whichever runs.
func TestIfPaysTheLongerArm(t *testing.T) {
	m := one([]byte{i32}, nil, code(nil,
		localGet, 0, ifOp, void, // 2
		nops(10), // 12
		elseOp,   // 13
		nops(30), // 32
		end,      // 33
		end))     // 34
	checkFuel(t, m.bytes(), 34, 34, 0)     // the else arm: all of the path
	checkFuel(t, m.bytes(), 34, 2+11+1, 1) // the then arm, its else, the final end
}

// goLoop is a function as Go compiles one for wasm: a loop around a
// br_table dispatching on a resume point, each case ending by setting
// the next one and branching to the loop.
func goLoop() wmod {
	return one([]byte{i32}, []byte{i32}, code(nil,
		loop, void, // 1
		block, void,
		block, void,
		block, void,
		localGet, 0, brTable, 2, 0, 1, 2, // 5 in the loop's region
		end,                             // skipped by the branch
		nops(20),                        // case 0: 25
		i32Const, 1, localSet, 0, br, 2, // 28: next is case 1
		end,
		nops(30),                        // case 1: 35
		i32Const, 2, localSet, 0, br, 1, // 38: next is case 2
		end,
		i32Const, 7, ret, // case 2: 7, returns
		end,
		i32Const, 0,
		end))
}

// Each pass through the dispatch loop pays the longest case, not all of
// them: 38 (case 1), where the old model charged all 67 instructions of
// the loop.
func TestDispatchLoopPaysTheLongestCase(t *testing.T) {
	// Entry: the loop instruction (1); what follows the loop is
	// unreachable, as every case branches or returns. Passes: case 0,
	// case 1, case 2, 38 each. Executed: the loop, then 5 for the
	// dispatch and 23, 33 and 2 for the cases.
	checkFuel(t, goLoop().bytes(), 1+3*38, 1+(5+23)+(5+33)+(5+2), 0)
}

// randomFunc appends a random body of structured control flow to b, as
// long as size allows: blocks, loops, ifs, branches of every kind to
// random labels, returns, traps and calls to later functions. Conditions
// come from a linear congruential generator in global 0, so loops exit
// at random, or run out of fuel.
type randomFunc struct {
	rng    *rand.Rand
	b      []any
	size   int
	self   int // the function's index, calls go to later ones
	funcs  int
	labels int
}

// cond pushes a pseudo-random i32 in [0, m).
func (g *randomFunc) cond(m int) {
	g.b = append(g.b, globalGet, 0, i32Const, s(1103515245), i32Mul, i32Const, s(12345), i32Add,
		globalSet, 0, globalGet, 0, i32Const, 16, i32ShrU, i32Const, s(int64(m)), i32RemU)
}

func (g *randomFunc) seq() {
	for g.size > 0 && g.rng.IntN(6) != 0 {
		g.instr()
	}
}

func (g *randomFunc) instr() {
	g.size--
	label := func() int { return g.rng.IntN(g.labels + 1) }
	switch k := g.rng.IntN(20); {
	case k < 5:
		g.b = append(g.b, nops(1+g.rng.IntN(8)))
	case k < 7:
		g.b = append(g.b, i32Const, 1, drop)
	case k < 11:
		op := block
		if k < 9 {
			op = loop
		}
		g.b = append(g.b, op, void)
		g.labels++
		g.seq()
		g.labels--
		g.b = append(g.b, end)
	case k < 13:
		g.cond(2)
		g.b = append(g.b, ifOp, void)
		g.labels++
		g.seq()
		if g.rng.IntN(2) == 0 {
			g.b = append(g.b, elseOp)
			g.seq()
		}
		g.labels--
		g.b = append(g.b, end)
	case k < 15:
		g.cond(4)
		g.b = append(g.b, i32Eqz, brIf, label())
	case k < 16:
		g.b = append(g.b, br, label())
	case k < 17:
		n := 1 + g.rng.IntN(4)
		g.cond(n + 1)
		g.b = append(g.b, brTable, n)
		for range n + 1 {
			g.b = append(g.b, label())
		}
	case k < 18:
		if g.rng.IntN(4) == 0 {
			g.b = append(g.b, unreachable)
		} else {
			g.b = append(g.b, ret)
		}
	default:
		if g.self+1 < g.funcs {
			g.b = append(g.b, call, g.self+1+g.rng.IntN(g.funcs-g.self-1))
		}
	}
}

// TestRandomProgramsNeverOverrunTheirCharges runs random programs traced:
// no pass of any region may execute more instructions than its charge,
// and a run that completes used at least the instructions it executed.
func TestRandomProgramsNeverOverrunTheirCharges(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	defer rt.Close(ctx)
	overrun, completed := 0, 0
	for seed := range n {
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		const funcs = 3
		m := wmod{
			types:   [][]byte{functype(nil, nil)},
			globals: [][]byte{ins(i32, 0x01, i32Const, s(int64(seed)), end)},
			exports: [][]byte{exportFunc("f", 0)},
		}
		for i := range funcs {
			g := &randomFunc{rng: rng, size: 60, self: i, funcs: funcs}
			for g.size > 0 {
				g.seq()
				g.instr()
			}
			m.funcs = append(m.funcs, u(0))
			m.codes = append(m.codes, code(nil, append(g.b, end)...))
		}
		in := m.bytes()
		out, err := meter.RewriteTraced(in, meter.Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		_, err, used := callWith(t, mod, 20_000, "f")
		count := int64(mod.ExportedGlobal(meter.TraceCount).Get())
		depth, maxDepth := mod.ExportedGlobal(meter.TraceDepth).Get(), mod.ExportedGlobal(meter.TraceMaxDepth).Get()
		if mod.ExportedGlobal(meter.TraceViolation).Get() != 0 {
			overrun++
			t.Errorf("seed %d: a pass ran more instructions than it was charged for, after %d", seed, count)
		} else if err == nil {
			completed++
			if used < count {
				t.Errorf("seed %d: %d instructions for %d fuel", seed, count, used)
			}
			// Every frame, however it ended, gave its depth back.
			if depth != 0 {
				t.Errorf("seed %d: call depth %d after the call returned", seed, int32(depth))
			}
		}
		if maxDepth < 1 || maxDepth > funcs {
			t.Errorf("seed %d: deepest call %d, of %d functions calling later ones", seed, int32(maxDepth), funcs)
		}
		mod.Close(ctx)
	}
	if completed < n/4 {
		t.Errorf("only %d of %d programs completed", completed, n)
	}
	t.Logf("%d of %d programs completed, %d overran", completed, n, overrun)
}
