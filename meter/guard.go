package meter

import "fmt"

// The sections below are copied unchanged, yet parsed in full: wazero
// allocates from the counts they declare before checking that the bytes
// are there, so a module of a few bytes could make the host allocate
// gigabytes. Whatever Rewrite accepts has every count bounded by the bytes
// that follow it.

// constExpr reads a constant expression up to its end. A global.get may
// only name one of the module's own globals: an index beyond them would,
// once the fuel global is appended, name the fuel.
func constExpr(r *reader, globals uint32) error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case opEnd:
			return nil
		case opI32Const:
			_, err = r.sleb(32)
		case opI64Const:
			_, err = r.sleb(64)
		case opF32Const:
			err = r.skip(4)
		case opF64Const:
			err = r.skip(8)
		case opGlobalGet:
			var g uint32
			if g, err = r.u32(); err == nil && g >= globals {
				err = fmt.Errorf("constant expression reads global %d, beyond the %d globals", g, globals)
			}
		case opRefNull:
			if t, _ := r.byte(); !isRefType(t) {
				err = fmt.Errorf("ref.null of unsupported type %#x", t)
			}
		case opRefFunc:
			_, err = r.u32()
		case opSIMD:
			// wazero reads this sub-opcode as one byte.
			if sub, _ := r.byte(); sub != 12 {
				err = fmt.Errorf("SIMD opcode %#x in a constant expression", sub)
			} else {
				err = r.skip(16)
			}
		case 0x6a, 0x6b, 0x6c, opI64Add, opI64Sub, opI64Mul: // extended constant expressions
		default:
			return fmt.Errorf("opcode %#x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

func (m *module) elementSegment(r *reader) error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return fmt.Errorf("element segment has unsupported flags %#x", flags)
	}
	if flags&3 == 2 { // explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: an offset
		if err := constExpr(r, m.globals()); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // an element kind or type
		k, err := r.byte()
		if err != nil {
			return err
		}
		if (flags&4 == 0 && k != 0) || (flags&4 != 0 && !isRefType(k)) {
			return fmt.Errorf("element segment has unsupported element type %#x", k)
		}
	}
	if flags&4 == 0 {
		return vector(r, 1, func(int) error { _, err := r.u32(); return err })
	}
	return vector(r, 1, func(int) error { return constExpr(r, m.globals()) })
}

func (m *module) dataSegment(r *reader) error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	switch flags {
	case 0:
		err = constExpr(r, m.globals())
	case 1:
	case 2:
		if _, err = r.u32(); err == nil {
			err = constExpr(r, m.globals())
		}
	default:
		return fmt.Errorf("data segment has unsupported flags %#x", flags)
	}
	if err != nil {
		return err
	}
	_, err = r.name()
	return err
}

// checkNames reads the subsections of the "name" custom section that
// wazero decodes (module, function and local names) and checks each fills
// exactly its declared size.
func checkNames(r *reader) error {
	for r.left() > 0 {
		id, _ := r.byte()
		size, err := r.count(1)
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
		sub := reader{b: r.b[:r.pos+size], pos: r.pos}
		r.pos += size
		switch id {
		case 0:
			_, err = sub.name()
		case 1:
			err = nameMap(&sub)
		case 2:
			err = vector(&sub, 2, func(int) error {
				if _, err := sub.u32(); err != nil {
					return err
				}
				return nameMap(&sub)
			})
		default:
			continue
		}
		if err == nil && sub.left() != 0 {
			err = fmt.Errorf("%d bytes left over", sub.left())
		}
		if err != nil {
			return fmt.Errorf("name subsection %d: %w", id, err)
		}
	}
	return nil
}

func nameMap(r *reader) error {
	return vector(r, 2, func(int) error {
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.name()
		return err
	})
}
