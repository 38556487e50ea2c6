package sdk

import "fluvius.dev/fluvius/sdk/jsonlite"

// Schema describes the JSON shape of a payload or state, in the subset of JSON
// Schema the host validates (see abi.Schema). Build one with Object, String,
// Integer, Number, Boolean and Array; the methods return the schema changed.
type Schema struct {
	typ      string
	desc     string
	fields   []Field
	extra    bool
	items    *Schema
	enum     []string
	minLen   *int
	maxLen   *int
	pattern  string
	format   string
	min, max *float64
	minItems *int
	maxItems *int
}

// Field is one property of an object schema.
type Field struct {
	Name     string
	Schema   *Schema
	Optional bool
}

// Required declares a property the payload must carry.
func Required(name string, s *Schema) Field { return Field{Name: name, Schema: s} }

// Optional declares a property the payload may carry.
func Optional(name string, s *Schema) Field { return Field{Name: name, Schema: s, Optional: true} }

// Object is an object with the given properties. Other properties are
// refused unless AllowExtra is called.
func Object(fields ...Field) *Schema { return &Schema{typ: "object", fields: fields} }

// String is a string.
func String() *Schema { return &Schema{typ: "string"} }

// Integer is a whole number.
func Integer() *Schema { return &Schema{typ: "integer"} }

// Number is any number.
func Number() *Schema { return &Schema{typ: "number"} }

// Boolean is true or false.
func Boolean() *Schema { return &Schema{typ: "boolean"} }

// Array is an array whose elements match items.
func Array(items *Schema) *Schema { return &Schema{typ: "array", items: items} }

func (s *Schema) clone() *Schema { c := *s; return &c }

// Describe sets the description shown in /_meta.
func (s *Schema) Describe(d string) *Schema { c := s.clone(); c.desc = d; return c }

// AllowExtra lets an object carry properties it does not declare.
func (s *Schema) AllowExtra() *Schema { c := s.clone(); c.extra = true; return c }

// MinLength bounds a string's length in characters from below.
func (s *Schema) MinLength(n int) *Schema { c := s.clone(); c.minLen = &n; return c }

// MaxLength bounds a string's length in characters from above.
func (s *Schema) MaxLength(n int) *Schema { c := s.clone(); c.maxLen = &n; return c }

// Pattern requires a string to match a regular expression (RE2 syntax).
func (s *Schema) Pattern(p string) *Schema { c := s.clone(); c.pattern = p; return c }

// Format names a string format; the host checks date-time, date, email and
// uuid.
func (s *Schema) Format(f string) *Schema { c := s.clone(); c.format = f; return c }

// Enum restricts a string to the given values.
func (s *Schema) Enum(values ...string) *Schema { c := s.clone(); c.enum = values; return c }

// Min bounds a number from below (inclusive).
func (s *Schema) Min(v float64) *Schema { c := s.clone(); c.min = &v; return c }

// Max bounds a number from above (inclusive).
func (s *Schema) Max(v float64) *Schema { c := s.clone(); c.max = &v; return c }

// MinItems bounds an array's length from below.
func (s *Schema) MinItems(n int) *Schema { c := s.clone(); c.minItems = &n; return c }

// MaxItems bounds an array's length from above.
func (s *Schema) MaxItems(n int) *Schema { c := s.clone(); c.maxItems = &n; return c }

// EncodeJSON writes the schema as JSON Schema.
func (s *Schema) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject()
	w.Key("type").String(s.typ)
	if s.desc != "" {
		w.Key("description").String(s.desc)
	}
	if s.typ == "object" {
		w.Key("properties").BeginObject()
		for _, f := range s.fields {
			w.Key(f.Name)
			f.Schema.EncodeJSON(w)
		}
		w.EndObject()
		w.Key("required").BeginArray()
		for _, f := range s.fields {
			if !f.Optional {
				w.String(f.Name)
			}
		}
		w.EndArray()
		w.Key("additionalProperties").Bool(s.extra)
	}
	if s.items != nil {
		w.Key("items")
		s.items.EncodeJSON(w)
	}
	if len(s.enum) > 0 {
		w.Key("enum").Strings(s.enum)
	}
	writeInt(w, "minLength", s.minLen)
	writeInt(w, "maxLength", s.maxLen)
	if s.pattern != "" {
		w.Key("pattern").String(s.pattern)
	}
	if s.format != "" {
		w.Key("format").String(s.format)
	}
	if s.min != nil {
		w.Key("minimum").Float(*s.min)
	}
	if s.max != nil {
		w.Key("maximum").Float(*s.max)
	}
	writeInt(w, "minItems", s.minItems)
	writeInt(w, "maxItems", s.maxItems)
	w.EndObject()
}

func writeInt(w *jsonlite.Writer, key string, v *int) {
	if v != nil {
		w.Key(key).Int(int64(*v))
	}
}
