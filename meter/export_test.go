package meter

import "fmt"

// Trace globals added by RewriteTraced, by export name.
const (
	TraceCount     = "trace_count"     // i64: instructions executed
	TraceViolation = "trace_violation" // i32: 1 once a pass overran its charge
	TraceMaxDepth  = "trace_max_depth" // i32: the largest call depth entered
	TraceDepth     = traceDepth        // i32: the depth global itself
)

// RewriteTraced is Rewrite for testing the cost model. It adds the
// globals TraceCount and TraceViolation to the module, then meters it
// with, before every instruction of the input, code that counts the
// instruction in TraceCount and takes one unit from a local budget of its
// region (an i64 local per region, set to the region's cost at each of
// its charges). A budget below zero means a pass executed more
// instructions than it was charged for: the code then sets
// TraceViolation to 1 and traps. The count is of the instructions a pass
// reaches in sequence: an end that a branch jumps past is not counted.
// Each function entry also raises TraceMaxDepth to the call depth, and the
// depth global, which Rewrite keeps to itself, is exported as TraceDepth.
func RewriteTraced(wasm []byte, opts Options) ([]byte, error) {
	in, err := addTraceGlobals(wasm)
	if err != nil {
		return nil, err
	}
	m, err := parseModule(in)
	if err != nil {
		return nil, err
	}
	count, violation, maxDepth := m.globals()-3, m.globals()-2, m.globals()-1
	depth := m.globals() + 1 // after the fuel
	return rewrite(in, opts, func(out []byte, s site, w *walker) []byte {
		local := w.locals + 1 + uint32(s.region)
		if s.kind == siteCharge && s.region == 0 {
			// After the entry's depth count: maxDepth = max(maxDepth, depth).
			for _, g := range []uint32{depth, maxDepth, depth, maxDepth} {
				out = appendU32(append(out, opGlobalGet), g)
			}
			out = appendU32(append(out, opI32GtU, opSelect, opGlobalSet), maxDepth)
		}
		if s.kind == siteCharge {
			out = appendS64(append(out, opI64Const), max(w.costs[s.region], 1))
			return appendU32(append(out, opLocalSet), local)
		}
		out = appendU32(append(out, opGlobalGet), count)
		out = append(out, opI64Const, 1, opI64Add, opGlobalSet)
		out = appendU32(out, count)
		out = appendU32(append(out, opLocalGet), local)
		out = append(out, opI64Const, 1, opI64Sub, opLocalTee)
		out = appendU32(out, local)
		out = append(out, opI64Const, 0, opI64LtS, opIf, blockEmpty, opI32Const, 1, opGlobalSet)
		out = appendU32(out, violation)
		return append(out, opUnreachable, opEnd)
	})
}

// addTraceGlobals appends the three trace globals to the module's own and
// exports them.
func addTraceGlobals(wasm []byte) ([]byte, error) {
	m, err := parseModule(wasm)
	if err != nil {
		return nil, err
	}
	count := m.globals()
	globals := []byte{0x7e, 0x01, opI64Const, 0, opEnd, 0x7f, 0x01, opI32Const, 0, opEnd,
		0x7f, 0x01, opI32Const, 0, opEnd}
	var exports []byte
	for i, name := range []string{TraceCount, TraceViolation, TraceMaxDepth} {
		exports = append(append(exports, byte(len(name))), name...)
		exports = appendU32(append(exports, 0x03), count+uint32(i))
	}
	out := append([]byte(nil), wasm[:8]...)
	haveGlobal, haveExport := false, false
	for _, s := range m.sections {
		if s.id != secCustom {
			if !haveGlobal && rank[s.id] > rank[secGlobal] {
				out, haveGlobal = appendSection(out, secGlobal, 3, nil, globals), true
			}
			if !haveExport && rank[s.id] > rank[secExport] {
				out, haveExport = appendSection(out, secExport, 3, nil, exports), true
			}
		}
		switch s.id {
		case secGlobal:
			out, haveGlobal = appendSection(out, secGlobal, m.definedGlobals+3, wasm[m.globalElems:s.end], globals), true
		case secExport:
			out, haveExport = appendSection(out, secExport, m.exports+3, wasm[m.exportElems:s.end], exports), true
		default:
			out = append(out, wasm[s.head:s.end]...)
		}
	}
	if !haveGlobal {
		out = appendSection(out, secGlobal, 3, nil, globals)
	}
	if !haveExport {
		out = appendSection(out, secExport, 3, nil, exports)
	}
	if _, err := parseModule(out); err != nil {
		return nil, fmt.Errorf("adding the trace globals: %w", err)
	}
	return out, nil
}
