package meter_test

// A tiny assembler for test modules, independent of the package's own
// encoders so that a bug there cannot hide in the tests.

// Value types and opcodes the tests use.
const (
	i32     = 0x7f
	i64     = 0x7e
	f32     = 0x7d
	v128    = 0x7b
	funcref = 0x70
	void    = 0x40

	unreachable  = 0x00
	block        = 0x02
	loop         = 0x03
	ifOp         = 0x04
	elseOp       = 0x05
	end          = 0x0b
	br           = 0x0c
	brIf         = 0x0d
	brTable      = 0x0e
	ret          = 0x0f
	call         = 0x10
	callIndirect = 0x11
	drop         = 0x1a
	selectT      = 0x1c
	localGet     = 0x20
	localSet     = 0x21
	localTee     = 0x22
	globalGet    = 0x23
	globalSet    = 0x24
	tableGet     = 0x25
	tableSet     = 0x26
	i32Load      = 0x28
	i32Load8U    = 0x2d
	i32Store     = 0x36
	memorySize   = 0x3f
	memoryGrow   = 0x40
	i32Const     = 0x41
	i64Const     = 0x42
	f32Const     = 0x43
	i32Eqz       = 0x45
	i32Eq        = 0x46
	i32Add       = 0x6a
	i32Sub       = 0x6b
	i32Mul       = 0x6c
	i64Add       = 0x7c
	i64ExtendU   = 0xad
	i32Extend8S  = 0xc0
	refNull      = 0xd0
	refIsNull    = 0xd1
	refFunc      = 0xd2
	misc         = 0xfc
	simd         = 0xfd
)

// u encodes an unsigned LEB128 number.
func u(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// s encodes a signed LEB128 number.
func s(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// ins concatenates opcodes and immediates: an int is one byte, a []byte
// is copied, a string is a length-prefixed name.
func ins(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			if p < 0 || p > 255 {
				panic("ins: byte out of range")
			}
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(append(b, u(uint64(len(p)))...), p...)
		default:
			panic("ins: unsupported part")
		}
	}
	return b
}

// vec prefixes the concatenated elements with their count.
func vec(elems ...[]byte) []byte {
	b := u(uint64(len(elems)))
	for _, e := range elems {
		b = append(b, e...)
	}
	return b
}

// sized prefixes b with its length.
func sized(b []byte) []byte { return append(u(uint64(len(b))), b...) }

func functype(params, results []byte) []byte {
	return ins(0x60, sized(params), sized(results))
}

// code is a function body: locals as (count, type) pairs, then the code.
func code(locals []int, body ...any) []byte {
	var ls [][]byte
	for i := 0; i < len(locals); i += 2 {
		ls = append(ls, ins(locals[i], locals[i+1]))
	}
	return sized(append(vec(ls...), ins(body...)...))
}

func exportFunc(name string, idx int) []byte { return ins(name, 0x00, u(uint64(idx))) }

// wmod is a module to assemble; each field holds a section's elements.
type wmod struct {
	types, imports, funcs, tables, mems, globals, exports, elems, codes, datas [][]byte
	start                                                                      []byte
	dataCount                                                                  bool
	customs                                                                    [][]byte // name + payload, at the end
}

func (m wmod) bytes() []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	sec := func(id byte, elems [][]byte) {
		if len(elems) > 0 {
			b = append(append(b, id), sized(vec(elems...))...)
		}
	}
	sec(1, m.types)
	sec(2, m.imports)
	sec(3, m.funcs)
	sec(4, m.tables)
	sec(5, m.mems)
	sec(6, m.globals)
	sec(7, m.exports)
	if m.start != nil {
		b = append(append(b, 8), sized(m.start)...)
	}
	sec(9, m.elems)
	if m.dataCount {
		b = append(append(b, 12), sized(u(uint64(len(m.datas))))...)
	}
	sec(10, m.codes)
	sec(11, m.datas)
	for _, c := range m.customs {
		b = append(append(b, 0), sized(c)...)
	}
	return b
}

// one is a module of one exported function "f" of the given type.
func one(params, results []byte, body []byte) wmod {
	return wmod{
		types:   [][]byte{functype(params, results)},
		funcs:   [][]byte{u(0)},
		exports: [][]byte{exportFunc("f", 0)},
		codes:   [][]byte{body},
	}
}
