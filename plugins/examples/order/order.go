package main

import (
	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Domain is the order domain.
var Domain = sdk.NewDomain("order", sdk.Meta{
	Revision:    1,
	Title:       "Orders",
	Description: "Orders from placement to shipping or cancellation.",
	Tags:        []string{"sales", "example"},
})

// Item is one line of an order. Money is in cents: no floating point.
type Item struct {
	SKU        string
	Quantity   int64
	PriceCents int64
}

// Order is the state of one order.
type Order struct {
	Customer     string
	Items        []Item
	TotalCents   int64
	Status       string // placed, cancelled, shipped
	PlacedAt     int64
	Carrier      string
	Tracking     string
	CancelReason string
	Documents    []Document
}

// Document is an uploaded file attached to an order (an invoice, a
// delivery note): the host keeps the file, the order its id.
type Document struct {
	MediaID, Name string
	Size          int64
}

const (
	statusPlaced    = "placed"
	statusCancelled = "cancelled"
	statusShipped   = "shipped"
)

func writeItems(w *jsonlite.Writer, items []Item) {
	w.BeginArray()
	for _, it := range items {
		w.BeginObject().Key("sku").String(it.SKU).Key("quantity").Int(it.Quantity).
			Key("price_cents").Int(it.PriceCents).EndObject()
	}
	w.EndArray()
}

func readItems(v jsonlite.Value) []Item {
	var items []Item
	v.Array(func(_ int, e jsonlite.Value) bool {
		items = append(items, Item{SKU: e.Get("sku").Str(), Quantity: e.Get("quantity").Int(), PriceCents: e.Get("price_cents").Int()})
		return true
	})
	return items
}

// EncodeJSON writes the order.
func (o *Order) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("customer").String(o.Customer).Key("items")
	writeItems(w, o.Items)
	w.Key("total_cents").Int(o.TotalCents).Key("status").String(o.Status).Key("placed_at").Int(o.PlacedAt)
	if o.Carrier != "" {
		w.Key("carrier").String(o.Carrier).Key("tracking").String(o.Tracking)
	}
	if o.CancelReason != "" {
		w.Key("cancel_reason").String(o.CancelReason)
	}
	if len(o.Documents) > 0 {
		w.Key("documents").BeginArray()
		for _, d := range o.Documents {
			w.BeginObject().Key("media_id").String(d.MediaID).Key("name").String(d.Name).Key("size").Int(d.Size).EndObject()
		}
		w.EndArray()
	}
	w.EndObject()
}

// DecodeJSON reads the order.
func (o *Order) DecodeJSON(v jsonlite.Value) error {
	o.Customer = v.Get("customer").Str()
	o.Items = readItems(v.Get("items"))
	o.TotalCents = v.Get("total_cents").Int()
	o.Status = v.Get("status").Str()
	o.PlacedAt = v.Get("placed_at").Int()
	o.Carrier = v.Get("carrier").Str()
	o.Tracking = v.Get("tracking").Str()
	o.CancelReason = v.Get("cancel_reason").Str()
	o.Documents = o.Documents[:0]
	v.Get("documents").Array(func(_ int, d jsonlite.Value) bool {
		o.Documents = append(o.Documents, Document{MediaID: d.Get("media_id").Str(), Name: d.Get("name").Str(), Size: d.Get("size").Int()})
		return true
	})
	return nil
}

type placed struct {
	customer string
	items    []Item
	total    int64
}

func (p placed) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("customer").String(p.customer).Key("items")
	writeItems(w, p.items)
	w.Key("total_cents").Int(p.total).EndObject()
}

type document struct {
	id, name string
	size     int64
}

func (d document) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("media_id").String(d.id).Key("name").String(d.name).Key("size").Int(d.size).EndObject()
}

type fields map[string]string

func (f fields) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject()
	for _, k := range []string{"carrier", "tracking", "reason"} {
		if v, ok := f[k]; ok {
			w.Key(k).String(v)
		}
	}
	w.EndObject()
}

func init() {
	orders := sdk.NewAggregate[Order](Domain, "order").StateSchema(sdk.Object(
		sdk.Required("customer", sdk.String()),
		sdk.Required("items", sdk.Array(sdk.Object(
			sdk.Required("sku", sdk.String()), sdk.Required("quantity", sdk.Integer()), sdk.Required("price_cents", sdk.Integer())))),
		sdk.Required("total_cents", sdk.Integer()),
		sdk.Required("status", sdk.String()),
		sdk.Required("placed_at", sdk.Integer()),
		sdk.Optional("carrier", sdk.String()),
		sdk.Optional("tracking", sdk.String()),
		sdk.Optional("cancel_reason", sdk.String()),
		sdk.Optional("documents", sdk.Array(sdk.Object(
			sdk.Required("media_id", sdk.String()), sdk.Required("name", sdk.String()), sdk.Required("size", sdk.Integer())))),
	)).Query(sdk.QueryResource{
		Fields: []string{"customer", "total_cents", "status", "placed_at", "carrier"},
		Sort:   []string{"placed_at.desc"},
		Text:   []string{"customer"},
	})
	orders.Action(sdk.Action[Order]{
		Name: "place-order", Title: "Place an order", EvtKey: "order-placed", New: true,
		Payload: sdk.Object(
			sdk.Required("customer", sdk.String().MinLength(1).MaxLength(200)),
			sdk.Required("items", sdk.Array(sdk.Object(
				sdk.Required("sku", sdk.String().MinLength(1).MaxLength(64)),
				sdk.Required("quantity", sdk.Integer().Min(1).Max(10000)),
				sdk.Required("price_cents", sdk.Integer().Min(0).Max(100_000_000)),
			)).MinItems(1).MaxItems(100)),
		),
		Handle: placeOrder,
	})
	orders.Action(sdk.Action[Order]{
		Name: "cancel-order", Title: "Cancel an order", EvtKey: "order-cancelled",
		Payload: sdk.Object(sdk.Optional("reason", sdk.String().MaxLength(500))),
		Handle: func(c *sdk.Call, o *Order, p jsonlite.Value) error {
			if err := stillOpen(o); err != nil {
				return err
			}
			return c.Emit(fields{"reason": p.Get("reason").Str()})
		},
	})
	orders.Action(sdk.Action[Order]{
		Name: "ship-order", Title: "Ship an order", EvtKey: "order-shipped",
		Payload: sdk.Object(
			sdk.Required("carrier", sdk.String().MinLength(1).MaxLength(100)),
			sdk.Required("tracking", sdk.String().MinLength(1).MaxLength(100)),
		),
		Handle: func(c *sdk.Call, o *Order, p jsonlite.Value) error {
			if err := stillOpen(o); err != nil {
				return err
			}
			return c.Emit(fields{"carrier": p.Get("carrier").Str(), "tracking": p.Get("tracking").Str()})
		},
	})
	orders.Apply("order-placed", func(o *Order, e sdk.Event) error {
		o.Customer = e.Data.Get("customer").Str()
		o.Items = readItems(e.Data.Get("items"))
		o.TotalCents = e.Data.Get("total_cents").Int()
		o.Status, o.PlacedAt = statusPlaced, e.Time
		return nil
	})
	orders.Apply("order-cancelled", func(o *Order, e sdk.Event) error {
		o.Status, o.CancelReason = statusCancelled, e.Data.Get("reason").Str()
		return nil
	})
	orders.Action(sdk.Action[Order]{
		Name: "attach-document", Title: "Attach a document", EvtKey: "document-attached",
		Description: "Attaches an uploaded PDF (POST /_media) to the order; it is then read under the order's rules.",
		Payload:     sdk.Object(sdk.Required("media_id", sdk.String().MinLength(1).MaxLength(100))),
		Handle: func(c *sdk.Call, o *Order, p jsonlite.Value) error {
			id := p.Get("media_id").Str()
			for _, d := range o.Documents {
				if d.MediaID == id {
					return nil // attached already
				}
			}
			if len(o.Documents) >= 20 {
				return sdk.Fail("too-many-documents", "an order keeps at most 20 documents")
			}
			info, found, err := c.Media(id)
			if err != nil {
				return err
			}
			if !found {
				return sdk.Fail("media-not-found", "there is no uploaded file "+id)
			}
			if info.ContentType != "application/pdf" {
				return sdk.Fail("document-not-pdf", "documents are PDF files; "+info.Name+" is "+info.ContentType)
			}
			if err := c.Attach(id); err != nil {
				return err
			}
			return c.Emit(document{id: id, name: info.Name, size: info.Size})
		},
	})
	orders.Apply("document-attached", func(o *Order, e sdk.Event) error {
		o.Documents = append(o.Documents, Document{MediaID: e.Data.Get("media_id").Str(), Name: e.Data.Get("name").Str(),
			Size: e.Data.Get("size").Int()})
		return nil
	})
	orders.Apply("order-shipped", func(o *Order, e sdk.Event) error {
		o.Status, o.Carrier, o.Tracking = statusShipped, e.Data.Get("carrier").Str(), e.Data.Get("tracking").Str()
		return nil
	})
}

func placeOrder(c *sdk.Call, _ *Order, p jsonlite.Value) error {
	items := readItems(p.Get("items"))
	seen := map[string]bool{}
	var total int64
	for _, it := range items {
		if seen[it.SKU] {
			return sdk.Fail("duplicate-sku", "SKU "+it.SKU+" appears twice; give one line per SKU")
		}
		seen[it.SKU] = true
		total += it.Quantity * it.PriceCents
	}
	return c.Emit(placed{customer: p.Get("customer").Str(), items: items, total: total})
}

// stillOpen refuses to change an order that was shipped or cancelled.
func stillOpen(o *Order) error {
	switch o.Status {
	case statusCancelled:
		return sdk.Fail("order-cancelled", "the order was cancelled")
	case statusShipped:
		return sdk.Fail("order-shipped", "the order was shipped")
	}
	return nil
}
