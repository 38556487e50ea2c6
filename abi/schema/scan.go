package schema

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MalformedError says why a document is not one JSON text the validator
// accepts: a syntax error, invalid UTF-8, a lone surrogate, nesting past
// MaxDepth, or a property that appears twice in one object.
type MalformedError struct {
	Offset int    // byte offset where the problem was found
	Path   string // JSON Pointer of the value being read
	Msg    string
	// Duplicate is set for a repeated property name. The host refuses
	// those because JSON parsers disagree on which copy wins: a validator
	// that checks the last copy and a guest that reads the first would let
	// any payload past its schema.
	Duplicate bool
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// MaxDepth bounds how deeply arrays and objects nest. The walk recurses,
// and no command payload needs more.
const MaxDepth = 64

// maxViolations bounds the violations reported for one document, so a
// megabyte of bad items cannot make a megabyte-sized answer.
const maxViolations = 50

// Validate checks doc in one pass over its bytes: its syntax, that it
// contains no duplicate property and no NUL character, and that it matches
// the schema (a nil Validator checks everything but the schema). A
// malformed document returns a *MalformedError and no violations.
// Violations come sorted by path.
func (v *Validator) Validate(doc []byte) ([]Violation, error) {
	s := walk{b: doc}
	s.ws()
	if err := s.value(v); err != nil {
		return nil, err
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, s.malformed("data after the document")
	}
	sort.SliceStable(s.out, func(i, j int) bool { return s.out[i].Path < s.out[j].Path })
	if s.dropped > 0 {
		s.out = append(s.out, Violation{Path: "", Message: fmt.Sprintf("%d more violations not shown", s.dropped)})
	}
	return s.out, nil
}

// ValidateJSON is Validate with a malformed document reported as a single
// violation.
func (v *Validator) ValidateJSON(doc []byte) []Violation {
	out, err := v.Validate(doc)
	if err != nil {
		m := err.(*MalformedError)
		if m.Duplicate {
			return []Violation{{Path: m.Path, Message: m.Msg}}
		}
		return []Violation{{Message: m.Error()}}
	}
	return out
}

// segment is one step of the path to the value being read: an object key
// (aliasing the document, or a copy when it had escapes) or an array index.
type segment struct {
	key   []byte
	index int
}

type walk struct {
	b       []byte
	i       int
	path    []segment
	out     []Violation
	dropped int
}

func (s *walk) pointer() string {
	var b strings.Builder
	for _, seg := range s.path {
		b.WriteByte('/')
		if seg.key != nil {
			b.WriteString(escape(string(seg.key)))
		} else {
			b.WriteString(strconv.Itoa(seg.index))
		}
	}
	return b.String()
}

func (s *walk) violate(format string, args ...any) {
	if len(s.out) >= maxViolations {
		s.dropped++
		return
	}
	s.out = append(s.out, Violation{Path: s.pointer(), Message: fmt.Sprintf(format, args...)})
}

func (s *walk) malformed(format string, args ...any) *MalformedError {
	return &MalformedError{Offset: s.i, Path: s.pointer(), Msg: fmt.Sprintf(format, args...)}
}

func (s *walk) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect reports what was found where a value of v's type belongs, and
// returns nil so the value is read on without a schema.
func (s *walk) expect(v *Validator, found string) *Validator {
	if v == nil {
		return nil
	}
	article := "a"
	if v.s.Type == "object" || v.s.Type == "array" || v.s.Type == "integer" {
		article = "an"
	}
	s.violate("must be %s %s, not %s", article, v.s.Type, found)
	return nil
}

func (s *walk) value(v *Validator) error {
	if s.i >= len(s.b) {
		return s.malformed("unexpected end of the document")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if v != nil && v.s.Type != "object" {
			v = s.expect(v, "an object")
		}
		return s.object(v)
	case c == '[':
		if v != nil && v.s.Type != "array" {
			v = s.expect(v, "an array")
		}
		return s.array(v)
	case c == '"':
		str, err := s.str()
		if err != nil {
			return err
		}
		if bytes.IndexByte(str, 0) >= 0 {
			s.violate("must not contain the NUL character (\\u0000)")
		}
		if v != nil {
			if v.s.Type != "string" {
				s.expect(v, "a string")
			} else {
				v.checkString(s, str)
			}
		}
		return nil
	case c == 't' || c == 'f':
		if !s.literal("true") && !s.literal("false") {
			return s.malformed("invalid literal")
		}
		if v != nil && v.s.Type != "boolean" {
			s.expect(v, "a boolean")
		}
		return nil
	case c == 'n':
		if !s.literal("null") {
			return s.malformed("invalid literal")
		}
		if v != nil {
			s.expect(v, "null")
		}
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		integral, err := s.number()
		if err != nil {
			return err
		}
		if v != nil {
			if v.s.Type != "integer" && v.s.Type != "number" {
				s.expect(v, "a number")
			} else {
				v.checkNumber(s, s.b[start:s.i], integral)
			}
		}
		return nil
	}
	return s.malformed("unexpected character %q", s.b[s.i])
}

func (s *walk) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

func (s *walk) object(v *Validator) error {
	if len(s.path) >= MaxDepth {
		return s.malformed("nested more than %d levels deep", MaxDepth)
	}
	s.i++ // '{'
	s.ws()
	var small [8][]byte
	keys := small[:0]
	var seen map[string]struct{} // past a few keys, a set beats a scan
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		v.checkRequired(s, keys, seen)
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.malformed("expected a property name")
		}
		keyAt := s.i
		key, err := s.str()
		if err != nil {
			return err
		}
		dup := false
		if seen != nil {
			_, dup = seen[string(key)]
			seen[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					dup = true
					break
				}
			}
			keys = append(keys, key)
			if len(keys) > 16 {
				seen = make(map[string]struct{}, 32)
				for _, k := range keys {
					seen[string(k)] = struct{}{}
				}
			}
		}
		s.path = append(s.path, segment{key: key})
		if dup {
			m := s.malformed("appears more than once in its object; duplicate property names are refused")
			m.Offset, m.Duplicate = keyAt, true
			return m
		}
		var pv *Validator
		if v != nil {
			var known bool
			pv, known = v.properties[string(key)]
			if !known && !allowsExtra(v.s) {
				s.violate("is not a known property")
			}
		}
		if bytes.IndexByte(key, 0) >= 0 {
			s.violate("property names must not contain the NUL character")
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.malformed("expected ':' after a property name")
		}
		s.i++
		s.ws()
		if err := s.value(pv); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.ws()
		if s.i >= len(s.b) {
			return s.malformed("unterminated object")
		}
		if s.b[s.i] == '}' {
			s.i++
			v.checkRequired(s, keys, seen)
			return nil
		}
		if s.b[s.i] != ',' {
			return s.malformed("expected ',' or '}' in an object")
		}
		s.i++
		s.ws()
	}
}

func (v *Validator) checkRequired(s *walk, keys [][]byte, seen map[string]struct{}) {
	if v == nil {
		return
	}
	for _, r := range v.required {
		present := false
		if seen != nil {
			_, present = seen[r]
		} else {
			for _, k := range keys {
				if string(k) == r {
					present = true
					break
				}
			}
		}
		if !present {
			s.path = append(s.path, segment{key: []byte(r)})
			s.violate("is required")
			s.path = s.path[:len(s.path)-1]
		}
	}
}

func (s *walk) array(v *Validator) error {
	if len(s.path) >= MaxDepth {
		return s.malformed("nested more than %d levels deep", MaxDepth)
	}
	s.i++ // '['
	s.ws()
	var items *Validator
	if v != nil {
		items = v.items
	}
	n := 0
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			s.path = append(s.path, segment{index: n})
			if err := s.value(items); err != nil {
				return err
			}
			s.path = s.path[:len(s.path)-1]
			n++
			s.ws()
			if s.i >= len(s.b) {
				return s.malformed("unterminated array")
			}
			if s.b[s.i] == ']' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return s.malformed("expected ',' or ']' in an array")
			}
			s.i++
			s.ws()
		}
	}
	if v != nil {
		if v.s.MinItems != nil && n < *v.s.MinItems {
			s.violate("must have at least %d %s", *v.s.MinItems, plural(*v.s.MinItems, "item", "items"))
		}
		if v.s.MaxItems != nil && n > *v.s.MaxItems {
			s.violate("must have at most %d %s", *v.s.MaxItems, plural(*v.s.MaxItems, "item", "items"))
		}
	}
	return nil
}

// str reads a string and returns its unescaped bytes: a slice of the
// document when it has no escapes, a copy when it has. It refuses what
// would unescape differently in different parsers: invalid UTF-8 and lone
// UTF-16 surrogates.
func (s *walk) str() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	var buf []byte // set at the first escape
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end := s.i
			s.i++
			if buf == nil {
				return s.b[start:end], nil
			}
			return buf, nil
		case c == '\\':
			if buf == nil {
				buf = append(make([]byte, 0, s.i-start+16), s.b[start:s.i]...)
			}
			if s.i+1 >= len(s.b) {
				return nil, s.malformed("unterminated escape")
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, s.malformed("invalid \\u escape")
				}
				if r >= 0xdc00 && r < 0xe000 {
					return nil, s.malformed("a lone UTF-16 surrogate (\\u%04x)", r)
				}
				if r >= 0xd800 && r < 0xdc00 {
					if s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
						return nil, s.malformed("a lone UTF-16 surrogate (\\u%04x)", r)
					}
					s.i += 2
					lo, ok := s.hex4()
					if !ok || lo < 0xdc00 || lo >= 0xe000 {
						return nil, s.malformed("a lone UTF-16 surrogate (\\u%04x)", r)
					}
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, s.malformed("invalid escape \\%c", e)
			}
		case c < 0x20:
			return nil, s.malformed("a control character in a string must be escaped")
		case c < utf8.RuneSelf:
			if buf != nil {
				buf = append(buf, c)
			}
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, s.malformed("the document is not valid UTF-8")
			}
			if buf != nil {
				buf = append(buf, s.b[s.i:s.i+n]...)
			}
			s.i += n
		}
	}
	return nil, s.malformed("unterminated string")
}

func (s *walk) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	s.i += 4
	return r, true
}

// number reads a number by RFC 8259's grammar and says whether it was
// written as an integer (no fraction, no exponent).
func (s *walk) number() (integral bool, err error) {
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false, s.malformed("invalid number")
	}
	integral = true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		integral = false
		if digits() == 0 {
			return false, s.malformed("invalid number: no digits after the decimal point")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		integral = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false, s.malformed("invalid number: no digits in the exponent")
		}
	}
	return integral, nil
}

func (v *Validator) checkString(s *walk, str []byte) {
	n := utf8.RuneCount(str)
	if v.s.MinLength != nil && n < *v.s.MinLength {
		s.violate("must be at least %d %s long", *v.s.MinLength, plural(*v.s.MinLength, "character", "characters"))
	}
	if v.s.MaxLength != nil && n > *v.s.MaxLength {
		s.violate("must be at most %d %s long", *v.s.MaxLength, plural(*v.s.MaxLength, "character", "characters"))
	}
	if v.pattern != nil && !v.pattern.Match(str) {
		s.violate("must match the pattern %s", v.s.Pattern)
	}
	if v.enum != nil && !v.enum[string(str)] {
		s.violate("must be one of %s", strings.Join(v.s.Enum, ", "))
	}
	if v.s.Format != "" && !formatOK(v.s.Format, string(str)) {
		s.violate("must be a valid %s", v.s.Format)
	}
}

func (v *Validator) checkNumber(s *walk, lit []byte, integral bool) {
	var f float64
	if v.s.Type == "integer" {
		if !integral {
			s.violate("must be an integer, written without a fraction or an exponent")
			return
		}
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil {
			s.violate("is out of the 64-bit integer range")
			return
		}
		f = float64(n)
	} else {
		var err error
		f, err = strconv.ParseFloat(string(lit), 64)
		if err != nil || math.IsInf(f, 0) {
			s.violate("is out of range")
			return
		}
	}
	if v.s.Minimum != nil && f < *v.s.Minimum {
		s.violate("must be at least %v", *v.s.Minimum)
	}
	if v.s.Maximum != nil && f > *v.s.Maximum {
		s.violate("must be at most %v", *v.s.Maximum)
	}
}

// plural picks the word for a count: "1 character", "2 characters".
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
