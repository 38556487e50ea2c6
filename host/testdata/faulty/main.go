// Command faulty is a plugin that misbehaves on request, for the host's
// sandbox tests: it panics, spins, hoards memory, and reads state through
// the host.
package main

import (
	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

var domain = sdk.NewDomain("faulty", sdk.Meta{Revision: 1, Title: "Misbehaving plugin"})

type thing struct{ N int64 }

func (t *thing) EncodeJSON(w *jsonlite.Writer) { w.BeginObject().Key("n").Int(t.N).EndObject() }
func (t *thing) DecodeJSON(v jsonlite.Value) error {
	t.N = v.Get("n").Int()
	return nil
}

type raw []byte

func (r raw) EncodeJSON(w *jsonlite.Writer) { w.Raw(r) }

var hoard [][]byte

func init() {
	a := sdk.NewAggregate[thing](domain, "thing")
	a.Apply("touched", func(t *thing, e sdk.Event) error { t.N++; return nil })
	act := func(name string, fn func(c *sdk.Call, t *thing, p jsonlite.Value) error) {
		a.Action(sdk.Action[thing]{Name: name, EvtKey: "touched", New: name == "create",
			Payload: sdk.Object().AllowExtra(), Handle: fn})
	}
	act("create", func(c *sdk.Call, t *thing, p jsonlite.Value) error { return c.Emit(nil) })
	act("touch", func(c *sdk.Call, t *thing, p jsonlite.Value) error { return c.Emit(nil) })
	act("panic", func(c *sdk.Call, t *thing, p jsonlite.Value) error { panic("deliberate panic") })
	act("spin", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		for n := 0; ; n++ {
			if n < 0 {
				return nil
			}
		}
	})
	act("hoard", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		for {
			b := make([]byte, 1<<20)
			b[0] = 1
			hoard = append(hoard, b)
		}
	})
	act("fail", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		return sdk.Fail("nope", "refused on purpose").WithDetails(raw(`{"why":"testing"}`))
	})
	act("read", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		rec, found, err := c.ReadState("thing", p.Get("id").Str())
		if err != nil {
			return err
		}
		c.Log(abi.LogInfo, "read state of "+p.Get("id").Str())
		if !found {
			c.Respond(raw(`{"found":false}`))
			return nil
		}
		var w jsonlite.Writer
		w.BeginObject().Key("found").Bool(true).Key("version").Int(rec.Version).Key("data").Raw(rec.Data).EndObject()
		c.Respond(raw(w.Bytes()))
		return nil
	})
	act("flood", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		pad := raw(`{"pad":"` + p.Get("pad").Str() + `"}`)
		for i := int64(0); i < p.Get("events").Int(); i++ {
			if err := c.Emit(pad); err != nil {
				return err
			}
		}
		return nil
	})
	act("busy", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		sum := int64(0)
		for i := int64(0); i < p.Get("loops").Int(); i++ {
			sum += i ^ sum
		}
		if sum == -1 {
			return sdk.Fail("never", "never")
		}
		return c.Emit(nil)
	})
	act("chatter", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		line := p.Get("line").Str()
		for i := int64(0); i < p.Get("lines").Int(); i++ {
			c.Log(abi.LogInfo, line)
		}
		c.Respond(raw(`{"said":true}`))
		return nil
	})
	act("can", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		ok, err := c.Can(p.Get("action").Str(), p.Get("object").Str())
		if err != nil {
			return err
		}
		if ok {
			c.Respond(raw(`{"allowed":true}`))
		} else {
			c.Respond(raw(`{"allowed":false}`))
		}
		return nil
	})
	// find queries the lockers of the caller's tenant with the filter given.
	act("find", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		res, err := c.Query("locker", sdk.QueryRequest{Filter: p.Get("filter").Str(), Limit: int(p.Get("limit").Int())})
		if err != nil {
			return sdk.Fail("query-refused", err.Error())
		}
		var w jsonlite.Writer
		w.BeginObject().Key("total").Int(res.Total).Key("ids").BeginArray()
		for _, r := range res.Records {
			w.String(r.ID)
		}
		w.EndArray().EndObject()
		c.Respond(raw(append([]byte(nil), w.Bytes()...)))
		return nil
	})
	act("noop", func(c *sdk.Call, t *thing, p jsonlite.Value) error {
		c.Respond(raw(`{"nothing":"happened"}`))
		return nil
	})
	// A vault: opening one needs the permission faulty:open-vault, reading
	// one faulty.vault; touching things needs nothing.
	vault := sdk.NewAggregate[thing](domain, "vault").ReadPolicy("faulty.vault")
	vault.Apply("vault-opened", func(t *thing, e sdk.Event) error { t.N++; return nil })
	vault.Action(sdk.Action[thing]{Name: "open-vault", EvtKey: "vault-opened", New: true, Policy: "faulty:open-vault",
		Payload: sdk.Object(), Handle: func(c *sdk.Call, t *thing, p jsonlite.Value) error { return c.Emit(nil) }})

	// A locker: roles on one aggregate. Its owner (the user who opened it)
	// and its members are named in its state; using one needs
	// faulty:use-locker and reading one faulty.locker, which policies may
	// grant to "aggregate:owner" or "aggregate:member". Peeking needs an
	// authenticated caller and no grant.
	locker := sdk.NewAggregate[box](domain, "locker").ReadPolicy("faulty.locker").
		Role("owner", "owner").Role("member", "members").
		StateSchema(sdk.Object(sdk.Optional("owner", sdk.String()), sdk.Optional("members", sdk.Array(sdk.String())),
			sdk.Optional("n", sdk.Integer()))).
		Query(sdk.QueryResource{Fields: []string{"owner", "members", "n"}, Sort: []string{"owner.asc"}})
	locker.Apply("locker-opened", func(b *box, e sdk.Event) error {
		b.Owner, b.Members = e.Data.Get("owner").Str(), nil
		e.Data.Get("members").Array(func(_ int, m jsonlite.Value) bool { b.Members = append(b.Members, m.Str()); return true })
		return nil
	})
	locker.Apply("locker-used", func(b *box, e sdk.Event) error { b.N++; return nil })
	locker.Action(sdk.Action[box]{Name: "open-locker", EvtKey: "locker-opened", New: true,
		Payload: sdk.Object(sdk.Optional("members", sdk.Array(sdk.String().MaxLength(100)).MaxItems(10))),
		Handle: func(c *sdk.Call, b *box, p jsonlite.Value) error {
			opened := box{Owner: c.Caller().UserID}
			p.Get("members").Array(func(_ int, m jsonlite.Value) bool { opened.Members = append(opened.Members, m.Str()); return true })
			return c.Emit(&opened)
		}})
	locker.Action(sdk.Action[box]{Name: "use-locker", EvtKey: "locker-used", Policy: "faulty:use-locker",
		Payload: sdk.Object(), Handle: func(c *sdk.Call, b *box, p jsonlite.Value) error { return c.Emit(nil) }})
	locker.Apply("locker-handed-over", func(b *box, e sdk.Event) error { b.Owner = e.Data.Get("to").Str(); return nil })
	locker.Action(sdk.Action[box]{Name: "hand-over-locker", EvtKey: "locker-handed-over", Policy: "faulty:use-locker",
		Payload: sdk.Object(sdk.Required("to", sdk.String().MinLength(1).MaxLength(100))),
		Handle:  func(c *sdk.Call, b *box, p jsonlite.Value) error { return c.Emit(raw(p.Raw())) }})
	locker.Action(sdk.Action[box]{Name: "peek-locker", EvtKey: "locker-used", AuthRequired: true,
		Payload: sdk.Object(), Handle: func(c *sdk.Call, b *box, p jsonlite.Value) error {
			ok, err := c.Can("inspect", "faulty:locker-contents")
			if err != nil {
				return err
			}
			if ok {
				c.Respond(raw(`{"contents":"visible"}`))
			} else {
				c.Respond(raw(`{"contents":"hidden"}`))
			}
			return nil
		}})
	sdk.Register(domain)
}

// box is a locker's state.
type box struct {
	Owner   string
	Members []string
	N       int64
}

func (b *box) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("owner").String(b.Owner).Key("members").Strings(b.Members).Key("n").Int(b.N).EndObject()
}

func (b *box) DecodeJSON(v jsonlite.Value) error {
	b.Owner, b.Members, b.N = v.Get("owner").Str(), b.Members[:0], v.Get("n").Int()
	v.Get("members").Array(func(_ int, m jsonlite.Value) bool { b.Members = append(b.Members, m.Str()); return true })
	return nil
}

func main() {}
