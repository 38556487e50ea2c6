package schema_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
)

const userSchema = `{
  "type": "object",
  "properties": {
    "email": {"type": "string", "maxLength": 10, "format": "email"},
    "name":  {"type": "string", "minLength": 1},
    "age":   {"type": "integer", "minimum": 0, "maximum": 150},
    "role":  {"type": "string", "enum": ["admin", "user"]},
    "tags":  {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "maxItems": 2},
    "ok":    {"type": "boolean"},
    "score": {"type": "number"}
  },
  "required": ["email", "name"],
  "additionalProperties": false
}`

func compile(t *testing.T, doc string) *schema.Validator {
	t.Helper()
	var s abi.Schema
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	v, err := schema.Compile(&s, "#")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestValidate(t *testing.T) {
	v := compile(t, userSchema)
	cases := []struct {
		doc  string
		want []string // "path: message" fragments, in order
	}{
		{`{"email":"a@b.co","name":"A","age":3,"role":"user","tags":["x"],"ok":true,"score":1.5}`, nil},
		{`{"name":"A"}`, []string{"/email: is required"}},
		{`{"email":"a@b.co","name":"","extra":1}`, []string{"/extra: is not a known property", "/name: must be at least 1"}},
		{`{"email":"a@b.co","name":"A","age":1.5}`, []string{"/age: must be an integer"}},
		{`{"email":"a@b.co","name":"A","age":200}`, []string{"/age: must be at most 150"}},
		{`{"email":"a@b.co","name":"A","age":"3"}`, []string{"/age: must be an integer, not a string"}},
		{`{"email":"not-email","name":"A"}`, []string{"/email: must be a valid email"}},
		{`{"email":"aaaaaa@bbbbbb.co","name":"A"}`, []string{"/email: must be at most 10"}},
		{`{"email":"a@b.co","name":"A","role":"root"}`, []string{"/role: must be one of admin, user"}},
		{`{"email":"a@b.co","name":"A","tags":["ok","NO","x"]}`, []string{"/tags: must have at most 2", "/tags/1: must match"}},
		{`{"email":"a@b.co","name":"A","ok":"yes"}`, []string{"/ok: must be a boolean"}},
		{`[]`, []string{": must be an object, not an array"}},
		{`{"email":`, []string{": malformed JSON"}},
		{`{} {}`, []string{": malformed JSON at byte 3: data after"}},
		{"{\"email\":\"\xff\"}", []string{": malformed JSON at byte 10: the document is not valid UTF-8"}},
		{`{"email":"a@b.co","name":"A","age":1e2}`, []string{"/age: must be an integer, written without a fraction or an exponent"}},
		{`{"email":"a@b.co","name":"A","age":99999999999999999999}`, []string{"/age: is out of the 64-bit integer range"}},
		{`{"email":"a@b.co","name":"A","ok":null}`, []string{"/ok: must be a boolean, not null"}},
		{`{"email":"a@b.co","name":"\ud800"}`, []string{": malformed JSON at byte 32: a lone UTF-16 surrogate"}},
		{`{"email":"a@b.co","name":"\udc00x"}`, []string{": malformed JSON at byte 32: a lone UTF-16 surrogate"}},
		{`{"email":"a@b.co","name":"\ud83d\ude00"}`, nil},
		{`{"email":"a@b.co","name":"A","age":01}`, []string{": malformed JSON at byte 36: expected ','"}},
		{`{"email":"a@b.co","name":"A","score":1.}`, []string{": malformed JSON at byte 39: invalid number"}},
		{`{"email":"a@b.co","name":"A\u0000B"}`, []string{"/name: must not contain the NUL"}},
	}
	for _, c := range cases {
		got := v.ValidateJSON([]byte(c.doc))
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.doc, got, c.want)
			continue
		}
		for i, w := range c.want {
			if s := got[i].Path + ": " + got[i].Message; !strings.HasPrefix(s, w) {
				t.Errorf("%s: violation %d is %q, want prefix %q", c.doc, i, s, w)
			}
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, doc := range []string{
		`{"type":"tuple"}`,
		`{"type":"string","pattern":"("}`,
		`{"type":"string","format":"ipv9"}`,
		`{"type":"string","properties":{"a":{"type":"string"}}}`,
		`{"type":"object","properties":{"a":{"type":"nope"}}}`,
		`{"type":"object","required":["ghost"],"additionalProperties":false}`,
	} {
		var s abi.Schema
		json.Unmarshal([]byte(doc), &s)
		if _, err := schema.Compile(&s, "#"); err == nil {
			t.Errorf("%s compiled", doc)
		}
	}
}

// The fuzzer's find: a validator reading the last copy of a key and a guest
// reading the first let any payload past its schema. Every duplicate is
// refused, however it is spelled.
func TestDuplicatePropertiesRefused(t *testing.T) {
	v := compile(t, userSchema)
	for _, doc := range []string{
		`{"email":"a@b.co","name":"A","name":"B"}`,
		`{"email":"a@b.co","name":"A","n\u0061me":"B"}`,
		`{"email":"a@b.co","n\u0061me":"A","name":"B"}`,
		`{"email":"a@b.co","name":"A","tags":["a"],"age":1,"ok":true,"score":1,"role":"user","x1":1,"x2":2,"x3":3,"x4":4,"x5":5,"x6":6,"x7":7,"x8":8,"x9":9,"x10":10,"x11":11,"\u0078\u0031":1}`,
		`{"email":"a@b.co","name":"A","tags":[{"k":1,"k":2}]}`,
	} {
		out, err := v.Validate([]byte(doc))
		var m *schema.MalformedError
		if !errors.As(err, &m) || !m.Duplicate {
			t.Errorf("%s: got %v, %v; want a duplicate-property error", doc, out, err)
			continue
		}
		if got := v.ValidateJSON([]byte(doc)); len(got) != 1 || !strings.Contains(got[0].Message, "more than once") {
			t.Errorf("%s: ValidateJSON gave %v", doc, got)
		}
	}
	// Distinct keys that only look alike are not duplicates.
	if out, err := (*schema.Validator)(nil).Validate([]byte(`{"a":1,"A":2,"a ":3,"\u00e9":4,"e\u0301":5}`)); err != nil || len(out) != 0 {
		t.Errorf("distinct keys refused: %v %v", out, err)
	}
}

func TestDepthAndViolationsBounded(t *testing.T) {
	deep := strings.Repeat("[", schema.MaxDepth+1) + strings.Repeat("]", schema.MaxDepth+1)
	if _, err := (*schema.Validator)(nil).Validate([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep document: %v", err)
	}
	ok := strings.Repeat("[", schema.MaxDepth) + strings.Repeat("]", schema.MaxDepth)
	if _, err := (*schema.Validator)(nil).Validate([]byte(ok)); err != nil {
		t.Errorf("document at the depth limit: %v", err)
	}
	v := compile(t, `{"type":"array","items":{"type":"string"}}`)
	many := "[" + strings.Repeat("1,", 999) + "1]"
	out := v.ValidateJSON([]byte(many))
	if len(out) != 51 || !strings.Contains(out[len(out)-1].Message, "950 more violations") {
		t.Errorf("got %d violations, last %v", len(out), out[len(out)-1])
	}
}

// FuzzValidate holds the one-pass validator to encoding/json: it accepts
// exactly the documents encoding/json accepts, less those with duplicate
// keys, invalid UTF-8 (which encoding/json lets through) or lone surrogates,
// and never panics.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":"c"}]}`, `"\ud83d\ude00"`, `-0.5e+3`, `{"a":1,"a":2}`, `[true,false,null]`, `"\u0000"`} {
		f.Add([]byte(s))
	}
	v := compileF(f, userSchema)
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, err := (*schema.Validator)(nil).Validate(doc)
		v.ValidateJSON(doc)
		std := json.Valid(doc)
		if err == nil && !std {
			t.Fatalf("accepted what encoding/json refuses: %q", doc)
		}
		if err != nil && std {
			var m *schema.MalformedError
			errors.As(err, &m)
			if !m.Duplicate && !strings.Contains(m.Msg, "surrogate") && !strings.Contains(m.Msg, "nested") && !strings.Contains(m.Msg, "UTF-8") {
				t.Fatalf("refused what encoding/json accepts: %q: %v", doc, err)
			}
		}
	})
}

func compileF(f *testing.F, doc string) *schema.Validator {
	var s abi.Schema
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		f.Fatal(err)
	}
	v, err := schema.Compile(&s, "#")
	if err != nil {
		f.Fatal(err)
	}
	return v
}
