package meter_test

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"fluvius.dev/fluvius/meter"
)

func i32x4(a, b, c, d uint32) []byte {
	v := make([]byte, 16)
	for i, x := range []uint32{a, b, c, d} {
		binary.LittleEndian.PutUint32(v[4*i:], x)
	}
	return v
}

func f32bytes(f float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)) }

// acc adds what the instructions leave on the stack to local 0.
func acc(parts ...any) []any {
	return append(append([]any{localGet, 0}, parts...), i32Add, localSet, 0)
}

func flat(groups ...[]any) []any {
	var all []any
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// features is one function "f" that touches every proposal the toolchains
// use, adding up what each computes.
func features() wmod {
	shuffle := []byte{8, 9, 10, 11, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}
	body := flat(
		// Multi-value block taking two params: (3+4)*10.
		[]any{i32Const, 3, i32Const, 4, block, 1, i32Add, i32Const, 10, end, i32Mul, localSet, 0},
		// Sign extension: +extend8_s(255) = -1.
		acc(i32Const, s(255), i32Extend8S),
		// SIMD: (1,2,3,4) + splat(5), shuffled, lane 0 = 8.
		acc(simd, 12, i32x4(1, 2, 3, 4), i32Const, 5, simd, 17, simd, 0xae, 0x01,
			simd, 12, i32x4(0, 0, 0, 0), simd, 13, shuffle, simd, 27, 0),
		// i16x8.abs (a two-byte sub-opcode) of splat(-3), lane 0 = 3.
		acc(i32Const, s(-3), simd, 16, simd, 0x80, 0x01, simd, 24, 0),
		// br_table to the second of three targets: +200.
		[]any{block, void, block, void, block, void,
			i32Const, 1, brTable, 2, 0, 1, 2,
			end},
		acc(i32Const, s(1000)), []any{br, 1, end},
		acc(i32Const, s(200)), []any{end},
		// call_indirect: double(inc(acc)).
		[]any{localGet, 0, i32Const, 1, callIndirect, 2, 0, i32Const, 0, callIndirect, 2, 0, localSet, 0},
		// select t: +9.
		acc(i32Const, 7, i32Const, 9, i32Const, 0, selectT, 1, i32),
		// Reference types: +is_null(null) = 1; table.set, table.get.
		acc(refNull, funcref, refIsNull),
		[]any{i32Const, 3, refFunc, 2, tableSet, 0},
		acc(i32Const, 3, tableGet, 0, refIsNull),
		[]any{localGet, 0, i32Const, 3, callIndirect, 2, 0, localSet, 0}, // inc
		acc(misc, 16, 0), // table.size: +4
		acc(refNull, funcref, i32Const, 2, misc, 15, 0),                           // table.grow: +4
		[]any{i32Const, 4, refNull, funcref, i32Const, 2, misc, 17, 0},            // table.fill
		[]any{i32Const, 5, i32Const, 0, i32Const, 1, misc, 14, 0, 0},              // table.copy
		[]any{localGet, 0, i32Const, 5, callIndirect, 2, 0, localSet, 0},          // double
		[]any{i32Const, 4, i32Const, 0, i32Const, 1, misc, 12, 1, 0, misc, 13, 1}, // table.init, elem.drop
		[]any{localGet, 0, i32Const, 4, callIndirect, 2, 0, localSet, 0},          // inc
		// Bulk memory: "hello" at 100, copied to 200, fill 300..302 with 7.
		[]any{i32Const, s(100), i32Const, 0, i32Const, 5, misc, 8, 0, 0, misc, 9, 0},
		[]any{i32Const, s(200), i32Const, s(100), i32Const, 5, misc, 10, 0, 0},
		[]any{i32Const, s(300), i32Const, 7, i32Const, 3, misc, 11, 0},
		acc(i32Const, s(204), i32Load8U, 0, 0), // 'o'
		acc(i32Const, s(302), i32Load8U, 0, 0), // 7
		// A loop with a parameter, five passes: +5.
		[]any{i32Const, 5, loop, 2},
		acc(i32Const, 1),
		[]any{i32Const, 1, i32Sub, localTee, 1, localGet, 1, brIf, 0, end, drop},
		// Saturating truncation: trunc_sat(1e10) == MaxInt32.
		acc(f32Const, f32bytes(1e10), misc, 0, i32Const, s(math.MaxInt32), i32Eq),
		// memory.grow and memory.size: +2.
		[]any{i32Const, 1, memoryGrow, 0, drop},
		acc(memorySize, 0),
		[]any{localGet, 0, end},
	)
	return wmod{
		types: [][]byte{
			functype(nil, []byte{i32}),
			functype([]byte{i32, i32}, []byte{i32, i32}),
			functype([]byte{i32}, []byte{i32}),
		},
		funcs:   [][]byte{u(0), u(2), u(2)},
		tables:  [][]byte{ins(funcref, 0x00, 4)},
		mems:    [][]byte{ins(0x00, 1)},
		exports: [][]byte{exportFunc("f", 0)},
		elems: [][]byte{
			ins(0x00, i32Const, 0, end, vec(u(1), u(2))), // active: double, inc
			ins(0x01, 0x00, vec(u(2))),                   // passive: inc
		},
		dataCount: true,
		datas:     [][]byte{ins(0x01, "hello")},
		codes: [][]byte{
			code([]int{2, i32}, body...),
			code(nil, localGet, 0, i32Const, 2, i32Mul, end),
			code(nil, localGet, 0, i32Const, 1, i32Add, end),
		},
	}
}

func TestFeaturesComputeTheSame(t *testing.T) {
	const want = 1289
	in := features().bytes()
	eachEngine(t, func(t *testing.T, e engine) {
		plain, err := instantiate(t, e, in).ExportedFunction("f").Call(context.Background())
		if err != nil || plain[0] != want {
			t.Fatalf("unmetered: %v, %v; want %d", plain, err, want)
		}
		for _, perUnit := range []uint32{0, 1, 3} {
			// Each instance runs once: the function changes its memory
			// and tables.
			mod := metered(t, e, in, meter.Options{BulkBytesPerUnit: perUnit})
			got, err, used := callWith(t, mod, 1<<40, "f")
			if err != nil || got[0] != want {
				t.Fatalf("metered: %v, %v; want %d", got, err, want)
			}
			for _, fuel := range []int64{used, used - 1} {
				mod := metered(t, e, in, meter.Options{BulkBytesPerUnit: perUnit})
				_, err, _ := callWith(t, mod, fuel, "f")
				if (err == nil) != (fuel == used) {
					t.Errorf("per unit %d, fuel %d of the %d used: %v", perUnit, fuel, used, err)
				}
			}
		}
	})
}
