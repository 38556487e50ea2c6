package main

import (
	"strings"
	"time"

	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Domain is the inventory domain.
var Domain = sdk.NewDomain("inventory", sdk.Meta{
	Revision:    1,
	Title:       "Inventory",
	Description: "Stock reserved for orders, and released when they are cancelled.",
	Tags:        []string{"sales", "example"},
})

// Line is a quantity of one SKU.
type Line struct {
	SKU      string
	Quantity int64
}

// Reservation is the stock held for one order.
type Reservation struct {
	OrderID   string
	Lines     []Line
	Status    string // held, released
	Reason    string
	Reminders int64 // times the stock was found still held a day on
}

func writeLines(w *jsonlite.Writer, lines []Line) {
	w.BeginArray()
	for _, l := range lines {
		w.BeginObject().Key("sku").String(l.SKU).Key("quantity").Int(l.Quantity).EndObject()
	}
	w.EndArray()
}

func readLines(v jsonlite.Value) []Line {
	var lines []Line
	v.Array(func(_ int, e jsonlite.Value) bool {
		lines = append(lines, Line{SKU: e.Get("sku").Str(), Quantity: e.Get("quantity").Int()})
		return true
	})
	return lines
}

// EncodeJSON writes the reservation.
func (r *Reservation) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("order_id").String(r.OrderID).Key("lines")
	writeLines(w, r.Lines)
	w.Key("status").String(r.Status)
	if r.Reason != "" {
		w.Key("reason").String(r.Reason)
	}
	w.Key("reminders").Int(r.Reminders)
	w.EndObject()
}

// DecodeJSON reads the reservation.
func (r *Reservation) DecodeJSON(v jsonlite.Value) error {
	r.OrderID = v.Get("order_id").Str()
	r.Lines = readLines(v.Get("lines"))
	r.Status = v.Get("status").Str()
	r.Reason = v.Get("reason").Str()
	r.Reminders = v.Get("reminders").Int()
	return nil
}

type reserved struct {
	order string
	lines []Line
}

func (r reserved) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("order_id").String(r.order).Key("lines")
	writeLines(w, r.lines)
	w.EndObject()
}

type orderRef string

func (o orderRef) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("order_id").String(string(o)).EndObject()
}

type reason string

func (r reason) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("reason").String(string(r)).EndObject()
}

const (
	statusHeld     = "held"
	statusReleased = "released"
)

func init() {
	res := sdk.NewAggregate[Reservation](Domain, "reservation").StateSchema(sdk.Object(
		sdk.Required("order_id", sdk.String()),
		sdk.Required("lines", sdk.Array(sdk.Object(sdk.Required("sku", sdk.String()), sdk.Required("quantity", sdk.Integer())))),
		sdk.Required("status", sdk.String()),
		sdk.Optional("reason", sdk.String()),
		sdk.Optional("reminders", sdk.Integer()),
	)).Query(sdk.QueryResource{Fields: []string{"order_id", "status"}})
	res.Action(sdk.Action[Reservation]{
		Name: "reserve-stock", Title: "Reserve stock for an order", EvtKey: "stock-reserved", New: true,
		Payload: sdk.Object(
			sdk.Required("order_id", sdk.String().MinLength(1).MaxLength(100)),
			sdk.Required("lines", sdk.Array(sdk.Object(
				sdk.Required("sku", sdk.String().MinLength(1).MaxLength(64)),
				sdk.Required("quantity", sdk.Integer().Min(1).Max(10000)),
			)).MinItems(1).MaxItems(100)),
		),
		Handle: func(c *sdk.Call, r *Reservation, p jsonlite.Value) error {
			lines := readLines(p.Get("lines"))
			for _, l := range lines {
				if strings.HasPrefix(l.SKU, "discontinued-") {
					return sdk.Fail("sku-discontinued", "SKU "+l.SKU+" is no longer stocked")
				}
			}
			return c.Emit(reserved{order: p.Get("order_id").Str(), lines: lines})
		},
	})
	res.Action(sdk.Action[Reservation]{
		Name: "release-stock", Title: "Release a reservation", EvtKey: "stock-released",
		Payload: sdk.Object(sdk.Optional("reason", sdk.String().MaxLength(500))),
		Handle: func(c *sdk.Call, r *Reservation, p jsonlite.Value) error {
			if r.Status == statusReleased {
				return nil // released already: nothing happens
			}
			return c.Emit(reason(p.Get("reason").Str()))
		},
	})
	res.Apply("stock-reserved", func(r *Reservation, e sdk.Event) error {
		r.OrderID, r.Lines, r.Status = e.Data.Get("order_id").Str(), readLines(e.Data.Get("lines")), statusHeld
		return nil
	})
	res.Apply("stock-released", func(r *Reservation, e sdk.Event) error {
		r.Status, r.Reason = statusReleased, e.Data.Get("reason").Str()
		return nil
	})
	res.Action(sdk.Action[Reservation]{
		Name: "note-reminder", Title: "Note that the stock is still held", EvtKey: "reminder-noted", Internal: true,
		Handle: func(c *sdk.Call, r *Reservation, p jsonlite.Value) error {
			if r.Status != statusHeld {
				return nil // released meanwhile: nothing to remind of
			}
			return c.Emit(nil)
		},
	})
	res.Apply("reminder-noted", func(r *Reservation, e sdk.Event) error { r.Reminders++; return nil })

	// A day after an order is placed, stock still held for it is noted:
	// a background job, enqueued by the handler below.
	Domain.AddJob(sdk.JobSpec{
		Name: "remind-held-stock", Description: "Notes the stock still held for an order a day after it was placed",
		Run: func(c *sdk.JobCall, args jsonlite.Value) error {
			var filter jsonlite.Writer
			filter.BeginObject().Key("order_id").String(args.Get("order_id").Str()).Key("status").String(statusHeld).EndObject()
			found, err := c.Query("reservation", sdk.QueryRequest{Filter: string(filter.Bytes()), Limit: 10})
			if err != nil {
				return err
			}
			for _, rec := range found.Records {
				if err := c.Send(sdk.Command{Name: "note-reminder", Resource: "reservation", AggregateID: rec.ID}); err != nil {
					return err
				}
			}
			return nil
		},
	})

	// An order placed reserves its lines: the reservation's id is derived
	// from the event, so a redelivery reserves nothing twice.
	Domain.AddHandler(sdk.Handler{
		Name: "reserve-for-order", Domain: "order", Events: []string{"order-placed"},
		Description: "Reserves the lines of a placed order",
		Handle: func(c *sdk.EventCall, e sdk.Event) error {
			var lines []Line
			e.Data.Get("items").Array(func(_ int, it jsonlite.Value) bool {
				lines = append(lines, Line{SKU: it.Get("sku").Str(), Quantity: it.Get("quantity").Int()})
				return true
			})
			if err := c.Enqueue(sdk.Job{Name: "remind-held-stock", Args: orderRef(c.AggregateID()), Delay: 24 * time.Hour}); err != nil {
				return err
			}
			return c.Send(sdk.Command{Name: "reserve-stock", Resource: "reservation",
				Payload: reserved{order: c.AggregateID(), lines: lines}})
		},
	})
	// An order cancelled releases what was held for it, found by a query
	// over this domain's reservations.
	Domain.AddHandler(sdk.Handler{
		Name: "release-for-order", Domain: "order", Events: []string{"order-cancelled"},
		Description: "Releases the stock held for a cancelled order",
		Handle: func(c *sdk.EventCall, e sdk.Event) error {
			var filter jsonlite.Writer
			filter.BeginObject().Key("order_id").String(c.AggregateID()).Key("status").String(statusHeld).EndObject()
			found, err := c.Query("reservation", sdk.QueryRequest{Filter: string(filter.Bytes()), Limit: 10})
			if err != nil {
				return err
			}
			for _, rec := range found.Records {
				if err := c.Send(sdk.Command{Name: "release-stock", Resource: "reservation", AggregateID: rec.ID,
					Payload: reason("order cancelled")}); err != nil {
					return err
				}
			}
			return nil
		},
	})
}
