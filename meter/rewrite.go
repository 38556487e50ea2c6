package meter

import (
	"fmt"
	"math"
	"math/bits"
)

// Version changes whenever the rewriting changes; callers key caches by it.
const Version = 3

// FuelGlobal is the export name of the added mutable i64 global.
const FuelGlobal = "fluvius_fuel"

// DefaultBulkBytesPerUnit is the BulkBytesPerUnit of a zero Options. A unit
// of fuel stands for about one instruction; filling or copying 64 bytes
// costs a few of them in compiled code, so bulk work is charged about as
// much as the same bytes moved by a loop, and a guest cannot buy long
// memcpys with little fuel.
const DefaultBulkBytesPerUnit = 64

// DefaultMaxTableElements is the MaxTableElements of a zero Options. A
// table of 65536 references takes 512 KiB in wazero. Go's table is the
// largest a toolchain makes: 4096 entries and one per function, about
// 6000 for the example plugins; a Go program of more than 61440
// functions needs a larger bound.
const DefaultMaxTableElements = 65536

// DefaultMaxCallDepth is the MaxCallDepth of a zero Options: far more
// frames than the toolchains' runtimes use (Go's and AssemblyScript's
// initialisers and manifests stay within a few dozen), and few enough
// that an unbounded recursion of small frames traps within a megabyte or
// so of stack, not the 100 MB wazero's compiler allows. (wazero's
// interpreter stops at 2000 frames on its own.)
const DefaultMaxCallDepth = 10_000

// Options tune the cost model and the bounds. The zero value is the one
// to use unless a host measured otherwise; changing an option changes the
// output, so key caches by the options too.
type Options struct {
	// BulkBytesPerUnit is how many bytes (for memory instructions) or
	// elements (for table instructions) of a bulk instruction's length
	// cost one unit, on top of one unit per instruction. memory.grow pays
	// for each page requested as for 65536 bytes. 0 means
	// DefaultBulkBytesPerUnit; a power of two makes the charge a shift
	// instead of a division.
	BulkBytesPerUnit uint32

	// StartFuel is the fuel global's initial value: the budget of a start
	// function, which runs while wazero instantiates the module, before
	// the host can set the global. A module with a start section is
	// refused while it is 0, as its start function would trap at once.
	// Modules without one do not run before the host sets the fuel.
	StartFuel int64

	// MaxTableElements bounds every table, which a host allocates in
	// full at instantiation, for no fuel, and as table.grow asks, for a
	// unit per BulkBytesPerUnit elements. A module is refused if a
	// table's minimum exceeds it, or if it imports a table without a
	// maximum or with a larger one (imports are kept as they are: with
	// a maximum at most MaxTableElements, only a table as bounded links
	// to one). A defined table without a maximum or with a larger one
	// gets MaxTableElements as its maximum, so that table.grow past it
	// returns -1 as the specification allows. 0 means
	// DefaultMaxTableElements.
	MaxTableElements uint32

	// MaxCallDepth bounds the frames of the module's own functions on
	// the call stack: the call that would make it MaxCallDepth+1 traps
	// with unreachable, however much fuel is left. Host functions do not
	// count, but the guest functions they call do. 0 means
	// DefaultMaxCallDepth.
	MaxCallDepth uint32
}

// Rewrite returns the module with metering added, or an error that says
// exactly what it refused (which function index, which byte offset, which
// opcode).
func Rewrite(wasm []byte, opts Options) ([]byte, error) {
	return rewrite(wasm, opts, nil)
}

// tracer is code that tests insert at every siteTrace and after every
// charge; see emitter.trace.
type tracer func(out []byte, s site, w *walker) []byte

func rewrite(wasm []byte, opts Options, trace tracer) ([]byte, error) {
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.StartFuel < 0:
		return nil, fmt.Errorf("meter: negative StartFuel %d", opts.StartFuel)
	case m.start >= 0 && opts.StartFuel == 0:
		return nil, fmt.Errorf("meter: the module has a start function (function %d), which would run out of fuel "+
			"at instantiation: set Options.StartFuel, or build it to export an initialiser instead "+
			"(AssemblyScript: --exportStart _initialize)", m.start)
	}
	maxTable := opts.MaxTableElements
	if maxTable == 0 {
		maxTable = DefaultMaxTableElements
	}
	if err := m.checkTables(maxTable); err != nil {
		return nil, err
	}
	maxDepth := opts.MaxCallDepth
	if maxDepth == 0 {
		maxDepth = DefaultMaxCallDepth
	}
	e := emitter{m: m, fuel: m.globals(), depth: m.globals() + 1, startFuel: opts.StartFuel,
		maxTable: maxTable, maxDepth: maxDepth, trace: trace}
	e.w = walker{globals: m.globals(), trace: trace != nil}
	e.setCosts(opts.BulkBytesPerUnit)
	out := make([]byte, 0, len(wasm)+len(wasm)/4+64)
	out = append(out, wasm[:8]...)
	haveGlobal, haveExport := false, false
	for _, s := range m.sections {
		if s.id != secCustom {
			if !haveGlobal && rank[s.id] > rank[secGlobal] {
				out, haveGlobal = e.globalSection(out, nil, 0), true
			}
			if !haveExport && rank[s.id] > rank[secExport] {
				out, haveExport = e.exportSection(out, nil, 0), true
			}
		}
		switch s.id {
		case secGlobal:
			out, haveGlobal = e.globalSection(out, wasm[m.globalElems:s.end], m.definedGlobals), true
		case secExport:
			out, haveExport = e.exportSection(out, wasm[m.exportElems:s.end], m.exports), true
		case secTable:
			out = e.tableSection(out)
		case secCode:
			if out, err = e.codeSection(out); err != nil {
				return nil, err
			}
		default:
			out = append(out, wasm[s.head:s.end]...)
		}
	}
	if !haveGlobal {
		out = e.globalSection(out, nil, 0)
	}
	if !haveExport {
		out = e.exportSection(out, nil, 0)
	}
	return out, nil
}

// emitter writes the output module.
type emitter struct {
	m         *module
	w         walker
	fuel      uint32 // index of the fuel global
	depth     uint32 // index of the call depth global, after it
	startFuel int64  // the fuel's initial value
	maxTable  uint32 // the maximum of the defined tables
	maxDepth  uint32 // the most frames the depth global may count
	tmp       []byte // one function body at a time

	// trace is nil but in tests, which use it to check the cost model:
	// then the walker records a siteTrace before every instruction, every
	// function gets, after the scratch local, an i64 local per region,
	// and the depth global is exported as traceDepth.
	trace tracer

	shift   int    // bulk length >> shift, when perUnit is a power of two
	perUnit uint32 // else bulk length / perUnit
	perPage int64  // units per page of memory.grow
}

func (e *emitter) setCosts(perUnit uint32) {
	if perUnit == 0 {
		perUnit = DefaultBulkBytesPerUnit
	}
	e.perUnit, e.shift = perUnit, -1
	if perUnit&(perUnit-1) == 0 {
		e.shift = bits.TrailingZeros32(perUnit)
	}
	e.perPage = int64((65536 + perUnit - 1) / perUnit)
}

// appendSection appends a section with the given id, vector count, the existing
// elements and one more.
func appendSection(out []byte, id byte, count uint32, elems, more []byte) []byte {
	n := uint32(sizeU32(count) + len(elems) + len(more))
	out = append(out, id)
	out = appendU32(out, n)
	out = appendU32(out, count)
	out = append(out, elems...)
	return append(out, more...)
}

// globalSection appends the global section with the fuel global and the
// depth global after the existing ones, so that no index moves. old is the
// existing elements.
func (e *emitter) globalSection(out, old []byte, count uint32) []byte {
	added := appendS64([]byte{0x7e, 0x01, opI64Const}, e.startFuel) // mut i64
	added = append(added, opEnd, 0x7f, 0x01, opI32Const, 0, opEnd)  // mut i32 = 0
	return appendSection(out, secGlobal, count+2, old, added)
}

// traceDepth is the name under which traced modules (tests only) export
// the depth global, which Rewrite does not export.
const traceDepth = "trace_depth"

func (e *emitter) exportSection(out, old []byte, count uint32) []byte {
	exp := append([]byte{byte(len(FuelGlobal))}, FuelGlobal...)
	exp = appendU32(append(exp, 0x03), e.fuel)
	if e.trace != nil {
		exp = append(append(exp, byte(len(traceDepth))), traceDepth...)
		exp = appendU32(append(exp, 0x03), e.depth)
		count++
	}
	return appendSection(out, secExport, count+1, old, exp)
}

// tableSection appends the table section with every maximum at most
// e.maxTable (checkTables refused the minimums above it).
func (e *emitter) tableSection(out []byte) []byte {
	var elems []byte
	n := uint32(0)
	for _, t := range e.m.tables {
		if t.imported {
			continue
		}
		n++
		hi := t.max
		if !t.hasMax || hi > e.maxTable {
			hi = e.maxTable
		}
		elems = appendU32(append(elems, t.elem, 0x01), t.min)
		elems = appendU32(elems, hi)
	}
	return appendSection(out, secTable, n, elems, nil)
}

func (e *emitter) codeSection(out []byte) ([]byte, error) {
	m := e.m
	size := 0
	if len(m.codes) > 0 {
		size = m.codes[len(m.codes)-1].end - m.codes[0].start
	}
	body := make([]byte, 0, size+size/8+16)
	body = appendU32(body, uint32(len(m.codes)))
	for i, c := range m.codes {
		fn := m.importedFuncs + uint32(i)
		at, err := e.w.walk(m.wasm[c.start:c.end], m.params[m.funcTypes[i]])
		if err != nil {
			return nil, &bodyError{fn: fn, off: c.start + at, msg: err.Error()}
		}
		e.tmp = e.function(e.tmp[:0], m.wasm[c.start:c.end])
		if len(e.tmp) > math.MaxUint32 {
			return nil, &bodyError{fn: fn, off: c.start, msg: "metered body exceeds 4 GiB"}
		}
		body = appendU32(body, uint32(len(e.tmp)))
		body = append(body, e.tmp...)
	}
	if len(body) > math.MaxUint32 {
		return nil, fmt.Errorf("meter: metered code section exceeds 4 GiB")
	}
	out = append(out, secCode)
	out = appendU32(out, uint32(len(body)))
	return append(out, body...), nil
}

// function appends the metered body the walker just read.
func (e *emitter) function(out, body []byte) []byte {
	w := &e.w
	if w.needScratch {
		added := uint32(1)
		if e.trace != nil {
			added++
		}
		out = appendU32(out, w.entries+added)
		out = append(out, body[w.entriesAt:w.exprAt]...)
		out = append(out, 0x01, 0x7f) // one i32
		if e.trace != nil {
			out = append(appendU32(out, uint32(len(w.costs))), 0x7e) // an i64 per region
		}
	} else {
		out = append(out, body[:w.exprAt]...)
	}
	prev := w.exprAt
	for _, s := range w.sites {
		out = append(out, body[prev:s.at]...)
		prev = s.at
		switch s.kind {
		case siteCharge:
			out = e.charge(out, max(w.costs[s.region], 1))
			if s.region == 0 {
				out = e.enter(out)
			}
			if e.trace != nil {
				out = e.trace(out, s, w)
			}
		case siteTrace:
			out = e.trace(out, s, w)
		case siteLeave:
			out = e.leave(out)
		case siteLeaveIf:
			out = e.leaveIf(out)
		case siteLeaveTable:
			out = e.leaveTable(out, body[s.at+1:], s.label)
		default:
			out = e.bulk(out, s.kind == siteGrow)
		}
	}
	return append(out, body[prev:]...)
}

// charge subtracts a static cost: fuel -= cost; if fuel < 0 trap.
func (e *emitter) charge(out []byte, cost int64) []byte {
	out = appendU32(append(out, opGlobalGet), e.fuel)
	out = appendS64(append(out, opI64Const), cost)
	out = appendU32(append(out, opI64Sub, opGlobalSet), e.fuel)
	return e.check(out)
}

// bulk subtracts the cost of the length on top of the stack, leaving it
// there: fuel -= scale(len) + 1; if fuel < 0 trap.
func (e *emitter) bulk(out []byte, grow bool) []byte {
	s := e.w.locals
	out = appendU32(append(out, opLocalTee), s)
	out = appendU32(append(out, opGlobalGet), e.fuel)
	out = appendU32(append(out, opLocalGet), s)
	if grow {
		// No more pages than a 32-bit memory holds, so that a request
		// bound to fail costs no more than the largest that can succeed.
		out = appendS64(append(out, opI32Const), 65536)
		out = appendU32(append(out, opLocalGet), s)
		out = appendS64(append(out, opI32Const), 65536)
		out = append(out, opI32LtU, opSelect, opI64ExtendU)
		if e.perPage > 1 {
			out = appendS64(append(out, opI64Const), e.perPage)
			out = append(out, opI64Mul)
		}
	} else {
		out = append(out, opI64ExtendU)
		switch {
		case e.shift > 0:
			out = append(out, opI64Const, byte(e.shift), opI64ShrU)
		case e.shift < 0:
			out = appendS64(append(out, opI64Const), int64(e.perUnit))
			out = append(out, opI64DivU)
		}
	}
	out = append(out, opI64Const, 1, opI64Add, opI64Sub, opGlobalSet)
	out = appendU32(out, e.fuel)
	return e.check(out)
}

func (e *emitter) check(out []byte) []byte {
	out = appendU32(append(out, opGlobalGet), e.fuel)
	return append(out, opI64Const, 0, opI64LtS, opIf, blockEmpty, opUnreachable, opEnd)
}

// enter counts the function's frame, after the entry charge:
// depth += 1; if depth > maxDepth trap.
func (e *emitter) enter(out []byte) []byte {
	out = appendU32(append(out, opGlobalGet), e.depth)
	out = append(out, opI32Const, 1, opI32Add, opGlobalSet)
	out = appendU32(out, e.depth)
	out = appendU32(append(out, opGlobalGet), e.depth)
	out = appendS64(append(out, opI32Const), int64(int32(e.maxDepth)))
	return append(out, opI32GtU, opIf, blockEmpty, opUnreachable, opEnd)
}

// leave uncounts the frame where it ends: depth -= 1. It pushes and pops
// only its own values, so that the results a return or a branch carries
// stay as they are.
func (e *emitter) leave(out []byte) []byte {
	out = appendU32(append(out, opGlobalGet), e.depth)
	out = append(out, opI32Const, 1, opI32Sub, opGlobalSet)
	return appendU32(out, e.depth)
}

// leaveIf is leave for a br_if to the function's label, whose condition is
// on top of the stack, left there: depth -= (cond != 0).
func (e *emitter) leaveIf(out []byte) []byte {
	s := e.w.locals
	out = appendU32(append(out, opLocalTee), s)
	out = appendU32(append(out, opGlobalGet), e.depth)
	out = appendU32(append(out, opLocalGet), s)
	out = append(out, opI32Eqz, opI32Eqz, opI32Sub, opGlobalSet)
	return appendU32(out, e.depth)
}

// leaveTable is leave for a br_table of which some labels, not all, are
// the function's, fn; imm is the code from its label count on. With the
// index on top of the stack, left there, a br_table of the same index
// picks between two blocks of its own: one that leaves, one that does
// not.
//
//	local.tee s
//	block
//	  block
//	    local.get s
//	    br_table (0 where the label is fn, else 1)
//	  end
//	  depth -= 1
//	end
func (e *emitter) leaveTable(out, imm []byte, fn uint32) []byte {
	s := e.w.locals
	out = appendU32(append(out, opLocalTee), s)
	out = append(out, opBlock, blockEmpty, opBlock, blockEmpty, opLocalGet)
	out = appendU32(out, s)
	r := reader{b: imm}
	n, _ := r.u32() // the walk read them all
	out = appendU32(append(out, opBrTable), n)
	for range n + 1 {
		l, _ := r.u32()
		if l == fn {
			out = append(out, 0)
		} else {
			out = append(out, 1)
		}
	}
	return append(e.leave(append(out, opEnd)), opEnd)
}
