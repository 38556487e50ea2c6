// Command relay is the subscription tests' plugin. Creating an item with
// n emits item-created; its handlers:
//
//	copy  creates a note of the item with the same n; an n below 0 makes
//	      the handler fail (retried, then dead-lettered), an n of 0 makes
//	      it issue a note the schema refuses (dead-lettered at once), an n
//	      of 1000 or more fails until the item's "fixed" flag is set.
//	noop  does nothing: the delivery path's own cost.
//
// and its jobs (for package jobs):
//
//	stamp  writes a note of args.item with args.n; enqueued by the command
//	       stamp-item, and by copy for an n of 77
//	flaky  fails its first two runs, then writes a note "flaky"
//	tick   runs every second (its schedule) and writes a note "tick"
package main

import (
	"errors"

	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

type item struct {
	N     int64
	Fixed bool
}

func (t *item) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("n").Int(t.N).Key("fixed").Bool(t.Fixed).EndObject()
}

func (t *item) DecodeJSON(v jsonlite.Value) error {
	t.N, t.Fixed = v.Get("n").Int(), v.Get("fixed").Bool()
	return nil
}

type note struct {
	Item string
	N    int64
}

func (t *note) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("item").String(t.Item).Key("n").Int(t.N).EndObject()
}

func (t *note) DecodeJSON(v jsonlite.Value) error {
	t.Item, t.N = v.Get("item").Str(), v.Get("n").Int()
	return nil
}

type raw []byte

func (r raw) EncodeJSON(w *jsonlite.Writer) { w.Raw(r) }

func init() {
	d := sdk.NewDomain("relay", sdk.Meta{Revision: 1, Title: "Relay"})
	items := sdk.NewAggregate[item](d, "item")
	items.Apply("item-created", func(t *item, e sdk.Event) error { t.N = e.Data.Get("n").Int(); return nil })
	items.Apply("item-fixed", func(t *item, e sdk.Event) error { t.Fixed = true; return nil })
	items.Action(sdk.Action[item]{Name: "create-item", EvtKey: "item-created", New: true,
		Payload: sdk.Object(sdk.Required("n", sdk.Integer().Min(-1000000).Max(1000000))),
		Handle: func(c *sdk.Call, t *item, p jsonlite.Value) error {
			return c.Emit(raw(`{"n":` + itoa(p.Get("n").Int()) + `}`))
		}})
	items.Action(sdk.Action[item]{Name: "fix-item", EvtKey: "item-fixed",
		Handle: func(c *sdk.Call, t *item, p jsonlite.Value) error { return c.Emit(nil) }})
	items.Apply("stamp-ordered", func(t *item, e sdk.Event) error { return nil })
	items.Action(sdk.Action[item]{Name: "stamp-item", EvtKey: "stamp-ordered",
		Payload: sdk.Object(sdk.Optional("job", sdk.String().Enum("stamp", "flaky"))),
		Handle: func(c *sdk.Call, t *item, p jsonlite.Value) error {
			job := p.Get("job").Str()
			if job == "" {
				job = "stamp"
			}
			if err := c.Enqueue(sdk.Job{Name: job, Args: raw(`{"item":"` + c.AggregateID() + `","n":` + itoa(t.N) + `}`)}); err != nil {
				return err
			}
			return c.Emit(nil)
		}})
	notes := sdk.NewAggregate[note](d, "note")
	notes.Apply("note-written", func(t *note, e sdk.Event) error {
		t.Item, t.N = e.Data.Get("item").Str(), e.Data.Get("n").Int()
		return nil
	})
	notes.Action(sdk.Action[note]{Name: "write-note", EvtKey: "note-written", New: true, Internal: true,
		Payload: sdk.Object(sdk.Required("item", sdk.String().MinLength(1)), sdk.Required("n", sdk.Integer().Min(1))),
		Handle: func(c *sdk.Call, t *note, p jsonlite.Value) error {
			return c.Emit(raw(`{"item":"` + p.Get("item").Str() + `","n":` + itoa(p.Get("n").Int()) + `}`))
		}})
	d.AddHandler(sdk.Handler{Name: "copy", Events: []string{"item-created"}, Handle: func(c *sdk.EventCall, e sdk.Event) error {
		n := e.Data.Get("n").Int()
		if n < 0 {
			return errors.New("the copy failed")
		}
		if n >= 1000 {
			rec, found, err := c.ReadState("item", c.AggregateID())
			if err != nil {
				return err
			}
			v, _ := jsonlite.Parse(rec.Data)
			if !found || !v.Get("fixed").Bool() {
				return errors.New("the item is not fixed yet")
			}
		}
		if n == 77 {
			if err := c.Enqueue(sdk.Job{Name: "stamp", Args: raw(`{"item":"` + c.AggregateID() + `","n":77}`)}); err != nil {
				return err
			}
		}
		return c.Send(sdk.Command{Name: "write-note", Resource: "note",
			Payload: raw(`{"item":"` + c.AggregateID() + `","n":` + itoa(n) + `}`)})
	}})
	note := func(c *sdk.JobCall, item string, n int64) error {
		return c.Send(sdk.Command{Name: "write-note", Resource: "note", Payload: raw(`{"item":"` + item + `","n":` + itoa(n) + `}`)})
	}
	d.AddJob(sdk.JobSpec{Name: "stamp", Run: func(c *sdk.JobCall, args jsonlite.Value) error {
		return note(c, args.Get("item").Str(), args.Get("n").Int())
	}})
	d.AddJob(sdk.JobSpec{Name: "flaky", MaxAttempts: 5, Run: func(c *sdk.JobCall, args jsonlite.Value) error {
		if c.Attempt() < 3 {
			return errors.New("not yet")
		}
		return note(c, "flaky", int64(c.Attempt()))
	}})
	d.AddJob(sdk.JobSpec{Name: "tick", Schedule: "@every 1s", Run: func(c *sdk.JobCall, args jsonlite.Value) error {
		return note(c, "tick", 1)
	}})
	d.AddHandler(sdk.Handler{Name: "noop", Events: []string{"item-created"}, Handle: func(c *sdk.EventCall, e sdk.Event) error { return nil }})
	sdk.Register(d)
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [24]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func main() {}
