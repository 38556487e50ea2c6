package meter

import (
	"errors"
	"fmt"
)

// siteKind is what gets inserted at a site.
type siteKind uint8

const (
	siteCharge siteKind = iota // subtract a region's static cost
	siteBulk                   // subtract the length operand's cost
	siteGrow                   // subtract memory.grow's page delta's cost
)

// site is a place in a function body where metering code goes, before the
// byte at offset at.
type site struct {
	at     int
	kind   siteKind
	region int // for siteCharge: index into walker.costs
}

// frame is an open block. Each frame belongs to a region: the function
// entry or the innermost loop around it, whose header pays for every
// instruction of the region.
type frame struct {
	op     byte // opBlock, opLoop, opIf, opElse, or 0 for the function
	region int
}

// walker finds the sites of one function body at a time; its slices are
// reused from body to body.
type walker struct {
	sites []site
	costs []int64
	stack []frame

	globals uint32 // the input's globals: the fuel global's index

	// Of the body walked last:
	locals      uint32 // params plus declared locals: the scratch local's index
	entries     uint32 // local declaration entries
	entriesAt   int    // offset of the first entry
	exprAt      int    // offset of the expression
	needScratch bool
}

// bodyError says which function and which byte a refusal is about.
type bodyError struct {
	fn  uint32 // in the function index space, as the name section counts
	off int    // in the module
	msg string
}

func (e *bodyError) Error() string {
	return fmt.Sprintf("meter: function %d, offset %#x: %s", e.fn, e.off, e.msg)
}

// walk reads the body of a function with params parameters and records
// where metering code goes. A refusal comes with the offset in body it is
// about, for the caller to place in the module.
func (w *walker) walk(body []byte, params uint32) (int, error) {
	w.sites, w.costs, w.stack = w.sites[:0], w.costs[:0], w.stack[:0]
	w.needScratch = false
	r := reader{b: body}
	n, err := r.count(2)
	if err != nil {
		return r.pos, fmt.Errorf("local declarations: %w", err)
	}
	w.entries, w.entriesAt = uint32(n), r.pos
	total := uint64(params)
	for range n {
		k, err := r.u32()
		if err != nil {
			return r.pos, err
		}
		if t, _ := r.byte(); !isValType(t) {
			return r.pos - 1, fmt.Errorf("local of unsupported type %#x", t)
		}
		if total += uint64(k); total > maxLocals {
			return r.pos, fmt.Errorf("more than %d params and locals", maxLocals)
		}
	}
	w.locals, w.exprAt = uint32(total), r.pos

	w.costs = append(w.costs, 0)
	w.sites = append(w.sites, site{at: r.pos, kind: siteCharge})
	w.stack = append(w.stack, frame{})
	for len(w.stack) > 0 {
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return at, errors.New("the body ends inside a block")
		}
		top := len(w.stack) - 1
		region := w.stack[top].region
		w.costs[region]++
		if err := w.instr(&r, op, at, top); err != nil {
			return at, err
		}
	}
	if r.left() != 0 {
		return r.pos, fmt.Errorf("%d bytes after the function's final end", r.left())
	}
	return 0, nil
}

func (w *walker) instr(r *reader, op byte, at, top int) error {
	var err error
	switch opImm[op] {
	case immBad:
		return refused(r, op)
	case immNone:
		switch op {
		case opElse:
			if w.stack[top].op != opIf {
				return errors.New("else outside an if")
			}
			w.stack[top].op = opElse
		case opEnd:
			w.stack = w.stack[:top]
		}
	case immBlock:
		err = blockType(r)
		region := w.stack[top].region
		if op == opLoop {
			region = len(w.costs)
			w.costs = append(w.costs, 0)
			w.sites = append(w.sites, site{at: r.pos, kind: siteCharge, region: region})
		}
		w.stack = append(w.stack, frame{op: op, region: region})
	case immIndex:
		var idx uint32
		if idx, err = r.u32(); err != nil {
			return err
		}
		switch {
		case op >= opLocalGet && op <= opLocalTee && idx >= w.locals:
			return fmt.Errorf("local %d out of range (%d locals)", idx, w.locals)
		case (op == opGlobalGet || op == opGlobalSet) && idx >= w.globals:
			return fmt.Errorf("global %d out of range (%d globals)", idx, w.globals)
		}
	case immBrTable:
		var n int
		if n, err = r.count(1); err != nil {
			return err
		}
		for i := 0; i <= n && err == nil; i++ {
			_, err = r.u32()
		}
	case immCallInd:
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
	case immMemarg:
		err = memarg(r)
	case immMemIdx:
		err = zeroByte(r)
		if op == opMemoryGrow {
			w.bulk(at, siteGrow)
		}
	case immI32:
		_, err = r.sleb(32)
	case immI64:
		_, err = r.sleb(64)
	case immF32:
		err = r.skip(4)
	case immF64:
		err = r.skip(8)
	case immSelectT:
		if n, _ := r.byte(); n != 1 {
			return fmt.Errorf("select with %d types", n)
		}
		if t, _ := r.byte(); !isValType(t) {
			return fmt.Errorf("select of unsupported type %#x", t)
		}
	case immRefType:
		if t, _ := r.byte(); !isRefType(t) {
			return fmt.Errorf("ref.null of unsupported type %#x", t)
		}
	case immMisc:
		err = w.misc(r, at)
	case immSIMD:
		err = simd(r)
	}
	return err
}

func (w *walker) bulk(at int, kind siteKind) {
	w.sites = append(w.sites, site{at: at, kind: kind})
	w.needScratch = true
}

// blockType reads a block type: 0x40, one value type, or a type index.
// Negative values are accepted only in their one-byte forms.
func blockType(r *reader) error {
	start := r.pos
	v, err := r.sleb(33)
	switch {
	case err != nil:
		return err
	case v >= 0:
		return nil // the type index is wazero's to check
	case r.pos-start == 1 && (r.b[start] == blockEmpty || isValType(r.b[start])):
		return nil
	}
	return fmt.Errorf("unsupported block type % x", r.b[start:r.pos])
}

func memarg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		return errors.New("memarg names a memory index (multi-memory), which is not supported")
	}
	_, err = r.u32()
	return err
}

// zeroByte reads the reserved memory index of an instruction, which must
// be the single byte 0x00 (as wazero requires).
func zeroByte(r *reader) error {
	b, err := r.byte()
	if err == nil && b != 0 {
		err = fmt.Errorf("memory index byte %#x (multi-memory), which is not supported", b)
	}
	return err
}

func (w *walker) misc(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncation
	case miscDataDrop, miscElemDrop, miscTableSize:
		_, err = r.u32()
	case miscMemoryInit:
		if _, err = r.u32(); err == nil {
			err = zeroByte(r)
		}
		w.bulk(at, siteBulk)
	case miscMemoryCopy:
		if err = zeroByte(r); err == nil {
			err = zeroByte(r)
		}
		w.bulk(at, siteBulk)
	case miscMemoryFill:
		err = zeroByte(r)
		w.bulk(at, siteBulk)
	case miscTableInit, miscTableCopy:
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
		w.bulk(at, siteBulk)
	case miscTableGrow, miscTableFill:
		_, err = r.u32()
		w.bulk(at, siteBulk)
	default:
		return fmt.Errorf("opcode 0xfc 0x%02x (unknown) is not supported", sub)
	}
	return err
}

func simd(r *reader) error {
	start := r.pos
	sub, err := r.u32()
	if err != nil {
		return err
	}
	// wazero reads the sub-opcode as one byte (and the second byte of the
	// two-byte forms as a nop), so only the shortest encoding decodes the
	// same in both.
	switch {
	case r.pos-start != sizeU32(sub):
		return fmt.Errorf("opcode 0xfd 0x%02x has a padded encoding, which is not supported", sub)
	case sub > 0xff:
		return fmt.Errorf("opcode 0xfd 0x%02x (relaxed SIMD or unknown) is not supported", sub)
	}
	switch simdImm[sub] {
	case simdBad:
		return fmt.Errorf("opcode 0xfd 0x%02x (unassigned SIMD opcode) is not supported", sub)
	case simdMemarg:
		return memarg(r)
	case simdMemargLane:
		if err := memarg(r); err != nil {
			return err
		}
		return r.skip(1)
	case simdLane:
		return r.skip(1)
	case simdBytes16:
		return r.skip(16)
	}
	return nil
}

// refused describes an opcode this package does not handle, with its
// sub-opcode when it has a prefix.
func refused(r *reader, op byte) error {
	switch op {
	case 0xfb, 0xfe:
		if sub, err := r.u32(); err == nil {
			return fmt.Errorf("opcode 0x%02x 0x%02x (%s) is not supported", op, sub, family(op))
		}
	}
	return fmt.Errorf("opcode 0x%02x (%s) is not supported", op, family(op))
}
