package scenario_test

import (
	"context"
	"strings"
	"testing"

	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
	"fluvius.dev/fluvius/sdk/scenario"
)

type counter struct{ N int64 }

func (c *counter) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(c.N).EndObject() }
func (c *counter) DecodeJSON(v jsonlite.Value) error {
	c.N = v.Get("n").Int()
	return nil
}

type by int64

func (b by) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("by").Int(int64(b)).EndObject() }

func domain() *sdk.Domain {
	d := sdk.NewDomain("counting", sdk.Meta{Revision: 1})
	a := sdk.NewAggregate[counter](d, "counter").StateSchema(sdk.Object(sdk.Required("n", sdk.Integer().Max(50))))
	a.Apply("added", func(c *counter, e sdk.Event) error { c.N += e.Data.Get("by").Int(); return nil })
	a.Action(sdk.Action[counter]{Name: "add", EvtKey: "added", New: true,
		Payload: sdk.Object(sdk.Required("by", sdk.Integer())),
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error {
			if p.Get("by").Int() > 100 {
				return sdk.Fail("too-much", "at most 100 at a time")
			}
			return c.Emit(by(p.Get("by").Int()))
		}})
	a.Action(sdk.Action[counter]{Name: "bump", EvtKey: "added",
		Payload: sdk.Object(sdk.Required("by", sdk.Integer())),
		Handle:  func(c *sdk.Call, s *counter, p jsonlite.Value) error { return c.Emit(by(p.Get("by").Int())) }})
	return d
}

const scenarios = `{
  "domain": "counting",
  "scenarios": [
    {"name": "ok", "given": [{"type": "added", "data": {"by": 2}}],
     "when": {"command": "bump", "resource": "counter", "payload": {"by": 3}},
     "then": {"events": [{"type": "added", "data": {"by": 3}}], "state": {"n": 5}}},
    {"name": "wrong state", "when": {"command": "add", "resource": "counter", "payload": {"by": 3}},
     "then": {"state": {"n": 4}}},
    {"name": "wrong event", "when": {"command": "add", "resource": "counter", "payload": {"by": 3}},
     "then": {"events": [{"type": "subtracted"}]}},
    {"name": "missing event", "when": {"command": "add", "resource": "counter", "payload": {"by": 3}},
     "then": {"events": []}},
    {"name": "expected an error", "when": {"command": "add", "resource": "counter", "payload": {"by": 3}},
     "then": {"error": {"code": "too-much"}}},
    {"name": "unexpected error", "when": {"command": "add", "resource": "counter", "payload": {"by": 300}},
     "then": {"events": [{"type": "added"}]}},
    {"name": "expected error", "when": {"command": "add", "resource": "counter", "payload": {"by": 300}},
     "then": {"error": {"code": "too-much"}, "events": []}},
    {"name": "schema", "when": {"command": "add", "resource": "counter", "payload": {"by": "x"}},
     "then": {"error": {"code": "invalid-payload"}}},
    {"name": "state past its schema", "given": [{"type": "added", "data": {"by": 40}}],
     "when": {"command": "bump", "resource": "counter", "payload": {"by": 30}},
     "then": {"events": [{"type": "added"}]}},
    {"name": "duplicate", "when": {"command": "add", "resource": "counter", "payload": {"by": 1, "by": 300}},
     "then": {"error": {"code": "duplicate-property"}}},
    {"name": "unknown command", "when": {"command": "nope", "resource": "counter"},
     "then": {"error": {"code": "unknown-command"}}}
  ]
}`

func TestOutcomesAndDiffs(t *testing.T) {
	f, err := scenario.Parse([]byte(scenarios), "inline")
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := scenario.Run(context.Background(), scenario.Native(domain()), f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ok":                    "",
		"wrong state":           "state.n: want 4, got 3",
		"wrong event":           `events[0].type: want "subtracted", got "added"`,
		"missing event":         "events: want [], got [added]",
		"expected an error":     `error: want "too-much", but the command succeeded with [added]`,
		"unexpected error":      "error: the command failed with too-much: at most 100 at a time",
		"expected error":        "",
		"schema":                "",
		"duplicate":             "",
		"state past its schema": "state/n: must be at most 50",
		"unknown command":       "",
	}
	for _, o := range outcomes {
		w, ok := want[o.Name]
		if !ok {
			t.Fatalf("unexpected scenario %q", o.Name)
		}
		got := strings.Join(o.Failures, "\n")
		if w == "" && !o.Passed() {
			t.Errorf("%s: should pass, failed with:\n%s", o.Name, got)
		}
		if w != "" && !strings.Contains(got, w) {
			t.Errorf("%s: failures %q do not say %q", o.Name, got, w)
		}
	}
}

func TestParseRefusesSloppyFiles(t *testing.T) {
	for _, doc := range []string{
		`{"domain": "d", "scenarios": [{"name": "n", "when": {"command": "c", "resource": "r"}, "than": {}}]}`,
		`{"domain": "d", "scenarios": []}`,
		`{"scenarios": [{"name": "n", "when": {"command": "c", "resource": "r"}}]}`,
		`{"domain": "d", "scenarios": [{"name": "n", "when": {"command": "c"}}]}`,
		`{"domain": "d", "scenarios": [{"name": "n", "when": {"command": "c", "resource": "r"}, "then": {"error": {}}}]}`,
	} {
		if _, err := scenario.Parse([]byte(doc), "inline"); err == nil {
			t.Errorf("parsed: %s", doc)
		}
	}
}

func TestWrongDomain(t *testing.T) {
	f, _ := scenario.Parse([]byte(strings.Replace(scenarios, `"domain": "counting"`, `"domain": "other"`, 1)), "inline")
	if _, err := scenario.Run(context.Background(), scenario.Native(domain()), f); err == nil {
		t.Fatal("ran scenarios of another domain")
	}
}
