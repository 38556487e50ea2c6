package jsonlite

import (
	"strconv"
	"unicode/utf8"
)

// Writer appends JSON to a buffer, inserting commas itself. Calls must form
// a valid document (a Key before each object member); the writer does not
// refuse calls that do not, to stay cheap, but it notices them, so that
// Document knows whether it can vouch for the bytes.
type Writer struct {
	buf   []byte
	comma bool // a value was written at the current level
	// What Document needs to vouch for the bytes without scanning them.
	key       bool   // a key was written and its value was not
	top       bool   // a top-level value was written
	depth     int    // open objects and arrays
	objects   uint64 // bit d-1 is set if the container open at depth d is an object
	unchecked bool   // Raw was used, the calls went wrong, or nesting passed 64
}

// Encoder is implemented by types that write themselves as JSON.
type Encoder interface {
	EncodeJSON(w *Writer)
}

// Decoder is implemented by types that read themselves from JSON.
type Decoder interface {
	DecodeJSON(v Value) error
}

// Bytes returns the document written so far. It aliases the buffer.
func (w *Writer) Bytes() []byte { return w.buf }

// Reset empties the writer and keeps its buffer.
func (w *Writer) Reset() { *w = Writer{buf: w.buf[:0]} }

// ResetTo empties the writer and has it write into buf's storage while the
// document fits in cap(buf); past that it moves to storage of its own, which
// Bytes then returns. Callers reuse one buffer across documents this way.
func (w *Writer) ResetTo(buf []byte) { *w = Writer{buf: buf[:0]} }

// Document returns the document written so far as a Value, as
// Parse(w.Bytes()) would, but without scanning it again when the writer can
// vouch for it: when its calls formed exactly one complete value and Raw,
// whose bytes the writer does not check, was not used. Otherwise it parses
// the bytes and returns Parse's error for an invalid document. The Value
// aliases the buffer.
func (w *Writer) Document() (Value, error) {
	if !w.unchecked && w.top && w.depth == 0 && !w.key {
		return Value{raw: w.buf}, nil
	}
	return Parse(w.buf)
}

// Marshal writes e into a fresh byte slice.
func Marshal(e Encoder) []byte {
	w := Writer{buf: make([]byte, 0, 128)} // most events and states fit: one allocation
	e.EncodeJSON(&w)
	return w.buf
}

func (w *Writer) sep() {
	if w.comma {
		w.buf = append(w.buf, ',')
	}
	w.comma = true
}

// inObject reports whether the innermost open container is an object.
func (w *Writer) inObject() bool {
	return w.depth > 0 && w.objects>>uint(w.depth-1)&1 != 0
}

// value starts a value: a comma if one is due, and the bookkeeping of what
// may come where.
func (w *Writer) value() {
	w.sep()
	if w.depth == 0 {
		if w.top {
			w.unchecked = true // a second top-level value
		}
		w.top = true
	} else if !w.key && w.inObject() {
		w.unchecked = true // an object member without a key
	}
	w.key = false
}

func (w *Writer) open(object bool) {
	w.comma = false
	w.depth++
	if w.depth > 64 {
		w.unchecked = true // past what objects records; Parse will check
		return
	}
	bit := uint64(1) << uint(w.depth-1)
	if object {
		w.objects |= bit
	} else {
		w.objects &^= bit
	}
}

func (w *Writer) close(object bool) {
	if w.depth == 0 || w.key || (w.depth <= 64 && w.inObject() != object) {
		w.unchecked = true
	}
	if w.depth > 0 {
		w.depth--
	}
	w.comma = true
}

// BeginObject opens an object.
func (w *Writer) BeginObject() *Writer {
	w.value()
	w.buf = append(w.buf, '{')
	w.open(true)
	return w
}

// EndObject closes an object.
func (w *Writer) EndObject() *Writer {
	w.buf = append(w.buf, '}')
	w.close(true)
	return w
}

// BeginArray opens an array.
func (w *Writer) BeginArray() *Writer {
	w.value()
	w.buf = append(w.buf, '[')
	w.open(false)
	return w
}

// EndArray closes an array.
func (w *Writer) EndArray() *Writer {
	w.buf = append(w.buf, ']')
	w.close(false)
	return w
}

// Key writes an object member's key; the next value written is its value.
func (w *Writer) Key(k string) *Writer {
	if w.key || !w.inObject() {
		w.unchecked = true
	}
	w.sep()
	w.buf = appendString(w.buf, k)
	w.buf = append(w.buf, ':')
	w.comma = false
	w.key = true
	return w
}

// String writes a string value.
func (w *Writer) String(s string) *Writer {
	w.value()
	w.buf = appendString(w.buf, s)
	return w
}

// Int writes an integer value.
func (w *Writer) Int(n int64) *Writer {
	w.value()
	w.buf = strconv.AppendInt(w.buf, n, 10)
	return w
}

// Float writes a number value. NaN and infinities, which JSON cannot
// represent, are written as null.
func (w *Writer) Float(f float64) *Writer {
	w.value()
	if f != f || f > maxFloat || f < -maxFloat {
		w.buf = append(w.buf, "null"...)
		return w
	}
	w.buf = strconv.AppendFloat(w.buf, f, 'g', -1, 64)
	return w
}

const maxFloat = 1.7976931348623157e308

// Bool writes a boolean value.
func (w *Writer) Bool(b bool) *Writer {
	w.value()
	w.buf = strconv.AppendBool(w.buf, b)
	return w
}

// Null writes null.
func (w *Writer) Null() *Writer {
	w.value()
	w.buf = append(w.buf, "null"...)
	return w
}

// Raw writes already-encoded JSON as a value. The caller vouches for it.
func (w *Writer) Raw(b []byte) *Writer {
	w.value()
	if len(b) == 0 {
		b = []byte("null")
	} else {
		w.unchecked = true // the caller vouches for b; Document will not
	}
	w.buf = append(w.buf, b...)
	return w
}

// Value writes e as a value.
func (w *Writer) Value(e Encoder) *Writer {
	if e == nil {
		return w.Null()
	}
	e.EncodeJSON(w)
	return w
}

// Strings writes an array of strings.
func (w *Writer) Strings(ss []string) *Writer {
	w.BeginArray()
	for _, s := range ss {
		w.String(s)
	}
	return w.EndArray()
}

const hexDigits = "0123456789abcdef"

// plainByte marks the bytes a string is written with as they are: ASCII
// but for control characters, '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
