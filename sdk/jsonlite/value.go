package jsonlite

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Kind is the JSON type of a value.
type Kind uint8

// Kinds. Invalid marks a missing value (a field that is not there).
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// Value is a validated JSON value, kept as its raw bytes. The zero Value is
// the missing value: every accessor on it returns a zero result.
type Value struct {
	raw []byte
}

// Parse validates b as one JSON document and returns it as a Value. The
// Value aliases b.
func Parse(b []byte) (Value, error) {
	s := scanner{b: b}
	s.ws()
	if err := s.value(0); err != nil {
		return Value{}, err
	}
	s.ws()
	if s.i != len(b) {
		return Value{}, s.errorf("unexpected data after the document")
	}
	return Value{raw: trimSpace(b)}, nil
}

// Raw returns the value's JSON text (nil for the missing value).
func (v Value) Raw() []byte { return v.raw }

// Exists reports whether the value is present.
func (v Value) Exists() bool { return len(v.raw) > 0 }

// Kind returns the value's JSON type.
func (v Value) Kind() Kind {
	if len(v.raw) == 0 {
		return Invalid
	}
	switch v.raw[0] {
	case 'n':
		return Null
	case 't', 'f':
		return Bool
	case '"':
		return String
	case '[':
		return Array
	case '{':
		return Object
	}
	return Number
}

// Get returns the member key of an object, or the missing value.
func (v Value) Get(key string) Value {
	var found Value
	v.Object(func(k []byte, m Value) bool {
		if string(k) == key {
			found = m
			return false
		}
		return true
	})
	return found
}

// Object calls fn for each member of an object, in document order, until fn
// returns false. Keys with escapes are unescaped; the key slice is only valid
// during the call.
func (v Value) Object(fn func(key []byte, m Value) bool) {
	if v.Kind() != Object {
		return
	}
	b := v.raw
	i := skipWS(b, 1)
	var buf []byte
	for i < len(b) && b[i] != '}' {
		end := skipString(b, i)
		key := b[i+1 : end-1]
		if hasEscape(key) {
			buf = unescape(buf[:0], key)
			key = buf
		}
		i = skipWS(b, end)
		i = skipWS(b, i+1) // ':'
		vend := skipValue(b, i)
		if !fn(key, Value{raw: b[i:vend]}) {
			return
		}
		i = skipWS(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
}

// Array calls fn for each element of an array until fn returns false.
func (v Value) Array(fn func(i int, e Value) bool) {
	if v.Kind() != Array {
		return
	}
	b := v.raw
	i := skipWS(b, 1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end := skipValue(b, i)
		if !fn(n, Value{raw: b[i:end]}) {
			return
		}
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
}

// Len returns the number of elements of an array or members of an object.
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case Array:
		v.Array(func(int, Value) bool { n++; return true })
	case Object:
		v.Object(func([]byte, Value) bool { n++; return true })
	}
	return n
}

// Str returns a string value, unescaped; "" for anything else.
func (v Value) Str() string {
	if v.Kind() != String {
		return ""
	}
	s := v.raw[1 : len(v.raw)-1]
	if !hasEscape(s) {
		return string(s)
	}
	return string(unescape(nil, s))
}

// Int returns a number as an int64; 0 for anything else or a number that is
// not an integer in range.
func (v Value) Int() int64 {
	n, _ := v.IntOK()
	return n
}

// IntOK returns a number as an int64 and whether it is an integer in range.
func (v Value) IntOK() (int64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.raw), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(v.raw), 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

// Float returns a number as a float64; 0 for anything else.
func (v Value) Float() float64 {
	if v.Kind() != Number {
		return 0
	}
	f, _ := strconv.ParseFloat(string(v.raw), 64)
	return f
}

// Bool returns true for the JSON literal true.
func (v Value) Bool() bool { return len(v.raw) > 0 && v.raw[0] == 't' }

// IsNull reports whether the value is the JSON literal null.
func (v Value) IsNull() bool { return v.Kind() == Null }

// SyntaxError reports invalid JSON and where it was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// ErrTooDeep is returned for documents nested deeper than MaxDepth.
var ErrTooDeep = errors.New("jsonlite: document nested too deeply")

// MaxDepth bounds nesting so a hostile document cannot exhaust the stack.
const MaxDepth = 256

type scanner struct {
	b []byte
	i int
}

func (s *scanner) errorf(msg string) error { return &SyntaxError{Offset: s.i, Msg: msg} }

func (s *scanner) ws() { s.i = skipWS(s.b, s.i) }

func (s *scanner) value(depth int) error {
	if depth > MaxDepth {
		return ErrTooDeep
	}
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return nil
		}
		for {
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.errorf("expected a string key")
			}
			if err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.errorf("expected ':' after key")
			}
			s.i++
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.errorf("unexpected end of object")
			}
			if s.b[s.i] == '}' {
				s.i++
				return nil
			}
			if s.b[s.i] != ',' {
				return s.errorf("expected ',' or '}'")
			}
			s.i++
			s.ws()
		}
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.errorf("unexpected end of array")
			}
			if s.b[s.i] == ']' {
				s.i++
				return nil
			}
			if s.b[s.i] != ',' {
				return s.errorf("expected ',' or ']'")
			}
			s.i++
			s.ws()
		}
	case c == '"':
		return s.str()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.errorf("unexpected character")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return s.errorf("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errorf("invalid number: no digits after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errorf("invalid number: no digits in exponent")
		}
	}
	return nil
}

func (s *scanner) str() error {
	s.i++ // opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.errorf("unterminated escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return s.errorf("short \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if hexVal(h) < 0 {
						return s.errorf("invalid \\u escape")
					}
				}
				s.i += 5
			default:
				return s.errorf("invalid escape")
			}
		case c < 0x20:
			return s.errorf("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return s.errorf("invalid UTF-8 in string")
			}
			s.i += n
		}
	}
	return s.errorf("unterminated string")
}

// The helpers below run on validated documents only.

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func trimSpace(b []byte) []byte {
	i := skipWS(b, 0)
	j := len(b)
	for j > i && (b[j-1] == ' ' || b[j-1] == '\n' || b[j-1] == '\r' || b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
		i++
	}
	return i
}

func hasEscape(s []byte) bool {
	for _, c := range s {
		if c == '\\' {
			return true
		}
	}
	return false
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		r = r<<4 | rune(hexVal(c))
	}
	return r
}

// unescape appends the unescaped form of a validated string body to dst.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+1:])
			i += 4
			if r >= 0xd800 && r < 0xdc00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				lo := hex4(s[i+3:])
				if lo >= 0xdc00 && lo < 0xe000 {
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}
