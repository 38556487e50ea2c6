package meter_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"fluvius.dev/fluvius/meter"
)

// withMemory adds a one-page memory to a module.
func withMemory(m wmod) wmod {
	m.mems = [][]byte{ins(0x00, 1)}
	return m
}

func TestRefusals(t *testing.T) {
	// Two functions, so the refused one has index 1; the bad instruction
	// follows i32.const 0, drop, and is marked by the bytes of mark.
	mark := []byte{i32Const, 0x2a, drop}
	bad := func(instr ...any) []byte {
		m := wmod{
			types:   [][]byte{functype(nil, nil)},
			funcs:   [][]byte{u(0), u(0)},
			mems:    [][]byte{ins(0x00, 1)},
			exports: [][]byte{exportFunc("f", 1)},
			codes: [][]byte{
				code(nil, end),
				code(nil, append([]any{mark}, append(instr, end)...)...),
			},
		}
		return m.bytes()
	}
	for _, c := range []struct {
		name string
		wasm []byte
		want []string // in the message; "@" stands for the offset after mark
	}{
		{"unknown opcode", bad(0x27), []string{"function 1", "@", "opcode 0x27", "unknown"}},
		{"unknown after numeric", bad(0xc5), []string{"function 1", "@", "opcode 0xc5"}},
		{"try", bad(0x06, void, end), []string{"function 1", "@", "opcode 0x06", "exception handling"}},
		{"throw", bad(0x08, 0), []string{"@", "opcode 0x08", "exception handling"}},
		{"try_table", bad(0x1f, void, 0, end), []string{"@", "opcode 0x1f", "exception handling"}},
		{"atomics", bad(i32Const, 0, 0xfe, 0x10, 2, 0, drop), []string{"function 1", "opcode 0xfe 0x10", "threads"}},
		{"atomic fence", bad(0xfe, 0x03, 0), []string{"@", "opcode 0xfe 0x03", "threads"}},
		{"gc", bad(0xfb, 0x00, 0), []string{"@", "opcode 0xfb 0x00", "garbage collection"}},
		{"call_ref", bad(0x14, 0), []string{"@", "opcode 0x14", "typed function references"}},
		{"unknown misc", bad(misc, 0x12, 0), []string{"@", "opcode 0xfc 0x12"}},
		{"relaxed simd", bad(simd, 0x80, 0x02), []string{"function 1", "opcode 0xfd 0x100", "relaxed"}},
		{"unassigned simd", bad(simd, 0x9a, 0x01), []string{"opcode 0xfd 0x9a", "unassigned"}},
		{"padded simd", bad(simd, 0x8c, 0x00), []string{"opcode 0xfd 0x0c", "padded"}},
		{"multi-memory memarg", bad(i32Const, 0, i32Load, 0x42, 0, 0, drop), []string{"function 1", "multi-memory"}},
		{"multi-memory fill", bad(i32Const, 0, i32Const, 0, i32Const, 0, misc, 11, 1), []string{"multi-memory"}},
		{"memory.size padded", bad(memorySize, 0x80, 0x00, drop), []string{"multi-memory"}},
		{"global out of range", bad(i64Const, 1, globalSet, 0), []string{"function 1", "global 0 out of range"}},
		{"local out of range", bad(localGet, 0, drop), []string{"function 1", "local 0 out of range"}},
		{"else outside if", bad(block, void, elseOp, end), []string{"function 1", "else outside an if"}},
		{"ref.null of a type index", bad(refNull, 0x00, drop), []string{"ref.null"}},
		{"block type of a GC reference", bad(block, 0x63, 0x70, end), []string{"block type"}},
		{"memory64", func() []byte {
			m := spin()
			m.mems = [][]byte{ins(0x04, 1)}
			return m.bytes()
		}(), []string{"memory 0", "memory64"}},
		{"imported memory64", func() []byte {
			m := spin()
			m.imports = [][]byte{ins("env", "mem", 0x02, 0x05, 1, 2)}
			return m.bytes()
		}(), []string{"memory 0", "memory64"}},
		{"table64", func() []byte {
			m := spin()
			m.tables = [][]byte{ins(funcref, 0x04, 1)}
			return m.bytes()
		}(), []string{"table 0", "table64"}},
		{"fuel already exported", func() []byte {
			m := spin()
			m.exports = append(m.exports, exportFunc(meter.FuelGlobal, 0))
			return m.bytes()
		}(), []string{"already exports", meter.FuelGlobal}},
		{"tag section", append(spin().bytes(), 13, 3, 1, 0, 0), []string{"tag section", "exception handling"}},
		{"not wasm", []byte("\x00asx\x01\x00\x00\x00"), []string{"magic"}},
		{"truncated body", one(nil, nil, code(nil, block, void, end)).bytes(), []string{"function 0", "ends inside a block"}},
		{"bytes after end", one(nil, nil, code(nil, end, 0x01)).bytes(), []string{"function 0", "after the function's final end"}},
		{"section out of order", func() []byte {
			m := spin().bytes()
			return append(m, 1, 1, 0) // a type section after the code
		}(), []string{"type section", "out of order"}},
		{"element count bomb", func() []byte {
			m := spin()
			m.elems = [][]byte{ins(0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f)}
			return m.bytes()
		}(), []string{"element section", "exceeds"}},
		{"name count bomb", func() []byte {
			m := spin()
			m.customs = [][]byte{ins("name", 1, sized(ins(0xff, 0xff, 0xff, 0xff, 0x0f)))}
			return m.bytes()
		}(), []string{"custom section", "name subsection 1", "exceeds"}},
		{"section size past the end", append(spin().bytes(), 0, 0xff, 0x01), []string{"section header"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := meter.Rewrite(c.wasm, meter.Options{})
			if err == nil {
				t.Fatalf("accepted: % x", out)
			}
			for _, w := range c.want {
				if w == "@" {
					w = fmt.Sprintf("offset %#x", bytes.Index(c.wasm, mark)+len(mark))
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestTooManyLocals(t *testing.T) {
	m := one(nil, nil, sized(ins(vec(ins(u(40000), i32), ins(u(10001), i64)), end)))
	_, err := meter.Rewrite(m.bytes(), meter.Options{})
	if err == nil || !strings.Contains(err.Error(), "more than 50000 params and locals") {
		t.Errorf("got %v", err)
	}
	m = one(nil, nil, sized(ins(vec(ins(u(40000), i32), ins(u(10000), i64)), end)))
	if _, err := meter.Rewrite(m.bytes(), meter.Options{}); err != nil {
		t.Errorf("50000 locals: %v", err)
	}
}
