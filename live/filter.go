package live

import (
	"errors"
	"slices"
	"strings"

	"fluvius.dev/fluvius/store"
)

// Filter selects the events of a subscription: of one domain, one resource
// of it or one aggregate, of some types. Empty fields match anything.
type Filter struct {
	Domain, Resource, ID string
	Types                []string
}

// Check says whether the filter names one thing: a resource needs its
// domain, an aggregate its resource.
func (f Filter) Check() error {
	switch {
	case f.Resource != "" && f.Domain == "":
		return errors.New("live: a resource filter needs a domain")
	case f.ID != "" && f.Resource == "":
		return errors.New("live: an aggregate filter needs a resource")
	}
	return nil
}

// Match says whether an event passes the filter (its tenant aside).
func (f Filter) Match(ev *Event) bool {
	return (f.Domain == "" || f.Domain == ev.Domain) && (f.Resource == "" || f.Resource == ev.Resource) &&
		(f.ID == "" || f.ID == ev.AggregateID) && (len(f.Types) == 0 || slices.Contains(f.Types, ev.Type))
}

// Event is a stored event with the aggregate its stream names. Events are
// shared between subscribers: read only.
type Event struct {
	*store.Event
	Domain, Resource, AggregateID string
}

// newEvent names the aggregate of e from its stream, the inverse of
// host.Stream ("domain.resource/id").
func newEvent(e *store.Event) *Event {
	head, id, _ := strings.Cut(e.Stream, "/")
	domain, resource, _ := strings.Cut(head, ".")
	return &Event{Event: e, Domain: domain, Resource: resource, AggregateID: id}
}

// size is what an event counts against a buffer's byte bound.
func (ev *Event) size() int64 { return int64(len(ev.Data) + len(ev.Metadata) + len(ev.Stream) + 128) }

// Before says whether a comes before b in the feed's order.
func Before(a, b store.Cursor) bool {
	return a.TxID < b.TxID || a.TxID == b.TxID && a.Position < b.Position
}
