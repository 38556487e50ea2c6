// Command tally is the registry tests' plugin: a running total, built in
// variants that differ as versions of a real domain do (set with
// -ldflags=-X=main.variant=NAME):
//
//	""          adds what it is given
//	"same"      the same behaviour in other bytes (a rebuild)
//	"double"    folds "added" as twice the amount: a changed applier
//	"renamed"   emits and folds "increased", with no applier for "added"
//
// and under another domain name with -ldflags=-X=main.domain=NAME (the
// admin UI's benchmarks load twenty of them).
package main

import (
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

var variant, domain string

type total struct{ N int64 }

func (t *total) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(t.N).EndObject() }
func (t *total) DecodeJSON(v jsonlite.Value) error {
	t.N = v.Get("n").Int()
	return nil
}

type amount int64

func (a amount) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(int64(a)).EndObject() }

func init() {
	if domain == "" {
		domain = "tally"
	}
	d := sdk.NewDomain(domain, sdk.Meta{Revision: 1, Title: "Tally (" + variant + ")"})
	a := sdk.NewAggregate[total](d, "tally")
	event := "added"
	switch variant {
	case "double":
		a.Apply("added", func(t *total, e sdk.Event) error { t.N += 2 * e.Data.Get("n").Int(); return nil })
	case "renamed":
		event = "increased"
		a.Apply("increased", func(t *total, e sdk.Event) error { t.N += e.Data.Get("n").Int(); return nil })
	default:
		a.Apply("added", func(t *total, e sdk.Event) error { t.N += e.Data.Get("n").Int(); return nil })
	}
	add := func(c *sdk.Call, t *total, p jsonlite.Value) error { return c.Emit(amount(p.Get("n").Int())) }
	payload := sdk.Object(sdk.Required("n", sdk.Integer().Min(1).Max(1000)))
	a.Action(sdk.Action[total]{Name: "open", EvtKey: event, New: true, Payload: payload, Handle: add})
	a.Action(sdk.Action[total]{Name: "add", EvtKey: event, Payload: payload, Handle: add})
	sdk.Register(d)
}

func main() {}
