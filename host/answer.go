package host

import (
	"time"

	"fluvius.dev/fluvius/sdk/jsonlite"
)

// appendJSON renders a command's answer with jsonlite's Writer: every part
// is either a string or JSON the host has already checked (checkResult),
// which encoding/json would validate and compact a second time, allocating
// on the way.
func (b *commandBody) appendJSON(dst []byte) []byte {
	var w jsonlite.Writer
	w.ResetTo(dst)
	w.BeginObject().Key("id").String(b.ID).Key("resource").String(b.Resource).Key("data").Raw(b.Data)
	w.Key("events").BeginArray()
	for i := range b.Events {
		ev := &b.Events[i]
		w.BeginObject().Key("id").String(ev.ID).Key("type").String(ev.Type).Key("version").Int(ev.Version)
		if ev.Position != 0 {
			w.Key("position").Int(ev.Position)
		}
		w.Key("data").Raw(ev.Data)
		if len(ev.Metadata) > 0 {
			w.Key("metadata").Raw(ev.Metadata)
		}
		var at [48]byte // a formatted time needs no escaping: no string to allocate
		q := append(ev.CreatedAt.AppendFormat(append(at[:0], '"'), time.RFC3339Nano), '"')
		w.Key("created_at").Raw(q).EndObject()
	}
	w.EndArray().Key("version").Int(b.Version).Key("etag").String(b.ETag).EndObject()
	return w.Bytes()
}
