package host

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Handler is an event handler one of the active plugins declares: a
// durable subscription named Owner.Name to event types of Source.
type Handler struct {
	Owner  string // the plugin's domain
	Name   string
	Source string // the domain whose events it receives
	Events []string
}

// Subscription is the handler's durable subscription name.
func (h Handler) Subscription() string { return h.Owner + "." + h.Name }

// Subject is the caller id of the commands the handler issues, to which
// policies grant.
func (h Handler) Subject() string { return HandlerSubject(h.Owner, h.Name) }

// HandlerSubject is the caller id of a handler's commands.
func HandlerSubject(owner, name string) string { return "handler:" + owner + "." + name }

// Wants reports whether the handler receives an event of domain and type.
func (h Handler) Wants(domain, eventType string) bool {
	return domain == h.Source && slices.Contains(h.Events, eventType)
}

// Handlers returns the handlers of the active plugins, by subscription name.
func (h *Host) Handlers() []Handler {
	var out []Handler
	for _, p := range h.Plugins() {
		for _, spec := range p.Handlers() {
			src := spec.Domain
			if src == "" {
				src = p.Domain()
			}
			out = append(out, Handler{Owner: p.Domain(), Name: spec.Name, Source: src, Events: slices.Clone(spec.Events)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subscription() < out[j].Subscription() })
	return out
}

// SplitStream splits a stream name (Stream) into its domain, resource and
// aggregate id; ok is false for a name of another shape.
func SplitStream(stream string) (domain, resource, id string, ok bool) {
	addr, id, ok := strings.Cut(stream, "/")
	if !ok {
		return "", "", "", false
	}
	domain, resource, ok = strings.Cut(addr, ".")
	return domain, resource, id, ok && domain != "" && resource != "" && id != ""
}

// Issued is a command a delivery issued and what became of it.
type Issued struct {
	Domain, Name, Resource, AggregateID string
	Replayed                            bool // answered from its idempotency record: issued before
}

// Delivered is the outcome of a delivery that succeeded.
type Delivered struct {
	Commands []Issued
}

// Deliver runs a handler on one stored event and sends the commands it
// issues through the dispatcher: in the event's tenant, as the handler's
// caller, with the event as causation. Command i has the idempotency key
// handler:OWNER.NAME:EVENT:i and, if it creates, an aggregate id derived
// from the same, so delivering an event again issues nothing twice.
//
// An error is an *Error. Permanent reports whether trying again cannot
// help (a refusal by a rule, a schema, a policy).
func (h *Host) Deliver(ctx context.Context, hd Handler, ev *store.Event, attempt int) (_ *Delivered, err error) {
	p := h.Plugin(hd.Owner)
	if p == nil || p.manifest.handlers[hd.Name] == nil {
		return nil, errorf(KindUnavailable, "handler-not-loaded", "no active plugin declares handler %s", hd.Subscription())
	}
	domain, resource, id, ok := SplitStream(ev.Stream)
	if !ok {
		return nil, errorf(KindInvalid, "unknown-stream", "event %s is on stream %q, which names no aggregate", ev.ID, ev.Stream)
	}
	if !hd.Wants(domain, ev.Type) {
		return nil, errorf(KindInvalid, "not-subscribed", "handler %s does not receive %s events of %s", hd.Subscription(), ev.Type, domain)
	}
	as := abi.Caller{UserID: hd.Subject(), Tenant: ev.Tenant}
	// The handler reads the event as a client would: only what its subject
	// may read.
	if _, err := h.checkResource(ctx, as, domain, resource, id); err != nil {
		return nil, err
	}
	var meta eventMetadata
	json.Unmarshal(ev.Metadata, &meta) // what the host wrote; missing fields stay empty
	// The handler's work joins the trace of the command that wrote the event.
	ctx, span := tracer.Start(withTraceContext(ctx, meta.TraceParent, meta.TraceState), "handler "+hd.Subscription(),
		trace.WithAttributes(attribute.String("fluvius.event_id", ev.ID), attribute.String("fluvius.event_type", ev.Type),
			attribute.Int("fluvius.attempt", attempt)))
	defer func() { endSpan(span, err) }()
	correlation := meta.CorrelationID
	if correlation == "" {
		correlation = meta.CommandID
	}
	del := &abi.EventDelivery{Handler: hd.Name, EventID: ev.ID, Domain: domain, Resource: resource, AggregateID: id,
		Type: ev.Type, Data: ev.Data, Version: ev.Version, Time: ev.CreatedAt.UnixNano(), CorrelationID: correlation,
		Caller: abi.Caller{UserID: meta.Caller.UserID, Tenant: meta.Caller.Tenant, Roles: meta.Caller.Roles}, Attempt: uint64(attempt)}
	res, err := p.OnEvent(ctx, del, as)
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, &Error{Kind: KindInternal, Code: "handler-crashed", Message: err.Error(), Err: err}
	}
	return h.issue(ctx, p, res, as, "handler "+hd.Subscription(), hd.Subject()+":"+ev.ID, ev.ID, correlation)
}

// Permanent reports whether a failed delivery would fail again as it is:
// the handler's command was refused by a rule, a schema or a policy, or the
// event is not the handler's to read. Anything else (a crash, a store that
// did not answer, a conflict) may pass on another try.
func Permanent(err error) bool {
	var he *Error
	if !errors.As(err, &he) {
		return false
	}
	switch he.Kind {
	case KindInvalid, KindDomain, KindForbidden, KindUnauthenticated, KindNotFound, KindTooLarge, KindPreconditionFailed:
		return true
	}
	return false
}

// derivedID is a UUID-shaped id (version 8) derived from a key.
func derivedID(key string) string {
	sum := sha256.Sum256([]byte(key))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var out [36]byte
	n := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[n] = '-'
			n++
		}
		out[n], out[n+1] = hex[b>>4], hex[b&0xf]
		n += 2
	}
	return string(out[:])
}
