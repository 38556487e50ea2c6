package meter

import (
	"bytes"
	"errors"
	"fmt"
)

const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// rank is each known section's place in the order the binary format
// requires; the data count section sits between element and code.
var rank = [13]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12}

var sectionName = [13]string{"custom", "type", "import", "function", "table",
	"memory", "global", "export", "start", "element", "code", "data", "data count"}

// maxLocals bounds params plus locals of one function. wazero allocates a
// slot per declared local before validating anything, so a few bytes could
// otherwise declare four billion of them; browsers refuse more than 50000,
// so no toolchain emits more.
const maxLocals = 50000

type span struct{ start, end int }

type section struct {
	id   byte
	head int // offset of the id byte
	span     // the contents
}

// module is what the rewrite needs to know of the input: where each
// section lies, the types that give each function its parameter count and
// the index spaces that the new global and export extend.
type module struct {
	wasm     []byte
	sections []section

	params          []uint32 // parameter count of each type
	funcTypes       []uint32 // type index of each defined function
	importedFuncs   uint32
	importedGlobals uint32
	definedGlobals  uint32
	exports         uint32
	globalElems     int    // offset of the global section's first element
	exportElems     int    // offset of the export section's first element
	codes           []span // each function body (locals and expression)
	start           int64  // the start function, or -1
	tables          []table
}

// table is a table's type, in the table index space: imports first.
type table struct {
	elem     byte // reference type
	min, max uint32
	hasMax   bool
	imported bool
}

// checkTables refuses a table that could hold more than limit elements
// and that the rewriting cannot bound: one whose minimum is above it, or
// an imported one without a maximum at most limit.
func (m *module) checkTables(limit uint32) error {
	for i, t := range m.tables {
		switch {
		case t.min > limit:
			return fmt.Errorf("meter: table %d has a minimum of %d elements, more than the %d of Options.MaxTableElements",
				i, t.min, limit)
		case t.imported && !t.hasMax:
			return fmt.Errorf("meter: table %d is imported without a maximum: imported tables must have one, "+
				"at most the %d of Options.MaxTableElements", i, limit)
		case t.imported && t.max > limit:
			return fmt.Errorf("meter: table %d is imported with a maximum of %d elements, more than the %d of "+
				"Options.MaxTableElements", i, t.max, limit)
		}
	}
	return nil
}

func (m *module) globals() uint32 { return m.importedGlobals + m.definedGlobals }

// sectionError places a decoding error in the module.
type sectionError struct {
	id  byte
	off int
	err error
}

func (e *sectionError) Error() string {
	return fmt.Sprintf("meter: %s section, offset %#x: %v", sectionName[e.id], e.off, e.err)
}

func parseModule(wasm []byte) (*module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errors.New("meter: not a WebAssembly binary (bad magic number)")
	}
	if !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("meter: unsupported binary format version % x", wasm[4:8])
	}
	m := &module{wasm: wasm, start: -1}
	r := reader{b: wasm, pos: 8}
	last := 0
	for r.left() > 0 {
		head := r.pos
		id, _ := r.byte()
		size, err := r.u32()
		if err == nil && int64(size) > int64(r.left()) {
			err = errEOF
		}
		if err != nil {
			return nil, fmt.Errorf("meter: section header at offset %#x: %v", head, err)
		}
		if id == 13 {
			return nil, fmt.Errorf("meter: tag section at offset %#x: exception handling is not supported", head)
		}
		if int(id) >= len(rank) {
			return nil, fmt.Errorf("meter: unknown section id %d at offset %#x", id, head)
		}
		if id != secCustom {
			if rank[id] <= last {
				return nil, fmt.Errorf("meter: %s section at offset %#x is out of order or repeated", sectionName[id], head)
			}
			last = rank[id]
		}
		s := section{id: id, head: head, span: span{r.pos, r.pos + int(size)}}
		sr := reader{b: wasm[:s.end], pos: s.start}
		if err := m.parseSection(id, &sr); err != nil {
			return nil, &sectionError{id, sr.pos, err}
		}
		if sr.left() != 0 {
			return nil, &sectionError{id, sr.pos, fmt.Errorf("%d bytes left over", sr.left())}
		}
		m.sections = append(m.sections, s)
		r.pos = s.end
	}
	if len(m.codes) != len(m.funcTypes) {
		return nil, fmt.Errorf("meter: %d functions declared but %d bodies given", len(m.funcTypes), len(m.codes))
	}
	return m, nil
}

func (m *module) parseSection(id byte, r *reader) error {
	switch id {
	case secCustom:
		name, err := r.name()
		if err != nil {
			return err
		}
		if string(name) == "name" {
			return checkNames(r)
		}
		r.pos = len(r.b)
	case secType:
		return m.parseTypes(r)
	case secImport:
		return m.parseImports(r)
	case secFunction:
		n, err := r.count(1)
		if err != nil {
			return err
		}
		m.funcTypes = make([]uint32, n)
		for i := range m.funcTypes {
			t, err := r.u32()
			if err != nil {
				return err
			}
			if t >= uint32(len(m.params)) {
				return fmt.Errorf("function %d has type %d, beyond the %d types", i, t, len(m.params))
			}
			m.funcTypes[i] = t
		}
	case secTable:
		return vector(r, 2, func(int) error { return m.tableType(r, false) })
	case secMemory:
		return vector(r, 1, func(i int) error {
			_, _, _, err := limits(r, "memory", i)
			return err
		})
	case secGlobal:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		m.definedGlobals, m.globalElems = uint32(n), r.pos
		for range n {
			if err := globalType(r); err != nil {
				return err
			}
			if err := constExpr(r, m.globals()); err != nil {
				return err
			}
		}
	case secExport:
		return m.parseExports(r)
	case secStart:
		f, err := r.u32()
		m.start = int64(f)
		return err
	case secDataCount:
		_, err := r.u32()
		return err
	case secElement:
		return vector(r, 1, func(int) error { return m.elementSegment(r) })
	case secCode:
		n, err := r.count(1)
		if err != nil {
			return err
		}
		if n != len(m.funcTypes) {
			return fmt.Errorf("%d bodies for %d declared functions", n, len(m.funcTypes))
		}
		m.codes = make([]span, n)
		for i := range m.codes {
			size, err := r.count(1)
			if err != nil {
				return err
			}
			m.codes[i] = span{r.pos, r.pos + size}
			r.pos += size
		}
	case secData:
		return vector(r, 1, func(int) error { return m.dataSegment(r) })
	}
	return nil
}

// vector reads a count and calls each for every element.
func vector(r *reader, minSize int, each func(i int) error) error {
	n, err := r.count(minSize)
	if err != nil {
		return err
	}
	for i := range n {
		if err := each(i); err != nil {
			return err
		}
	}
	return nil
}

func (m *module) parseTypes(r *reader) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	m.params = make([]uint32, n)
	for i := range m.params {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return fmt.Errorf("type %d has form %#x: only function types are supported (no GC types)", i, form)
		}
		for half := 0; half < 2; half++ {
			k, err := r.count(1)
			if err != nil {
				return err
			}
			for range k {
				if t, _ := r.byte(); !isValType(t) {
					return fmt.Errorf("type %d has unsupported value type %#x", i, t)
				}
			}
			if half == 0 {
				m.params[i] = uint32(k)
			}
		}
	}
	return nil
}

func (m *module) parseImports(r *reader) error {
	return vector(r, 4, func(i int) error {
		if _, err := r.name(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			t, err := r.u32()
			if err == nil && t >= uint32(len(m.params)) {
				err = fmt.Errorf("import %d has type %d, beyond the %d types", i, t, len(m.params))
			}
			m.importedFuncs++
			return err
		case 1:
			return m.tableType(r, true)
		case 2:
			_, _, _, err := limits(r, "memory", i)
			return err
		case 3:
			m.importedGlobals++
			return globalType(r)
		case 4:
			return fmt.Errorf("import %d is a tag: exception handling is not supported", i)
		}
		return fmt.Errorf("import %d has unknown kind %#x", i, kind)
	})
}

func (m *module) parseExports(r *reader) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	m.exports, m.exportElems = uint32(n), r.pos
	for i := range n {
		name, err := r.name()
		if err != nil {
			return err
		}
		if string(name) == FuelGlobal {
			return fmt.Errorf("the module already exports %q", FuelGlobal)
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		idx, err := r.u32()
		if err != nil {
			return err
		}
		switch {
		case kind > 3:
			return fmt.Errorf("export %d has unsupported kind %#x", i, kind)
		case kind == 3 && idx >= m.globals():
			return fmt.Errorf("export %d names global %d, beyond the %d globals", i, idx, m.globals())
		}
	}
	return nil
}

func (m *module) tableType(r *reader, imported bool) error {
	i := len(m.tables)
	t, err := r.byte()
	if err != nil {
		return err
	}
	if !isRefType(t) {
		return fmt.Errorf("table %d has unsupported element type %#x", i, t)
	}
	lo, hi, hasMax, err := limits(r, "table", i)
	m.tables = append(m.tables, table{elem: t, min: lo, max: hi, hasMax: hasMax, imported: imported})
	return err
}

// limits reads the limits of a memory or table, refusing 64-bit ones: the
// length operands of their bulk instructions would be i64, which the
// metering code does not handle.
func limits(r *reader, what string, i int) (lo, hi uint32, hasMax bool, err error) {
	flags, err := r.byte()
	if err != nil {
		return 0, 0, false, err
	}
	switch {
	case flags&0x04 != 0:
		return 0, 0, false, fmt.Errorf("%s %d is 64-bit (%s64), which is not supported", what, i, what)
	case flags > 3 || (what == "table" && flags > 1):
		return 0, 0, false, fmt.Errorf("%s %d has unsupported limits flags %#x", what, i, flags)
	}
	if lo, err = r.u32(); err != nil {
		return 0, 0, false, err
	}
	if hasMax = flags&1 != 0; hasMax {
		hi, err = r.u32()
	}
	return lo, hi, hasMax, err
}

func globalType(r *reader) error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	mut, err := r.byte()
	if err != nil {
		return err
	}
	if !isValType(t) || mut > 1 {
		return fmt.Errorf("unsupported global type %#x %#x", t, mut)
	}
	return nil
}
