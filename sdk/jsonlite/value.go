package jsonlite

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
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
	idx *Index // indexes the objects of the document raw lies in; nil if none
}

// Parse validates b as one JSON document and returns it as a Value. The
// Value aliases b.
func Parse(b []byte) (Value, error) { return parse(b, nil) }

// parse is Parse, and if x is not nil, records the members of the document,
// if it is an object, in x.
func parse(b []byte, x *Index) (Value, error) {
	s := scanner{b: b, x: x}
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

// Get returns the member key of an object, or the missing value. When the
// object has key more than once, the first member wins.
//
// Get scans the object, comparing keys as they are in the document (without
// unescaping them unless they have escapes); on a Value from an Index it
// looks the key up among the members the index recorded on the object's
// first Get instead.
func (v Value) Get(key string) Value {
	b := v.raw
	if len(b) == 0 || b[0] != '{' {
		return Value{}
	}
	if v.idx != nil {
		if members, ok := v.idx.object(b); ok {
			doc := v.idx.doc
			for i := range members {
				if m := &members[i]; m.matches(doc, key) {
					return Value{raw: doc[m.val:m.valEnd], idx: v.idx}
				}
			}
			return Value{}
		}
	}
	// A key without a backslash can be compared with the document's bytes
	// straight away: if they are equal, they have no escapes either, and the
	// quote after them closes the key.
	plain := strings.IndexByte(key, '\\') < 0
	for i := skipWS(b, 1); i < len(b) && b[i] == '"'; {
		k, match := i+1, false
		var kend int
		if plain && len(b)-k > len(key) && b[k+len(key)] == '"' && string(b[k:k+len(key)]) == key {
			kend, match = k+len(key), true
		} else {
			kend = skipString(b, i) - 1
			if !plain || bytes.IndexByte(b[k:kend], '\\') >= 0 {
				match = keyEqual(b[k:kend], key)
			}
		}
		j := skipWS(b, skipWS(b, kend+1)+1) // past the quote and the ':'
		end := skipValue(b, j)
		if match {
			return Value{raw: b[j:end], idx: v.idx}
		}
		i = nextElement(b, end)
	}
	return Value{}
}

// member is where one member of an object lies in its document: the key
// (quotes included) at b[key:keyEnd], the value at b[val:valEnd], and the
// next member, or the closing brace, at b[next].
type member struct {
	key, keyEnd, val, valEnd, next int
	escaped                        bool // the key has escapes
}

// readMember reads the member whose key starts at b[i] (a '"') in a
// validated document.
func readMember(b []byte, i int) member {
	m := member{key: i, keyEnd: skipString(b, i)}
	m.escaped = bytes.IndexByte(b[i+1:m.keyEnd-1], '\\') >= 0
	m.val = skipWS(b, skipWS(b, m.keyEnd)+1) // past ':'
	m.valEnd = skipValue(b, m.val)
	m.next = nextElement(b, m.valEnd)
	return m
}

// keyEqual reports whether the escaped key body k unescapes to key, without
// unescaping it into a buffer.
func keyEqual(k []byte, key string) bool {
	j := 0
	for i := 0; i < len(k); {
		if c := k[i]; c != '\\' {
			if j >= len(key) || key[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = decodeEscape(k, i)
		var enc [utf8.UTFMax]byte
		n := utf8.EncodeRune(enc[:], r)
		if len(key)-j < n || key[j:j+n] != string(enc[:n]) {
			return false
		}
		j += n
	}
	return j == len(key)
}

// Object calls fn for each member of an object, in document order, until fn
// returns false. Keys with escapes are unescaped; the key slice is only valid
// during the call.
func (v Value) Object(fn func(key []byte, m Value) bool) {
	b := v.raw
	if len(b) == 0 || b[0] != '{' {
		return
	}
	var buf []byte
	for i := skipWS(b, 1); i < len(b) && b[i] == '"'; {
		m := readMember(b, i)
		key := b[m.key+1 : m.keyEnd-1]
		if m.escaped {
			buf = unescape(buf[:0], key)
			key = buf
		}
		if !fn(key, Value{raw: b[m.val:m.valEnd], idx: v.idx}) {
			return
		}
		i = m.next
	}
}

// Array calls fn for each element of an array until fn returns false.
func (v Value) Array(fn func(i int, e Value) bool) {
	b := v.raw
	if len(b) == 0 || b[0] != '[' {
		return
	}
	i := skipWS(b, 1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end := skipValue(b, i)
		if !fn(n, Value{raw: b[i:end], idx: v.idx}) {
			return
		}
		i = nextElement(b, end)
	}
}

// nextElement returns where the element or member after the one ending at
// b[end] starts, or where its container closes.
func nextElement(b []byte, end int) int {
	i := skipWS(b, end)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	return i
}

// Len returns the number of elements of an array or members of an object.
func (v Value) Len() int {
	b := v.raw
	n := 0
	switch v.Kind() {
	case Array:
		for i := skipWS(b, 1); i < len(b) && b[i] != ']'; n++ {
			i = nextElement(b, skipValue(b, i))
		}
	case Object:
		for i := skipWS(b, 1); i < len(b) && b[i] == '"'; n++ {
			i = readMember(b, i).next
		}
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
	if n, ok := smallInt(v.raw); ok {
		return n, true
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

// smallInt reads an integer of at most 19 digits with no fraction or
// exponent without strconv (and without the string conversion strconv
// needs, which allocates under TinyGo); ok is false for anything else,
// including integers out of range.
func smallInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64 // 19 digits fit: 10^19-1 < 2^64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	case neg && u <= math.MaxInt64+1:
		return -int64(u), true // -(MaxInt64+1) wraps to MinInt64, as wanted
	}
	return 0, false
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
	x *Index // records the members of a top-level object, if not nil
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
		record := depth == 0 && s.x != nil
		for {
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.errorf("expected a string key")
			}
			key := s.i
			if err := s.str(); err != nil {
				return err
			}
			keyEnd := s.i
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.errorf("expected ':' after key")
			}
			s.i++
			s.ws()
			val := s.i
			if err := s.value(depth + 1); err != nil {
				return err
			}
			if record {
				s.x.members = append(s.x.members, indexedMember{
					key: int32(key + 1), keyEnd: int32(keyEnd - 1), val: int32(val), valEnd: int32(s.i),
					escaped: bytes.IndexByte(s.b[key+1:keyEnd-1], '\\') >= 0,
				})
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

// skipString returns the index past the string starting at b[i] (a '"').
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		// The quote closes the string unless an odd number of backslashes
		// escapes it. The opening quote stops the count.
		n := 0
		for j := i - 1; b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
	}
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
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		var r rune
		r, i = decodeEscape(s, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// decodeEscape decodes the escape at s[i] (a '\\') of a validated string
// body and returns its rune and the index past it. A \u escape of a high
// surrogate followed by one of a low surrogate is one rune; a lone surrogate
// is U+FFFD.
func decodeEscape(s []byte, i int) (rune, int) {
	i++
	switch s[i] {
	case 'b':
		return '\b', i + 1
	case 'f':
		return '\f', i + 1
	case 'n':
		return '\n', i + 1
	case 'r':
		return '\r', i + 1
	case 't':
		return '\t', i + 1
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
		if r >= 0xd800 && r < 0xe000 {
			r = utf8.RuneError
		}
		return r, i + 1
	}
	return rune(s[i]), i + 1 // '"', '\\', '/'
}
