package sdk_test

import (
	"encoding/json"
	"errors"
	"strconv"
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

// The manifest requires the features a domain uses, and none when it uses
// none, so that older hosts still load plain plugins.
func TestManifestRequires(t *testing.T) {
	decode := func(d *sdk.Domain) abi.Manifest {
		var m abi.Manifest
		if err := json.Unmarshal(d.Manifest(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := decode(newDomain()); m.Requires != nil {
		t.Fatalf("a plain domain requires %v", m.Requires)
	}
	d := sdk.NewDomain("vault", sdk.Meta{Revision: 1})
	a := sdk.NewAggregate[counter](d, "box").Role("owner", "owner").ReadPolicy("vault.box")
	a.Apply("added", func(c *counter, e sdk.Event) error { return nil })
	a.Action(sdk.Action[counter]{Name: "open", EvtKey: "added", New: true, AuthRequired: true,
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return nil }})
	m := decode(d)
	want := map[string]int{abi.FeatureAggregateRoles: 1, abi.FeatureAuthRequired: 1, abi.FeaturePolicies: 1}
	if len(m.Requires) != len(want) {
		t.Fatalf("requires %v, want %v", m.Requires, want)
	}
	for k, v := range want {
		if m.Requires[k] != v {
			t.Fatalf("requires %v, want %v", m.Requires, want)
		}
	}
	if m.Aggregates[0].Roles["owner"] != "owner" || !m.Commands[0].AuthRequired {
		t.Fatalf("manifest %+v", m)
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

// echo emits events whose data handlers build in ways the writer cannot
// vouch for, and reports what the Call knows of the command.
func echoDomain() *sdk.Domain {
	d := sdk.NewDomain("echo", sdk.Meta{Revision: 1})
	a := sdk.NewAggregate[counter](d, "echo")
	a.Apply("said", func(c *counter, e sdk.Event) error { c.N += e.Data.Get("n").Int(); return nil })
	emit := func(name string, data jsonlite.Encoder) sdk.Action[counter] {
		return sdk.Action[counter]{Name: name, EvtKey: "said", New: true,
			Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return c.Emit(data) }}
	}
	a.Action(emit("raw", raw(`{"n": 2}`)))
	a.Action(emit("bad-raw", raw(`{"n":`)))
	a.Action(emit("no-key", encoderFunc(func(w *jsonlite.Writer) { w.BeginObject().Int(1).EndObject() })))
	a.Action(emit("unclosed", encoderFunc(func(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(1) })))
	a.Action(sdk.Action[counter]{Name: "several", EvtKey: "said", New: true,
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error {
			for i := int64(1); i <= 3; i++ {
				if err := c.Emit(by{i * 100}); err != nil { // {"by":...}: adds nothing
					return err
				}
				if err := c.Emit(encoderFunc(func(w *jsonlite.Writer) {
					w.BeginObject().Key("n").Int(i).Key("pad").String(strings.Repeat("x", int(i)*50)).EndObject()
				})); err != nil {
					return err
				}
			}
			return nil
		}})
	a.Action(sdk.Action[counter]{Name: "who", Resources: []string{"echo"},
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error {
			caller := c.Caller()
			c.Respond(encoderFunc(func(w *jsonlite.Writer) {
				w.BeginObject().Key("id").String(c.CommandID()).Key("command").String(c.Command()).
					Key("resource").String(c.Resource()).Key("aggregate").String(c.AggregateID()).
					Key("user").String(caller.UserID).Key("tenant").String(caller.Tenant).Key("roles").Strings(caller.Roles).
					Key("version").Int(c.Version()).Key("now").Int(c.Now().UnixNano()).EndObject()
			}))
			return nil
		}})
	return d
}

type encoderFunc func(w *jsonlite.Writer)

func (f encoderFunc) EncodeJSON(w *jsonlite.Writer) { f(w) }

func TestEmitChecksWhatTheWriterCannotVouchFor(t *testing.T) {
	d := echoDomain()
	res := decide(t, d, abi.Command{Name: "raw", Resource: "echo"})
	if res.Status != abi.StatusOK || string(res.Events[0].Data) != `{"n": 2}` || string(res.State) != `{"n":2}` {
		t.Fatalf("raw: %+v", res)
	}
	for _, name := range []string{"bad-raw", "no-key", "unclosed"} {
		res := decide(t, d, abi.Command{Name: name, Resource: "echo"})
		if res.Status != abi.StatusFailed || res.Error.Code != "handler-failed" || len(res.Events) != 0 {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestEventsKeepTheirOwnData(t *testing.T) {
	d := echoDomain()
	for round := 0; round < 2; round++ { // the second round reuses the first's buffers
		res := decide(t, d, abi.Command{Name: "several", Resource: "echo"})
		if res.Status != abi.StatusOK || len(res.Events) != 6 || string(res.State) != `{"n":6}` {
			t.Fatalf("%+v", res)
		}
		for i, ev := range res.Events {
			var want string
			if n := i/2 + 1; i%2 == 0 {
				want = `{"by":` + strconv.Itoa(n*100) + `}`
			} else {
				want = `{"n":` + strconv.Itoa(n) + `,"pad":"` + strings.Repeat("x", n*50) + `"}`
			}
			if string(ev.Data) != want {
				t.Fatalf("event %d: %s, want %s", i, ev.Data, want)
			}
		}
	}
}

func TestCallReadsTheCommand(t *testing.T) {
	d := echoDomain()
	res := decide(t, d, abi.Command{ID: "cmd-9", Name: "who", Resource: "echo", AggregateID: "e-1", Version: 3, Time: 42,
		Caller: abi.Caller{UserID: "ann", Tenant: "acme", Roles: []string{"admin", "ops"}}, State: []byte(`{"n":1}`)})
	want := `{"id":"cmd-9","command":"who","resource":"echo","aggregate":"e-1","user":"ann","tenant":"acme","roles":["admin","ops"],"version":3,"now":42}`
	if res.Status != abi.StatusOK || string(res.Response) != want {
		t.Fatalf("%+v\n%s", res, res.Response)
	}
}

func TestStateWithoutEvents(t *testing.T) {
	d := newDomain()
	// Nothing emitted: the state comes back as the host sent it.
	state := " {\"n\" : 10}\n"
	res := decide(t, d, abi.Command{Name: "ids", Resource: "tally", State: []byte(state), Version: 4})
	if res.Status != abi.StatusOK || len(res.Events) != 0 || string(res.State) != state {
		t.Fatalf("%+v", res)
	}
	// A new aggregate that nothing happened to has the zero state, which the
	// host needs as valid JSON.
	d2 := sdk.NewDomain("quiet", sdk.Meta{Revision: 1})
	sdk.NewAggregate[counter](d2, "quiet").Action(sdk.Action[counter]{Name: "nothing", New: true,
		Handle: func(c *sdk.Call, s *counter, p jsonlite.Value) error { return nil }})
	res = decide(t, d2, abi.Command{Name: "nothing", Resource: "quiet"})
	if res.Status != abi.StatusOK || string(res.State) != `{"n":0}` {
		t.Fatalf("%+v", res)
	}
}
