package schema_test

import (
	"encoding/json"
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
		{`{} {}`, []string{": malformed JSON: data after"}},
		{"{\"email\":\"\xff\"}", []string{": the document is not valid UTF-8"}},
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
