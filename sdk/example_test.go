package sdk_test

import (
	"fmt"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

type greeting struct{ Text string }

func (g *greeting) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("text").String(g.Text).EndObject()
}
func (g *greeting) DecodeJSON(v jsonlite.Value) error {
	g.Text = v.Get("text").Str()
	return nil
}

type said string

func (s said) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("text").String(string(s)).EndObject()
}

// A domain with one action, decided natively as a unit test would.
func ExampleDomain_Decide() {
	d := sdk.NewDomain("hello", sdk.Meta{Revision: 1})
	greetings := sdk.NewAggregate[greeting](d, "greeting")
	greetings.Action(sdk.Action[greeting]{
		Name: "say", EvtKey: "said", New: true,
		Payload: sdk.Object(sdk.Required("text", sdk.String())),
		Handle: func(c *sdk.Call, _ *greeting, p jsonlite.Value) error {
			if p.Get("text").Str() == "" {
				return sdk.Fail("nothing-said", "say something")
			}
			return c.Emit(said(p.Get("text").Str()))
		},
	})
	greetings.Apply("said", func(g *greeting, e sdk.Event) error {
		g.Text = e.Data.Get("text").Str()
		return nil
	})

	res, _ := d.Decide(&abi.Command{ID: "c1", Name: "say", Resource: "greeting", Payload: []byte(`{"text":"hi"}`)})
	fmt.Println(res.Events[0].Type, string(res.State))
	res, _ = d.Decide(&abi.Command{ID: "c2", Name: "say", Resource: "greeting", Payload: []byte(`{"text":""}`)})
	fmt.Println(res.Status, res.Error.Code)
	// Output:
	// said {"text":"hi"}
	// domain-error nothing-said
}
