package meter

import "errors"

var (
	errEOF = errors.New("unexpected end of input")
	errLEB = errors.New("malformed LEB128 number")
)

// reader walks a byte slice. Every LEB128 read is as strict as the spec
// (length limit, unused bits of the last byte) so that whatever this
// package accepts, wazero decodes to the same instruction boundaries: a
// disagreement there could hide a loop from the metering.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) left() int { return len(r.b) - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errEOF
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) skip(n int) error {
	if n < 0 || n > r.left() {
		return errEOF
	}
	r.pos += n
	return nil
}

func (r *reader) u32() (uint32, error) {
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 {
		c := r.b[r.pos]
		r.pos++
		return uint32(c), nil
	}
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, errLEB
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errLEB
}

// count reads a vector length and refuses one that could not fit in what is
// left, at minSize bytes an element, so no caller allocates from a hostile
// count.
func (r *reader) count(minSize int) (int, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.left()) {
		return 0, errors.New("vector length exceeds the bytes that follow")
	}
	return int(n), nil
}

// sleb reads a signed LEB128 number of the given bit width (32, 33 or 64).
func (r *reader) sleb(bits int) (int64, error) {
	maxLen := (bits + 6) / 7
	var v int64
	for i := 0; i < maxLen; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << (7 * i)
		if c >= 0x80 {
			continue
		}
		if i == maxLen-1 {
			// The bits past the width must repeat the sign bit.
			used := bits - 7*i // value bits in this byte, sign bit included
			mask := byte(0x7f) &^ (byte(1)<<(used-1) - 1)
			if rest := c & mask; rest != 0 && rest != mask {
				return 0, errLEB
			}
		}
		if shift := 7 * (i + 1); shift < 64 && c&0x40 != 0 {
			v |= -1 << shift
		}
		return v, nil
	}
	return 0, errLEB
}

// name reads a length-prefixed byte string.
func (r *reader) name() ([]byte, error) {
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sizeU32(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
