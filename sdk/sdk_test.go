package sdk_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

type counter struct{ N int64 }

func (c *counter) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(c.N).EndObject() }
func (c *counter) DecodeJSON(v jsonlite.Value) error {
	if v.Kind() != jsonlite.Object {
		return errors.New("state is not an object")
	}
	c.N = v.Get("n").Int()
	return nil
}

type by struct{ n int64 }

func (b by) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("by").Int(b.n).EndObject() }

func newDomain() *sdk.Domain {
	d := sdk.NewDomain("counting", sdk.Meta{Revision: 2, Title: "Counting", Tags: []string{"t"}})
	a := sdk.NewAggregate[counter](d, "counter", "counter", "tally")
	a.Apply("added", func(c *counter, e sdk.Event) error { c.N += e.Data.Get("by").Int(); return nil })
	a.Action(sdk.Action[counter]{Name: "add", EvtKey: "added", New: true,
		Payload: sdk.Object(sdk.Required("by", sdk.Integer().Min(1)), sdk.Optional("times", sdk.Integer())),
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error {
			times := p.Get("times").Int()
			if times == 0 {
				times = 1
			}
			for i := int64(0); i < times; i++ {
				if err := c.Emit(by{p.Get("by").Int()}); err != nil {
					return err
				}
			}
			c.Respond(by{s.N}) // the state already holds every emitted event
			return nil
		}})
	a.Action(sdk.Action[counter]{Name: "ids", Resources: []string{"tally"},
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error {
			var w jsonlite.Writer
			w.BeginArray().String(c.NewID()).String(c.NewID()).EndArray()
			c.Respond(raw(w.Bytes()))
			return nil
		}})
	a.Action(sdk.Action[counter]{Name: "undeclared", Resources: []string{"tally"},
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return c.EmitEvent("never-registered", nil) }})
	a.Action(sdk.Action[counter]{Name: "broken", Resources: []string{"tally"},
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return errors.New("disk on fire") }})
	a.Action(sdk.Action[counter]{Name: "picky", Resources: []string{"tally"},
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return sdk.Invalid("cannot read that") }})
	return d
}

type raw []byte

func (r raw) EncodeJSON(w *jsonlite.Writer) { w.Raw(r) }

func decide(t *testing.T, d *sdk.Domain, cmd abi.Command) *abi.Result {
	t.Helper()
	if cmd.ID == "" {
		cmd.ID = "c1"
	}
	res, err := d.Decide(&cmd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEmitFoldsAtOnce(t *testing.T) {
	d := newDomain()
	res := decide(t, d, abi.Command{Name: "add", Resource: "counter", Payload: []byte(`{"by":2,"times":3}`)})
	if res.Status != abi.StatusOK || len(res.Events) != 3 || string(res.State) != `{"n":6}` || string(res.Response) != `{"by":6}` {
		t.Fatalf("%+v", res)
	}
	// The same aggregate serves its second resource, from existing state.
	res = decide(t, d, abi.Command{Name: "add", Resource: "tally", Payload: []byte(`{"by":1}`), State: []byte(`{"n":10}`), Version: 0})
	if string(res.State) != `{"n":11}` {
		t.Fatalf("tally %+v", res)
	}
}

func TestNewIDIsDeterministicPerCommand(t *testing.T) {
	d := newDomain()
	cmd := abi.Command{Name: "ids", Resource: "tally", State: []byte(`{}`), Version: 1}
	a, b := decide(t, d, cmd), decide(t, d, cmd)
	cmd.ID = "c2"
	c := decide(t, d, cmd)
	var ids, other []string
	json.Unmarshal(a.Response, &ids)
	json.Unmarshal(c.Response, &other)
	if string(a.Response) != string(b.Response) || len(ids) != 2 || ids[0] == ids[1] || ids[0] == other[0] {
		t.Fatalf("ids %s / %s / %s", a.Response, b.Response, c.Response)
	}
	if len(ids[0]) != 36 || ids[0][14] != '8' {
		t.Fatalf("not a version 8 UUID: %s", ids[0])
	}
}

func TestErrorStatuses(t *testing.T) {
	d := newDomain()
	cases := []struct {
		cmd    abi.Command
		status abi.Status
		code   string
	}{
		{abi.Command{Name: "undeclared", Resource: "tally", Version: 1}, abi.StatusFailed, "handler-failed"},
		{abi.Command{Name: "broken", Resource: "tally", Version: 1}, abi.StatusFailed, "handler-failed"},
		{abi.Command{Name: "picky", Resource: "tally", Version: 1}, abi.StatusInvalid, "invalid-payload"},
		{abi.Command{Name: "ids", Resource: "counter", Version: 1}, abi.StatusUnknownCommand, "unknown-command"},
		{abi.Command{Name: "nope", Resource: "tally", Version: 1}, abi.StatusUnknownCommand, "unknown-command"},
		{abi.Command{Name: "ids", Resource: "tally", Version: 1, State: []byte(`[1]`)}, abi.StatusFailed, "state-unreadable"},
		{abi.Command{Name: "add", Resource: "tally", Payload: []byte(`{"by":`)}, abi.StatusInvalid, "invalid-payload"},
	}
	for _, c := range cases {
		res := decide(t, d, c.cmd)
		if res.Status != c.status || res.Error.Code != c.code || len(res.Events) != 0 {
			t.Errorf("%s on %s: status %v code %q events %d", c.cmd.Name, c.cmd.Resource, res.Status, res.Error.Code, len(res.Events))
		}
	}
	if res, _ := d.Decide(&abi.Command{}); res == nil {
		t.Fatal("no answer to an empty command")
	}
	if out := d.Handle([]byte{0xff}); len(out) == 0 {
		t.Fatal("no answer to a malformed envelope")
	} else {
		var r abi.Result
		r.Decode(out)
		if r.Status != abi.StatusInvalid || !strings.Contains(r.Error.Message, "malformed") {
			t.Fatalf("malformed envelope answered %+v", r)
		}
	}
}

func TestManifest(t *testing.T) {
	var m abi.Manifest
	dec := json.NewDecoder(strings.NewReader(string(newDomain().Manifest())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Domain != "counting" || m.Meta.Revision != 2 || len(m.Aggregates) != 1 || len(m.Aggregates[0].Resources) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	add := m.Command("add")
	if add == nil || !add.New || add.EvtKey != "added" || *add.Payload.Properties["by"].Minimum != 1 ||
		len(add.Payload.Required) != 1 || add.Payload.Required[0] != "by" {
		t.Fatalf("add %+v", add)
	}
	if ids := m.Command("ids"); ids.Payload != nil || ids.Resources[0] != "tally" {
		t.Fatalf("ids %+v", ids)
	}
}

func TestFoldReplays(t *testing.T) {
	d := newDomain()
	res, err := d.Fold(&abi.ApplyRequest{Resource: "counter", State: []byte(`{"n":1}`),
		Events: []abi.Event{{Type: "added", Data: []byte(`{"by":4}`)}, {Type: "added", Data: []byte(`{"by":5}`)}}})
	if err != nil || res.Status != abi.StatusOK || string(res.State) != `{"n":10}` {
		t.Fatalf("%v %+v", err, res)
	}
	res, _ = d.Fold(&abi.ApplyRequest{Resource: "counter", Events: []abi.Event{{Type: "mystery", Data: []byte(`{}`)}}})
	if res.Status != abi.StatusFailed || res.Error.Code != "apply-failed" {
		t.Fatalf("unknown event: %+v", res)
	}
	res, _ = d.Fold(&abi.ApplyRequest{Resource: "nope"})
	if res.Status != abi.StatusUnknownCommand {
		t.Fatalf("unknown resource: %+v", res)
	}
}
