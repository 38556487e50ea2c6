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
	sdk.Register(domain)
}

func main() {}
