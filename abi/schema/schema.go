// Package schema validates JSON documents against the JSON Schema subset of
// abi.Schema. The host runs it on every command payload before a guest sees
// the payload, so guests can trust the shape of what they read.
package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fluvius.dev/fluvius/abi"
)

// Validator is a compiled schema.
type Validator struct {
	s          *abi.Schema
	pattern    *regexp.Regexp
	properties map[string]*Validator
	required   []string
	items      *Validator
	enum       map[string]bool
}

// Violation is one way a document fails its schema.
type Violation struct {
	Path    string `json:"path"` // JSON Pointer, "" for the document itself
	Message string `json:"message"`
}

var knownTypes = map[string]bool{"object": true, "string": true, "integer": true, "number": true, "boolean": true, "array": true}

var knownFormats = map[string]bool{"date-time": true, "date": true, "email": true, "uuid": true}

// Compile checks a schema and prepares it for validation. path names the
// schema in error messages.
func Compile(s *abi.Schema, path string) (*Validator, error) {
	if s == nil {
		return nil, fmt.Errorf("%s: missing schema", path)
	}
	if !knownTypes[s.Type] {
		return nil, fmt.Errorf("%s: unsupported type %q", path, s.Type)
	}
	v := &Validator{s: s}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: pattern: %w", path, err)
		}
		v.pattern = re
	}
	if s.Format != "" && !knownFormats[s.Format] {
		return nil, fmt.Errorf("%s: unsupported format %q", path, s.Format)
	}
	if len(s.Properties) > 0 || len(s.Required) > 0 {
		if s.Type != "object" {
			return nil, fmt.Errorf("%s: properties on a %s", path, s.Type)
		}
		v.properties = map[string]*Validator{}
		for name, ps := range s.Properties {
			pv, err := Compile(ps, path+"/properties/"+name)
			if err != nil {
				return nil, err
			}
			v.properties[name] = pv
		}
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok && !allowsExtra(s) {
				return nil, fmt.Errorf("%s: required property %q is not declared", path, r)
			}
		}
		v.required = s.Required
	}
	if s.Items != nil {
		if s.Type != "array" {
			return nil, fmt.Errorf("%s: items on a %s", path, s.Type)
		}
		iv, err := Compile(s.Items, path+"/items")
		if err != nil {
			return nil, err
		}
		v.items = iv
	}
	if len(s.Enum) > 0 {
		v.enum = map[string]bool{}
		for _, e := range s.Enum {
			v.enum[e] = true
		}
	}
	return v, nil
}

func allowsExtra(s *abi.Schema) bool { return s.AdditionalProperties == nil || *s.AdditionalProperties }

// ValidateJSON decodes doc and validates it. A document that is not JSON is
// reported as a single violation.
func (v *Validator) ValidateJSON(doc []byte) []Violation {
	if !utf8.Valid(doc) {
		return []Violation{{Message: "the document is not valid UTF-8"}}
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return []Violation{{Message: "malformed JSON: " + err.Error()}}
	}
	if dec.More() {
		return []Violation{{Message: "malformed JSON: data after the document"}}
	}
	var out []Violation
	noNUL(x, "", &out)
	v.validate(x, "", &out)
	return out
}

// noNUL refuses U+0000 anywhere: PostgreSQL's jsonb and text cannot store
// it, and a document one store accepts must not fail in another.
func noNUL(x any, path string, out *[]Violation) {
	switch t := x.(type) {
	case string:
		if strings.IndexByte(t, 0) >= 0 {
			*out = append(*out, Violation{Path: path, Message: "must not contain the NUL character (\\u0000)"})
		}
	case []any:
		for i, e := range t {
			noNUL(e, path+"/"+strconv.Itoa(i), out)
		}
	case map[string]any:
		for k, e := range t {
			if strings.IndexByte(k, 0) >= 0 {
				*out = append(*out, Violation{Path: path + "/" + escape(k), Message: "property names must not contain the NUL character"})
				continue
			}
			noNUL(e, path+"/"+escape(k), out)
		}
	}
}

func (v *Validator) validate(x any, path string, out *[]Violation) {
	add := func(format string, args ...any) {
		*out = append(*out, Violation{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	s := v.s
	switch s.Type {
	case "object":
		m, ok := x.(map[string]any)
		if !ok {
			add("must be an object, not %s", kind(x))
			return
		}
		for _, r := range v.required {
			if _, ok := m[r]; !ok {
				*out = append(*out, Violation{Path: path + "/" + escape(r), Message: "is required"})
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			pv, ok := v.properties[k]
			if !ok {
				if !allowsExtra(s) {
					*out = append(*out, Violation{Path: path + "/" + escape(k), Message: "is not a known property"})
				}
				continue
			}
			pv.validate(m[k], path+"/"+escape(k), out)
		}
	case "array":
		a, ok := x.([]any)
		if !ok {
			add("must be an array, not %s", kind(x))
			return
		}
		if s.MinItems != nil && len(a) < *s.MinItems {
			add("must have at least %d items", *s.MinItems)
		}
		if s.MaxItems != nil && len(a) > *s.MaxItems {
			add("must have at most %d items", *s.MaxItems)
		}
		if v.items != nil {
			for i, e := range a {
				v.items.validate(e, path+"/"+strconv.Itoa(i), out)
			}
		}
	case "string":
		str, ok := x.(string)
		if !ok {
			add("must be a string, not %s", kind(x))
			return
		}
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength {
			add("must be at least %d characters long", *s.MinLength)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			add("must be at most %d characters long", *s.MaxLength)
		}
		if v.pattern != nil && !v.pattern.MatchString(str) {
			add("must match the pattern %s", s.Pattern)
		}
		if v.enum != nil && !v.enum[str] {
			add("must be one of %s", strings.Join(s.Enum, ", "))
		}
		if s.Format != "" && !formatOK(s.Format, str) {
			add("must be a valid %s", s.Format)
		}
	case "integer", "number":
		num, ok := x.(json.Number)
		if !ok {
			add("must be a%s %s, not %s", map[bool]string{true: "n"}[s.Type == "integer"], s.Type, kind(x))
			return
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) {
			add("is out of range")
			return
		}
		if s.Type == "integer" {
			if _, err := num.Int64(); err != nil {
				if f != math.Trunc(f) {
					add("must be an integer")
				} else {
					add("is out of the 64-bit integer range")
				}
				return
			}
		}
		if s.Minimum != nil && f < *s.Minimum {
			add("must be at least %v", *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			add("must be at most %v", *s.Maximum)
		}
	case "boolean":
		if _, ok := x.(bool); !ok {
			add("must be a boolean, not %s", kind(x))
		}
	}
}

func kind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "unknown"
}

// escape writes a property name as a JSON Pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func formatOK(format, s string) bool {
	switch format {
	case "date-time":
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	case "email":
		a, err := mail.ParseAddress(s)
		return err == nil && a.Address == s
	case "uuid":
		return uuidRE.MatchString(s)
	}
	return true
}
