package meter_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"fluvius.dev/fluvius/meter"
)

// spin loops forever: (loop (br 0)).
func spin() wmod {
	return one(nil, nil, code(nil, loop, void, br, 0, end, end))
}

func TestInfiniteLoopRunsOutOfFuel(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, spin().bytes(), meter.Options{})
		_, err, used := callWith(t, mod, 10_000, "f")
		if err == nil {
			t.Fatal("the loop returned")
		}
		if !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("error %q is not the metering trap", err)
		}
		if fuel := getFuel(t, mod); fuel >= 0 {
			t.Errorf("fuel is %d after the trap, want negative", fuel)
		}
		// Entry: the loop instruction (1); the final end is never
		// reached. Each iteration: br (1); the loop's end is never
		// reached either. 10000 - 1 = 9999 pays 9999 iterations, the
		// next charge takes the fuel to -1 and traps.
		if used != 10_001 {
			t.Errorf("used %d fuel, want 10001", used)
		}
	})
}

// recurse calls itself forever, without a loop.
func recurse() wmod {
	return one([]byte{i32}, []byte{i32}, code(nil,
		localGet, 0, i32Const, 1, i32Add, call, 0, end))
}

// With little fuel, fuel stops it; with plenty, the depth check does (see
// depth_test.go), not wazero. An instance that trapped is not used again.
func TestUnboundedRecursionStops(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		opts := meter.Options{MaxCallDepth: engineDepth(e)}
		mod := metered(t, e, recurse().bytes(), opts)
		if _, err, _ := callWith(t, mod, 1000, "f", 0); err == nil || getFuel(t, mod) >= 0 {
			t.Errorf("1000 fuel: stopped by %v with %d fuel left", err, getFuel(t, mod))
		}
		mod = metered(t, e, recurse().bytes(), opts)
		_, err, _ := callWith(t, mod, 1<<40, "f", 0)
		depthTrap(t, mod, err)
	})
}

// tree is f(n) = n == 0 ? 1 : f(n-1) + f(n-1), 2^n leaves and no loop.
func tree() wmod {
	return one([]byte{i32}, []byte{i64}, code(nil,
		localGet, 0, i32Eqz,
		ifOp, i64,
		i64Const, 1,
		elseOp,
		localGet, 0, i32Const, 1, i32Sub, call, 0,
		localGet, 0, i32Const, 1, i32Sub, call, 0,
		i64Add,
		end,
		end)) // 16 instructions, 14 on the longest path (the else arm)
}

func TestExponentialCallTreeRunsOutOfFuel(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, tree().bytes(), meter.Options{})
		res, err, used := callWith(t, mod, 1_000_000, "f", 10)
		if err != nil || res[0] != 1024 {
			t.Fatalf("f(10) = %v, %v; want 1024", res, err)
		}
		// Each call pays its longest path, whichever arm it takes: the
		// 3 instructions up to the if, the else arm's 9, the if's end
		// and the final end. The then arm (i64.const, else) is shorter.
		if want := int64(14 * (1<<11 - 1)); used != want {
			t.Errorf("f(10) used %d fuel, want %d (14 per call)", used, want)
		}
		_, err, _ = callWith(t, mod, 10_000_000, "f", 40)
		if err == nil {
			t.Fatal("f(40) returned")
		}
		if fuel := getFuel(t, mod); fuel >= 0 {
			t.Errorf("f(40) stopped by %q with %d fuel left", err, fuel)
		}
	})
}

// sum adds n, n-1, ... 1 in a loop.
func sum() wmod {
	return one([]byte{i32}, []byte{i64}, code([]int{1, i64},
		block, void,
		loop, void,
		localGet, 0, i32Eqz, brIf, 1,
		localGet, 1, localGet, 0, i64ExtendU, i64Add, localSet, 1,
		localGet, 0, i32Const, 1, i32Sub, localSet, 0,
		br, 0,
		end, // 14 instructions in the loop, the end unreachable
		end,
		localGet, 1,
		end)) // 5 outside, the block's end skipped by br_if 1
}

func TestTerminatingFunctionIsUnchangedAndDeterministic(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		plain := instantiate(t, e, sum().bytes())
		want, err := plain.ExportedFunction("f").Call(context.Background(), 1000)
		if err != nil || want[0] != 500500 {
			t.Fatalf("unmetered: %v, %v", want, err)
		}
		mod := metered(t, e, sum().bytes(), meter.Options{})
		var first int64
		for i := range 3 {
			got, err, used := callWith(t, mod, 1<<40, "f", 1000)
			if err != nil || got[0] != want[0] {
				t.Fatalf("metered: %v, %v; want %v", got, err, want)
			}
			if i == 0 {
				first = used
			} else if used != first {
				t.Errorf("run %d used %d fuel, the first %d", i, used, first)
			}
		}
		// The entry pays block, loop, local.get and end: br_if 1 jumps
		// past the block's end. The header runs n+1 times, each paying
		// the 13 instructions up to br 0 (the loop's end is never
		// reached); the last pass exits by br_if after 3 of them.
		if wantUsed := int64(4 + 13*1001); first != wantUsed {
			t.Errorf("used %d fuel, want %d", first, wantUsed)
		}
		// With exactly that fuel it completes, with one less it traps.
		if _, err, _ := callWith(t, mod, first, "f", 1000); err != nil {
			t.Errorf("with exactly enough fuel: %v", err)
		}
		if _, err, _ := callWith(t, mod, first-1, "f", 1000); err == nil {
			t.Error("with one unit too few it returned")
		}
	})
}

// nested loops: each loop pays for its own body only.
func TestNestedLoopCosts(t *testing.T) {
	// for i := n; i != 0; i-- { for j := i; j != 0; j-- {} }
	body := code([]int{1, i32},
		loop, void, // outer: 9 instructions of its own
		localGet, 0, localSet, 1,
		loop, void, // inner: 6
		localGet, 1, i32Const, 1, i32Sub, localTee, 1, brIf, 0,
		end,
		localGet, 0, i32Const, 1, i32Sub, localTee, 0, brIf, 0,
		end,
		end) // entry: loop and end
	m := one([]byte{i32}, nil, body).bytes()
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, m, meter.Options{})
		_, err, used := callWith(t, mod, 1<<40, "f", 10)
		if err != nil {
			t.Fatal(err)
		}
		// Straight code but for the back edges, so the longest paths
		// are all the instructions: the entry pays the outer loop
		// instruction and the final end, the outer header its 8 own
		// instructions and the inner loop instruction, the inner header
		// its 6.
		if want := int64(2 + 10*9 + 55*6); used != want {
			t.Errorf("used %d, want %d", used, want)
		}
	})
}

// fill is memory.fill(0, 0xab, n) on a one-page memory, and grow is
// memory.grow(n).
func fillAndGrow() wmod {
	return wmod{
		types: [][]byte{functype([]byte{i32}, nil), functype([]byte{i32}, []byte{i32})},
		funcs: [][]byte{u(0), u(1)},
		mems:  [][]byte{ins(0x00, 1)},
		exports: [][]byte{exportFunc("fill", 0), exportFunc("grow", 1),
			ins("memory", 0x02, 0)},
		codes: [][]byte{
			code(nil, i32Const, 0, i32Const, s(0xab), localGet, 0, misc, 11, 0, end),
			code(nil, localGet, 0, memoryGrow, 0, end),
		},
	}
}

func TestMemoryFillIsChargedByLength(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		for _, c := range []struct {
			perUnit uint32
			cost    int64 // for 65536 bytes, with the 4 instructions and end
		}{
			{0, 5 + 65536/64 + 1},
			{64, 5 + 65536/64 + 1},
			{1, 5 + 65536 + 1},
			{100, 5 + 65536/100 + 1},
		} {
			mod := metered(t, e, fillAndGrow().bytes(), meter.Options{BulkBytesPerUnit: c.perUnit})
			_, err, _ := callWith(t, mod, c.cost-1, "fill", 65536)
			if err == nil {
				t.Fatalf("per unit %d: filled with too little fuel", c.perUnit)
			}
			mem, _ := mod.Memory().Read(0, 65536)
			if !bytes.Equal(mem, make([]byte, 65536)) {
				t.Fatalf("per unit %d: memory changed before the trap", c.perUnit)
			}
			_, err, used := callWith(t, mod, c.cost, "fill", 65536)
			if err != nil {
				t.Fatalf("per unit %d: %v", c.perUnit, err)
			}
			if used != c.cost {
				t.Errorf("per unit %d: used %d, want %d", c.perUnit, used, c.cost)
			}
			if mem, _ := mod.Memory().Read(0, 65536); !bytes.Equal(mem, bytes.Repeat([]byte{0xab}, 65536)) {
				t.Errorf("per unit %d: memory not filled", c.perUnit)
			}
			// Even a zero length costs something.
			if _, _, used := callWith(t, mod, 100, "fill", 0); used != 6 {
				t.Errorf("per unit %d: an empty fill used %d, want 6", c.perUnit, used)
			}
		}
	})
}

func TestMemoryGrowIsChargedByPages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, fillAndGrow().bytes(), meter.Options{})
		res, err, used := callWith(t, mod, 1<<40, "grow", 2)
		if err != nil || res[0] != 1 {
			t.Fatalf("grow(2) = %v, %v; want 1", res, err)
		}
		if want := int64(3 + 2*1024 + 1); used != want {
			t.Errorf("grow(2) used %d, want %d", used, want)
		}
		// A request that must fail costs no more than 65536 pages.
		res, err, used = callWith(t, mod, 1<<40, "grow", 0xffffffff)
		if err != nil || int32(res[0]) != -1 {
			t.Fatalf("grow(-1) = %v, %v; want -1", res, err)
		}
		if want := int64(3 + 65536*1024 + 1); used != want {
			t.Errorf("grow(-1) used %d, want %d", used, want)
		}
		if _, err, _ := callWith(t, mod, 1000, "grow", 1); err == nil {
			t.Error("grew a page with 1000 fuel")
		}
		if pages := mod.Memory().Size() / 65536; pages != 3 {
			t.Errorf("memory has %d pages, want 3", pages)
		}
	})
}

func TestStartFunctionGetsStartFuel(t *testing.T) {
	// The start function stores 1 at address 0 after a loop of 10 passes.
	m := fillAndGrow()
	m.types = append(m.types, functype(nil, nil))
	m.funcs = append(m.funcs, u(2))
	m.start = u(2)
	m.codes = append(m.codes, code([]int{1, i32},
		i32Const, 10, localSet, 0,
		loop, void, localGet, 0, i32Const, 1, i32Sub, localTee, 0, brIf, 0, end,
		i32Const, 0, i32Const, 1, i32Store, 2, 0,
		end)) // 7 outside the loop, 6 in it
	in := m.bytes()
	if _, err := meter.Rewrite(in, meter.Options{}); err == nil ||
		!strings.Contains(err.Error(), "start function (function 2)") || !strings.Contains(err.Error(), "StartFuel") {
		t.Errorf("without StartFuel: %v", err)
	}
	if _, err := meter.Rewrite(in, meter.Options{StartFuel: -1}); err == nil {
		t.Error("accepted a negative StartFuel")
	}
	const need = 7 + 10*6
	ctx := context.Background()
	eachEngine(t, func(t *testing.T, e engine) {
		mod := metered(t, e, in, meter.Options{StartFuel: need})
		if fuel := getFuel(t, mod); fuel != 0 {
			t.Errorf("%d fuel left after the start function, want 0", fuel)
		}
		if v, _ := mod.Memory().ReadUint32Le(0); v != 1 {
			t.Errorf("the start function did not finish: %d", v)
		}
		rt := newRuntime(ctx, e)
		defer rt.Close(ctx)
		_, err := rt.Instantiate(ctx, rewrite(t, in, meter.Options{StartFuel: need - 1}))
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("instantiated with too little start fuel: %v", err)
		}
	})
}
