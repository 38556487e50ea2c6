package meter

// imm says how the immediates of a one-byte opcode are encoded. The zero
// value, immBad, marks an opcode this package refuses: it cannot skip what
// it does not know, and skipping wrongly could hide a loop.
type imm uint8

const (
	immBad     imm = iota
	immNone        // no immediates
	immBlock       // block type (s33)
	immIndex       // one u32 index
	immBrTable     // vec(label) label
	immCallInd     // type index, table index
	immMemarg      // alignment, offset
	immMemIdx      // one 0x00 byte (memory.size, memory.grow)
	immI32         // s32
	immI64         // s64
	immF32         // 4 bytes
	immF64         // 8 bytes
	immSelectT     // vec(valtype) of length 1
	immRefType     // one reftype byte (ref.null)
	immMisc        // 0xFC prefix
	immSIMD        // 0xFD prefix
)

// Opcodes the walk treats specially.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opBrTable     = 0x0e
	opReturn      = 0x0f
	opReturnCall  = 0x12
	opReturnCallI = 0x13 // return_call_indirect
	opSelect      = 0x1b
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI64Const    = 0x42
	opF32Const    = 0x43
	opF64Const    = 0x44
	opI32Eqz      = 0x45
	opI32LtU      = 0x49
	opI32GtU      = 0x4b
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI64LtS      = 0x53
	opI64Add      = 0x7c
	opI64Sub      = 0x7d
	opI64Mul      = 0x7e
	opI64DivU     = 0x80
	opI64ShrU     = 0x88
	opI64ExtendU  = 0xad
	opRefNull     = 0xd0
	opRefFunc     = 0xd2
	opMisc        = 0xfc
	opSIMD        = 0xfd
	blockEmpty    = 0x40
)

var opImm = func() (t [256]imm) {
	set := func(kind imm, from, to int) {
		for op := from; op <= to; op++ {
			t[op] = kind
		}
	}
	set(immNone, 0x00, 0x01)     // unreachable, nop
	set(immBlock, 0x02, 0x04)    // block, loop, if
	set(immNone, 0x05, 0x05)     // else
	set(immNone, 0x0b, 0x0b)     // end
	set(immIndex, 0x0c, 0x0d)    // br, br_if
	set(immBrTable, 0x0e, 0x0e)  // br_table
	set(immNone, 0x0f, 0x0f)     // return
	set(immIndex, 0x10, 0x10)    // call
	set(immCallInd, 0x11, 0x11)  // call_indirect
	set(immIndex, 0x12, 0x12)    // return_call
	set(immCallInd, 0x13, 0x13)  // return_call_indirect
	set(immNone, 0x1a, 0x1b)     // drop, select
	set(immSelectT, 0x1c, 0x1c)  // select t*
	set(immIndex, 0x20, 0x26)    // local.*, global.*, table.get, table.set
	set(immMemarg, 0x28, 0x3e)   // loads and stores
	set(immMemIdx, 0x3f, 0x40)   // memory.size, memory.grow
	set(immI32, 0x41, 0x41)      // i32.const
	set(immI64, 0x42, 0x42)      // i64.const
	set(immF32, 0x43, 0x43)      // f32.const
	set(immF64, 0x44, 0x44)      // f64.const
	set(immNone, 0x45, 0xc4)     // numeric, sign extension
	set(immRefType, 0xd0, 0xd0)  // ref.null
	set(immNone, 0xd1, 0xd1)     // ref.is_null
	set(immIndex, 0xd2, 0xd2)    // ref.func
	set(immMisc, opMisc, opMisc) // saturating truncation, bulk memory, tables
	set(immSIMD, opSIMD, opSIMD) // fixed-width SIMD
	return t
}()

// family names a refused opcode's proposal, for the error message.
func family(op byte) string {
	switch op {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		return "exception handling"
	case 0x14, 0x15, 0xd3, 0xd4, 0xd5, 0xd6:
		return "typed function references"
	case 0xfb:
		return "garbage collection"
	case 0xfe:
		return "threads (atomics)"
	}
	return "unknown opcode"
}

// Sub-opcodes after 0xFC.
const (
	miscMemoryInit = 8
	miscDataDrop   = 9
	miscMemoryCopy = 10
	miscMemoryFill = 11
	miscTableInit  = 12
	miscElemDrop   = 13
	miscTableCopy  = 14
	miscTableGrow  = 15
	miscTableSize  = 16
	miscTableFill  = 17
)

// simdImm gives the immediates of each 0xFD sub-opcode. The zero value
// marks the 20 unassigned ones; relaxed SIMD (0x100 and up) is refused
// before the table is consulted.
var simdImm = func() (t [256]simdKind) {
	for op := range t {
		t[op] = simdNone
	}
	for op := 0; op <= 11; op++ {
		t[op] = simdMemarg // v128.load*, v128.store
	}
	t[12] = simdBytes16 // v128.const
	t[13] = simdBytes16 // i8x16.shuffle
	for op := 21; op <= 34; op++ {
		t[op] = simdLane // extract_lane, replace_lane
	}
	for op := 84; op <= 91; op++ {
		t[op] = simdMemargLane // v128.load*_lane, v128.store*_lane
	}
	t[92], t[93] = simdMemarg, simdMemarg // v128.load32_zero, v128.load64_zero
	for _, op := range []int{154, 162, 165, 166, 175, 176, 178, 179, 180, 187,
		194, 197, 198, 207, 208, 210, 211, 212, 226, 238} {
		t[op] = simdBad
	}
	return t
}()

type simdKind uint8

const (
	simdBad simdKind = iota
	simdNone
	simdMemarg
	simdMemargLane
	simdLane
	simdBytes16
)

// isValType reports the value types of the WebAssembly 2.0 core spec. The
// reference types of the GC and typed-function-references proposals are
// refused with everything else.
func isValType(b byte) bool {
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

func isRefType(b byte) bool { return b == 0x70 || b == 0x6f }
