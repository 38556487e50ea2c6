package abi

import "errors"

// The envelope encoding is a small subset of the protocol-buffers wire format:
// every field is a tag (field number << 3 | wire type) followed by either a
// varint or a length-prefixed byte string. Unknown fields are skipped, so a
// newer peer may add fields without breaking an older one. See RATIONALE.md.
const (
	wireVarint = 0
	wireBytes  = 2
)

// ErrMalformed reports an envelope that does not decode.
var ErrMalformed = errors.New("abi: malformed envelope")

// Encoder appends fields to a byte slice. The zero value is ready to use;
// Reset keeps the capacity for the next envelope.
type Encoder struct {
	buf []byte
}

// Bytes returns the encoded envelope. It aliases the encoder's buffer.
func (e *Encoder) Bytes() []byte { return e.buf }

// Reset empties the encoder and keeps its buffer.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// ResetTo empties the encoder and has it write into buf's storage while the
// envelope fits in cap(buf); past that it moves to storage of its own, which
// Bytes then returns. The host encodes requests straight into a guest's
// buffer this way.
func (e *Encoder) ResetTo(buf []byte) { e.buf = buf[:0] }

func (e *Encoder) uvarint(v uint64) {
	for v >= 0x80 {
		e.buf = append(e.buf, byte(v)|0x80)
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
}

func (e *Encoder) tag(field int, wire int) { e.uvarint(uint64(field)<<3 | uint64(wire)) }

// Uint writes an unsigned varint field; zero values are omitted.
func (e *Encoder) Uint(field int, v uint64) {
	if v == 0 {
		return
	}
	e.tag(field, wireVarint)
	e.uvarint(v)
}

// Int writes a zig-zag encoded signed field; zero values are omitted.
func (e *Encoder) Int(field int, v int64) {
	e.Uint(field, uint64(v<<1)^uint64(v>>63))
}

// Bool writes a boolean field; false is omitted.
func (e *Encoder) Bool(field int, v bool) {
	if v {
		e.Uint(field, 1)
	}
}

// Bytes writes a byte-string field; nil is omitted, an empty non-nil slice is
// kept so that "present but empty" survives the trip.
func (e *Encoder) BytesField(field int, b []byte) {
	if b == nil {
		return
	}
	e.tag(field, wireBytes)
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// String writes a string field; the empty string is omitted.
func (e *Encoder) String(field int, s string) {
	if s == "" {
		return
	}
	e.tag(field, wireBytes)
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Strings writes a repeated string field, one tag per element.
func (e *Encoder) Strings(field int, ss []string) {
	for _, s := range ss {
		e.tag(field, wireBytes)
		e.uvarint(uint64(len(s)))
		e.buf = append(e.buf, s...)
	}
}

// BeginMessage starts a nested message and returns a mark for EndMessage.
// The length is written afterwards into four reserved bytes as a padded
// varint, which every varint reader accepts, so nesting needs no second
// buffer and no copy.
func (e *Encoder) BeginMessage(field int) int {
	e.tag(field, wireBytes)
	e.buf = append(e.buf, 0x80, 0x80, 0x80, 0x00)
	return len(e.buf)
}

// EndMessage closes the message opened at mark. Nested messages are limited
// to 256 MiB, far above any envelope the host accepts.
func (e *Encoder) EndMessage(mark int) {
	n := uint32(len(e.buf) - mark)
	p := e.buf[mark-4 : mark]
	p[0] = byte(n) | 0x80
	p[1] = byte(n>>7) | 0x80
	p[2] = byte(n>>14) | 0x80
	p[3] = byte(n>>21) & 0x7f
}

// Decoder reads fields from an envelope. Errors are sticky: after the first
// one Next returns false and Err reports it.
type Decoder struct {
	buf  []byte
	pos  int
	wire int
	err  error
}

// NewDecoder returns a decoder over b. Byte fields alias b.
func NewDecoder(b []byte) Decoder { return Decoder{buf: b} }

// Err returns the first decoding error, if any.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail() {
	if d.err == nil {
		d.err = ErrMalformed
	}
	d.pos = len(d.buf)
}

func (d *Decoder) uvarint() uint64 {
	var v uint64
	var shift uint
	for i := 0; i < 10; i++ {
		if d.pos >= len(d.buf) {
			d.fail()
			return 0
		}
		b := d.buf[d.pos]
		d.pos++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
		shift += 7
	}
	d.fail()
	return 0
}

// Next advances to the next field and returns its number. It returns false
// at the end of the envelope or on error. The caller reads the field's value
// with one of the typed readers or calls Skip.
func (d *Decoder) Next() (int, bool) {
	if d.err != nil || d.pos >= len(d.buf) {
		return 0, false
	}
	t := d.uvarint()
	if d.err != nil {
		return 0, false
	}
	d.wire = int(t & 7)
	field := int(t >> 3)
	if field == 0 || (d.wire != wireVarint && d.wire != wireBytes) {
		d.fail()
		return 0, false
	}
	return field, true
}

// Uint reads the current field as an unsigned varint.
func (d *Decoder) Uint() uint64 {
	if d.wire != wireVarint {
		d.fail()
		return 0
	}
	return d.uvarint()
}

// Int reads the current field as a zig-zag signed varint.
func (d *Decoder) Int() int64 {
	u := d.Uint()
	return int64(u>>1) ^ -int64(u&1)
}

// Bool reads the current field as a boolean.
func (d *Decoder) Bool() bool { return d.Uint() != 0 }

// Bytes reads the current field as a byte string. The result aliases the
// envelope and is never nil for a present field.
func (d *Decoder) Bytes() []byte {
	if d.wire != wireBytes {
		d.fail()
		return nil
	}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.buf)-d.pos) {
		d.fail()
		return nil
	}
	b := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b
}

// String reads the current field as a string (a copy).
func (d *Decoder) String() string { return string(d.Bytes()) }

// Message returns a decoder over the current field, a nested message.
func (d *Decoder) Message() Decoder { return Decoder{buf: d.Bytes(), err: d.err} }

// Skip discards the current field's value.
func (d *Decoder) Skip() {
	if d.wire == wireVarint {
		d.uvarint()
		return
	}
	d.Bytes()
}
