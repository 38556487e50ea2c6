package sdk_test

import (
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// profile is a state of six fields, like most read models.
type profile struct {
	Email, Name, Status string
	CreatedAt, Logins   int64
	Note                string
}

func (p *profile) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("email").String(p.Email).Key("name").String(p.Name).Key("status").String(p.Status).
		Key("created_at").Int(p.CreatedAt).Key("logins").Int(p.Logins)
	if p.Note != "" {
		w.Key("note").String(p.Note)
	}
	w.EndObject()
}

func (p *profile) DecodeJSON(v jsonlite.Value) error {
	p.Email, p.Name, p.Status = v.Get("email").Str(), v.Get("name").Str(), v.Get("status").Str()
	p.CreatedAt, p.Logins, p.Note = v.Get("created_at").Int(), v.Get("logins").Int(), v.Get("note").Str()
	return nil
}

type loggedIn struct{ from string }

func (e loggedIn) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("from").String(e.from).EndObject()
}

type registered struct{ email, name string }

func (e registered) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("email").String(e.email).Key("name").String(e.name).EndObject()
}

func profileDomain() *sdk.Domain {
	d := sdk.NewDomain("profiles", sdk.Meta{Revision: 1})
	a := sdk.NewAggregate[profile](d, "profile")
	a.Action(sdk.Action[profile]{Name: "register", EvtKey: "registered", New: true,
		Handle: func(c *sdk.Call, _ *profile, p jsonlite.Value) error {
			return c.Emit(registered{p.Get("email").Str(), p.Get("name").Str()})
		}})
	a.Action(sdk.Action[profile]{Name: "log-in", EvtKey: "logged-in",
		Handle: func(c *sdk.Call, s *profile, p jsonlite.Value) error {
			if s.Status != "active" {
				return sdk.Fail("inactive", "not active")
			}
			return c.Emit(loggedIn{p.Get("from").Str()})
		}})
	a.Action(sdk.Action[profile]{Name: "check", // decides nothing: no events
		Handle: func(c *sdk.Call, s *profile, p jsonlite.Value) error { return nil }})
	a.Apply("registered", func(s *profile, e sdk.Event) error {
		s.Email, s.Name, s.Status, s.CreatedAt = e.Data.Get("email").Str(), e.Data.Get("name").Str(), "active", e.Time
		return nil
	})
	a.Apply("logged-in", func(s *profile, e sdk.Event) error {
		s.Logins++
		s.Note = "last from " + e.Data.Get("from").Str()
		return nil
	})
	return d
}

// BenchmarkHandle decides commands natively, envelope in and out: one that
// creates an aggregate, one that reads its state and emits an event, and
// one that emits nothing.
func BenchmarkHandle(b *testing.B) {
	d := profileDomain()
	state := []byte(`{"email":"ann@example.com","name":"Ann","status":"active","created_at":1700000000000000000,"logins":41,"note":"last from 10.0.0.1"}`)
	for _, bc := range []struct {
		name string
		cmd  abi.Command
	}{
		{"new", abi.Command{Name: "register", Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`)}},
		{"state", abi.Command{Name: "log-in", Payload: []byte(`{"from":"10.0.0.2"}`), State: state, Version: 42}},
		{"no-events", abi.Command{Name: "check", Payload: []byte(`{}`), State: state, Version: 42}},
	} {
		bc.cmd.ID, bc.cmd.Domain, bc.cmd.Resource, bc.cmd.AggregateID, bc.cmd.Time = "cmd-1", "profiles", "profile", "p-1", 1
		var e abi.Encoder
		bc.cmd.Encode(&e)
		in := e.Bytes()
		var res abi.Result
		if err := res.Decode(append([]byte(nil), d.Handle(in)...)); err != nil || res.Status != abi.StatusOK {
			b.Fatalf("%s: %v %+v", bc.name, err, res)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if out := d.Handle(in); len(out) == 0 {
					b.Fatal("no result")
				}
			}
		})
	}
}

// BenchmarkApply replays ten events natively.
func BenchmarkApply(b *testing.B) {
	d := profileDomain()
	req := abi.ApplyRequest{Resource: "profile", AggregateID: "p-1",
		Events: []abi.Event{{Type: "registered", Data: []byte(`{"email":"ann@example.com","name":"Ann"}`), Version: 1, Time: 1}}}
	for i := 2; i <= 10; i++ {
		req.Events = append(req.Events, abi.Event{Type: "logged-in", Data: []byte(`{"from":"10.0.0.2"}`), Version: int64(i), Time: 1})
	}
	var e abi.Encoder
	req.Encode(&e)
	in := e.Bytes()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if out := d.Apply(in); len(out) == 0 {
			b.Fatal("no result")
		}
	}
}
