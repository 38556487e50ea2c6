package openapi

import (
	"encoding/json"
	"testing"

	"fluvius.dev/fluvius/abi"
)

// TestOpenAPIExamples checks examples made from single schemas: each is
// valid by the host's own validator (example checks it), and each shows
// what the schema asks for.
func TestOpenAPIExamples(t *testing.T) {
	for _, tc := range []struct {
		schema string
		full   bool
		want   string // the example's JSON, "" to check validity only
	}{
		{`{"type":"string","format":"email"}`, false, `"ann@example.com"`},
		{`{"type":"string","format":"email","maxLength":6}`, false, `"a@b.co"`},
		{`{"type":"string","format":"date-time"}`, false, `"2026-01-02T15:04:05Z"`},
		{`{"type":"string","format":"date"}`, false, `"2026-01-02"`},
		{`{"type":"string","format":"uuid"}`, false, ""},
		{`{"type":"string","enum":["b","a"]}`, false, `"b"`},
		{`{"type":"string","minLength":12}`, false, ""},
		{`{"type":"string","maxLength":2}`, false, `"te"`},
		{`{"type":"string","pattern":"^[A-Z]{3}-[0-9]{4}$"}`, false, `"AAA-0000"`},
		{`{"type":"string","pattern":"^(ab|cd)+x?[0-9a-f]{2,4}$","minLength":7}`, false, ""},
		{`{"type":"string","pattern":"^\\d+$","minLength":3,"maxLength":3}`, false, `"000"`},
		{`{"type":"integer","minimum":10}`, false, `10`},
		{`{"type":"integer","maximum":-5}`, false, `-5`},
		{`{"type":"number","minimum":0.5,"maximum":0.75}`, false, `0.5`},
		{`{"type":"integer","minimum":1e8}`, false, `100000000`},
		{`{"type":"boolean"}`, false, `true`},
		{`{"type":"array","items":{"type":"integer"},"minItems":2}`, false, `[1,1]`},
		{`{"type":"array","items":{"type":"integer"},"maxItems":0}`, true, `[]`},
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]}`, false, `{"b":1}`},
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]}`, true, `{"a":"a","b":1}`},
		{`{"type":"object","required":["x"]}`, false, `{"x":"x"}`},
		{`{"type":"object","properties":{"o":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}},"required":["o"]}`, false, `{"o":{"n":1}}`},
	} {
		var s abi.Schema
		if err := json.Unmarshal([]byte(tc.schema), &s); err != nil {
			t.Fatal(err)
		}
		v, err := example(&s, tc.full)
		if err != nil {
			t.Errorf("%s: %v", tc.schema, err)
			continue
		}
		got, _ := json.Marshal(v)
		if tc.want != "" && string(got) != tc.want {
			t.Errorf("%s: example %s, want %s", tc.schema, got, tc.want)
		}
	}
}

// TestOpenAPIExamplesImpossible: a schema no simple value satisfies gets
// no example (rather than one the host would refuse).
func TestOpenAPIExamplesImpossible(t *testing.T) {
	for _, schema := range []string{
		`{"type":"string","pattern":"^a$","minLength":3}`,
		`{"type":"string","format":"uuid","pattern":"^x"}`,
		`{"type":"integer","minimum":2,"maximum":1}`,
		`{"type":"object","properties":{"s":{"type":"string","enum":["abc"],"maxLength":1}},"required":["s"]}`,
	} {
		var s abi.Schema
		if err := json.Unmarshal([]byte(schema), &s); err != nil {
			t.Fatal(err)
		}
		if v, err := example(&s, false); err == nil {
			t.Errorf("%s: example %v", schema, v)
		}
	}
}
