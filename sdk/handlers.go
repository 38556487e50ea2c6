package sdk

import (
	"errors"
	"strings"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// EventHandler reacts to one event. It may read state and query this
// domain's read models (in the event's tenant) and issue commands with
// Send; an error fails the delivery, which the host retries and then sets
// aside as a dead letter. Sends of a failed delivery are not made.
type EventHandler func(c *EventCall, e Event) error

// Handler declares an event handler: a durable subscription to event types
// of one domain (this one when Domain is empty).
type Handler struct {
	Name        string // lower-case words; names the subscription with the domain's name
	Domain      string // the domain whose events it receives; "" for this one
	Events      []string
	Description string
	Handle      EventHandler
}

// On declares a handler for one event type: "user-created" for this
// domain's, "order.order-placed" for another domain's. It is named
// "on-TYPE" or "on-DOMAIN-TYPE"; use AddHandler to choose the name, or to
// receive several types.
func (d *Domain) On(event string, fn EventHandler) {
	h := Handler{Name: "on-" + event, Events: []string{event}, Handle: fn}
	if dom, typ, ok := strings.Cut(event, "."); ok {
		h.Name, h.Domain, h.Events = "on-"+dom+"-"+typ, dom, []string{typ}
	}
	d.AddHandler(h)
}

// AddHandler declares a handler.
func (d *Domain) AddHandler(h Handler) { d.handlers = append(d.handlers, h) }

// EventCall is one delivery of an event to a handler: the event's address
// and context, and the commands the handler issues. Like a Call it is only
// valid during the handler's call.
type EventCall struct {
	del *abi.EventDelivery
	issuer
}

// issuer is what handlers and jobs share: the host's services in the
// tenant they run in, and the commands and jobs they issue.
type issuer struct {
	commands []abi.IssuedCommand
	jobs     []abi.IssuedJob
	w        jsonlite.Writer
}

// EventID returns the event's unique id.
func (c *EventCall) EventID() string { return c.del.EventID }

// Domain returns the domain of the aggregate that emitted the event.
func (c *EventCall) Domain() string { return c.del.Domain }

// Resource returns the resource of the aggregate that emitted the event.
func (c *EventCall) Resource() string { return c.del.Resource }

// AggregateID returns the id of the aggregate that emitted the event.
func (c *EventCall) AggregateID() string { return c.del.AggregateID }

// CorrelationID returns the correlation id the issued commands carry.
func (c *EventCall) CorrelationID() string { return c.del.CorrelationID }

// Caller returns who sent the command that emitted the event.
func (c *EventCall) Caller() abi.Caller { return c.del.Caller }

// Attempt is 1 for the first delivery of this event to this handler, then
// 2, 3, ... when the host tries again.
func (c *EventCall) Attempt() int { return int(c.del.Attempt) }

// Now returns the time the event was stored: the handler's clock.
func (c *EventCall) Now() time.Time { return time.Unix(0, c.del.Time).UTC() }

// Log writes a message to the host's log.
func (c *issuer) Log(level abi.LogLevel, msg string) { currentHost.Log(level, msg) }

// ReadState reads a state record of this domain in the tenant of the event
// or job.
func (c *issuer) ReadState(resource, id string) (rec abi.StateRecord, found bool, err error) {
	return currentHost.StateGet(resource, id)
}

// Query runs a query over this domain's read models in the tenant of the
// event or job, as Call.Query does.
func (c *issuer) Query(resource string, q QueryRequest) (QueryResult, error) {
	return (*Call)(nil).Query(resource, q)
}

// Command is a command a handler issues. Domain "" is this plugin's own;
// an empty AggregateID addresses a command that creates (:new), whose id
// the host derives from the event, so a redelivery creates nothing twice.
type Command struct {
	Domain      string
	Name        string
	Resource    string
	AggregateID string
	Payload     jsonlite.Encoder // nil for {}
}

// Send issues a command once the handler or job returns without error:
// through the host's dispatcher, in the tenant of the event (or of the
// job's enqueuer), as the handler's or job's own caller
// (handler:DOMAIN.NAME, job:DOMAIN.NAME), with the event (or job) as its
// causation. At most 100 per call.
func (c *issuer) Send(cmd Command) error {
	if len(c.commands) == abi.MaxIssuedCommands {
		return errors.New("sdk: a handler or job issues at most 100 commands")
	}
	payload := emptyObject
	if cmd.Payload != nil {
		c.w.Reset()
		cmd.Payload.EncodeJSON(&c.w)
		payload = append([]byte(nil), c.w.Bytes()...)
	}
	c.commands = append(c.commands, abi.IssuedCommand{Domain: cmd.Domain, Name: cmd.Name, Resource: cmd.Resource,
		AggregateID: cmd.AggregateID, Payload: payload})
	return nil
}

// Sent returns the commands issued so far, for tests.
func (c *issuer) Sent() []abi.IssuedCommand { return c.commands }

// Enqueue asks for a background job of this domain, enqueued once the
// handler or job returns without error.
func (c *issuer) Enqueue(j Job) error { return enqueue(&c.jobs, j) }

// handlerByName finds a declared handler.
func (d *Domain) handlerByName(name string) *Handler {
	for i := range d.handlers {
		if d.handlers[i].Name == name {
			return &d.handlers[i]
		}
	}
	return nil
}

// OnEvent runs the handler an abi.EventDelivery envelope names and returns
// an abi.HandlerResult envelope, valid until the next call.
func (d *Domain) OnEvent(in []byte) []byte {
	var del abi.EventDelivery
	res := abi.HandlerResult{}
	if err := del.Decode(in); err != nil {
		res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "malformed-envelope", Message: "event delivery: " + err.Error()}
	} else if h := d.handlerByName(del.Handler); h == nil {
		res.Status, res.Error = abi.StatusUnknownCommand, abi.Error{Code: "unknown-handler", Message: "domain " + d.name + " has no handler " + del.Handler}
	} else {
		call := &EventCall{del: &del}
		data, err := jsonlite.Parse(del.Data)
		if err == nil {
			err = h.Handle(call, Event{Type: del.Type, Data: data, Version: del.Version, Time: del.Time})
		}
		if err != nil {
			res.Status, res.Error = errorStatus(err)
		} else {
			res.Commands, res.Jobs = call.commands, call.jobs
		}
	}
	d.out.Reset()
	res.Encode(&d.out)
	return d.out.Bytes()
}

// Deliver runs a handler natively, the way the host runs it in the guest,
// and returns the decoded result. It is for unit tests of handlers.
func (d *Domain) Deliver(del *abi.EventDelivery) (*abi.HandlerResult, error) {
	var e abi.Encoder
	del.Encode(&e)
	out := d.OnEvent(e.Bytes())
	var res abi.HandlerResult
	if err := res.Decode(append([]byte(nil), out...)); err != nil {
		return nil, err
	}
	return &res, nil
}
