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
	siteTrace                  // tests only: before every instruction

	// The call depth: each way a frame ends normally takes one from the
	// depth counter, which the entry charge (siteCharge of region 0)
	// adds to.
	siteLeave      // return, a tail call or a branch that leaves the function
	siteLeaveIf    // br_if to the function's label: if taken
	siteLeaveTable // br_table: if the label it picks is the function's
)

// site is a place in a function body where metering code goes, before the
// byte at offset at.
type site struct {
	at     int
	kind   siteKind
	label  uint32 // for siteLeaveTable: the function's label there
	region int    // for siteCharge and siteTrace: index into walker.costs
}

// unreached is the path length at a point no pass reaches: after br,
// br_table, return, unreachable or a tail call, up to the end or else
// that closes the frame. It is below every length, so max ignores it.
const unreached = -1

// frame is an open block. Each frame belongs to a region: the function
// entry or the innermost loop around it, whose charge pays for the
// region's instructions.
type frame struct {
	op     byte // opBlock, opLoop, opIf, opElse, or 0 for the function
	region int

	// For the frames a branch continues after (all but loops): the
	// longest path of a branch to the frame's end, in its region.
	label int64
	// For if and else: the longest path just after the if, where the
	// else arm starts; for else: the longest through the then arm and
	// its else.
	start, then int64
}

// walker finds the sites of one function body at a time; its slices are
// reused from body to body.
type walker struct {
	sites []site
	stack []frame

	// Per region, in the order of their charge points: the longest path
	// of a pass, so far, and, while a loop nested in the region is open,
	// the longest path up to and including that loop's instruction.
	costs   []int64
	atLoop  []int64
	current int64 // the longest path to here in the innermost region

	globals uint32 // the input's globals: the fuel global's index
	trace   bool   // tests only: record a siteTrace before every instruction

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
// where metering code goes, and each region's cost: the longest path a
// pass through it can take (see the package documentation). A refusal
// comes with the offset in body it is about, for the caller to place in
// the module.
func (w *walker) walk(body []byte, params uint32) (int, error) {
	w.sites, w.costs, w.atLoop, w.stack = w.sites[:0], w.costs[:0], w.atLoop[:0], w.stack[:0]
	w.needScratch = w.trace
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

	w.costs, w.atLoop, w.current = append(w.costs, 0), append(w.atLoop, unreached), 0
	w.sites = append(w.sites, site{at: r.pos, kind: siteCharge})
	w.stack = append(w.stack, frame{label: unreached})
	for len(w.stack) > 0 {
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return at, errors.New("the body ends inside a block")
		}
		top := len(w.stack) - 1
		region := w.stack[top].region
		if w.trace {
			w.sites = append(w.sites, site{at: at, kind: siteTrace, region: region})
		}
		// Every instruction a pass reaches is one more on its path.
		if w.current != unreached {
			w.current++
			w.costs[region] = max(w.costs[region], w.current)
		}
		if err := w.instr(&r, op, at, top); err != nil {
			return at, err
		}
	}
	if r.left() != 0 {
		return r.pos, fmt.Errorf("%d bytes after the function's final end", r.left())
	}
	return 0, nil
}

// branch records a branch to label l, taken from the current point.
func (w *walker) branch(l uint32, top int) error {
	if l > uint32(top) {
		return fmt.Errorf("branch to label %d inside %d blocks", l, top)
	}
	f := &w.stack[top-int(l)]
	if f.op == opLoop {
		// To a loop header: the pass of the loop's region ends here, and
		// that of every region between; the next one is charged.
		return nil
	}
	// After f's end, the pass of f's region goes on. If the branch leaves
	// loops nested in that region, its path so far ends at the outermost
	// of them: what ran inside them was theirs to pay.
	v := w.current
	if f.region != w.stack[top].region {
		v = w.atLoop[f.region]
	}
	f.label = max(f.label, v)
	return nil
}

// instr reads the instruction op, already counted, and follows its
// control flow.
func (w *walker) instr(r *reader, op byte, at, top int) error {
	var err error
	switch opImm[op] {
	case immBad:
		return refused(r, op)
	case immNone:
		switch op {
		case opReturn:
			w.leave(at, siteLeave, 0)
			w.current = unreached
		case opUnreachable:
			w.current = unreached
		case opElse:
			f := &w.stack[top]
			if f.op != opIf {
				return errors.New("else outside an if")
			}
			f.op, f.then, w.current = opElse, w.current, f.start
		case opEnd:
			f := w.stack[top]
			w.stack = w.stack[:top]
			switch f.op {
			case 0:
				// Falling off the function's final end.
				w.leave(at, siteLeave, 0)
			case opBlock:
				w.current = max(w.current, f.label)
			case opIf:
				// Without an else, a false condition goes to the end.
				w.current = max(w.current, f.label, f.start)
			case opElse:
				w.current = max(w.current, f.label, f.then)
			case opLoop:
				// Falling off the loop's end goes on with the pass of
				// the region around it, from the loop instruction.
				if w.current != unreached {
					w.current = w.atLoop[w.stack[top-1].region]
				}
			}
		}
	case immBlock:
		err = blockType(r)
		f := frame{op: op, region: w.stack[top].region, label: unreached, start: w.current}
		if op == opLoop {
			w.atLoop[f.region] = w.current
			f.region = len(w.costs)
			w.costs, w.atLoop, w.current = append(w.costs, 0), append(w.atLoop, unreached), 0
			w.sites = append(w.sites, site{at: r.pos, kind: siteCharge, region: f.region})
		}
		w.stack = append(w.stack, f)
	case immIndex:
		var idx uint32
		if idx, err = r.u32(); err != nil {
			return err
		}
		switch {
		case op == opBr || op == opBrIf:
			if idx == uint32(top) {
				kind := siteLeave
				if op == opBrIf {
					kind = siteLeaveIf
				}
				w.leave(at, kind, 0)
			}
			err = w.branch(idx, top)
			if op == opBr {
				w.current = unreached
			}
		case op == opReturnCall:
			// The callee replaces the frame, and counts itself.
			w.leave(at, siteLeave, 0)
			w.current = unreached
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
		out := 0 // labels that leave the function
		for i := 0; i <= n && err == nil; i++ {
			var l uint32
			if l, err = r.u32(); err == nil {
				err = w.branch(l, top)
				if l == uint32(top) {
					out++
				}
			}
		}
		switch out {
		case 0:
		case n + 1:
			w.leave(at, siteLeave, 0)
		default:
			w.leave(at, siteLeaveTable, uint32(top))
		}
		w.current = unreached
	case immCallInd:
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
		if op == opReturnCallI {
			w.leave(at, siteLeave, 0)
			w.current = unreached
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

// leave records a way out of the function's frame at the instruction at
// offset at, unless no pass reaches it: there the depth counter goes down.
func (w *walker) leave(at int, kind siteKind, label uint32) {
	if w.current == unreached {
		return
	}
	w.sites = append(w.sites, site{at: at, kind: kind, label: label})
	if kind != siteLeave {
		w.needScratch = true
	}
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
