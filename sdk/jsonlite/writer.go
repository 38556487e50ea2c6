package jsonlite

import (
	"strconv"
	"unicode/utf8"
)

// Writer appends JSON to a buffer, inserting commas itself. Calls must form
// a valid document (a Key before each object member); the writer does not
// check nesting, to stay cheap.
type Writer struct {
	buf   []byte
	comma bool // a value was written at the current level
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
func (w *Writer) Reset() { w.buf, w.comma = w.buf[:0], false }

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

// BeginObject opens an object.
func (w *Writer) BeginObject() *Writer {
	w.sep()
	w.buf = append(w.buf, '{')
	w.comma = false
	return w
}

// EndObject closes an object.
func (w *Writer) EndObject() *Writer {
	w.buf = append(w.buf, '}')
	w.comma = true
	return w
}

// BeginArray opens an array.
func (w *Writer) BeginArray() *Writer {
	w.sep()
	w.buf = append(w.buf, '[')
	w.comma = false
	return w
}

// EndArray closes an array.
func (w *Writer) EndArray() *Writer {
	w.buf = append(w.buf, ']')
	w.comma = true
	return w
}

// Key writes an object member's key; the next value written is its value.
func (w *Writer) Key(k string) *Writer {
	w.sep()
	w.buf = appendString(w.buf, k)
	w.buf = append(w.buf, ':')
	w.comma = false
	return w
}

// String writes a string value.
func (w *Writer) String(s string) *Writer {
	w.sep()
	w.buf = appendString(w.buf, s)
	return w
}

// Int writes an integer value.
func (w *Writer) Int(n int64) *Writer {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, n, 10)
	return w
}

// Float writes a number value. NaN and infinities, which JSON cannot
// represent, are written as null.
func (w *Writer) Float(f float64) *Writer {
	w.sep()
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
	w.sep()
	w.buf = strconv.AppendBool(w.buf, b)
	return w
}

// Null writes null.
func (w *Writer) Null() *Writer {
	w.sep()
	w.buf = append(w.buf, "null"...)
	return w
}

// Raw writes already-encoded JSON as a value. The caller vouches for it.
func (w *Writer) Raw(b []byte) *Writer {
	w.sep()
	if len(b) == 0 {
		b = []byte("null")
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

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
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
