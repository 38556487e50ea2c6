package openapi

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"fluvius.dev/fluvius/abi"
)

// command adds a command's operations: one per resource it acts on.
func (b *builder) command(m *abi.Manifest, a *abi.AggregateSpec, c *abi.CommandSpec) {
	payload := b.payload(m, c)
	ad := b.aggregates[m.Domain+"."+a.Name]
	for _, r := range c.Resources {
		if !slices.Contains(a.Resources, r) {
			continue // the host refuses such a manifest; nothing to describe
		}
		p := "/" + m.Domain + ":" + c.Name + "/" + r + "/"
		if c.New {
			p += ":new"
		} else {
			p += "{id}"
		}
		b.path(p).Post = b.commandOperation(m, c, r, ad, payload)
		if b.sample == nil && c.New && payload.full != nil {
			b.sample = &sampleCommand{domain: m.Domain, command: c.Name, resource: r, event: eventOf(c, ad),
				payload: payload.full, state: ad.state}
		}
	}
}

// payloadDoc is a command's request body: its schema component and
// examples.
type payloadDoc struct {
	schema   Schema
	examples map[string]*Example
	full     any // the example events carry
}

// payload adds the schema of a command's payload and makes its examples:
// the least payload the host accepts, and one with every property.
func (b *builder) payload(m *abi.Manifest, c *abi.CommandSpec) *payloadDoc {
	name := m.Domain + "." + c.Name + ".Payload"
	s := c.Payload
	if s == nil {
		no := false
		s = &abi.Schema{Type: "object", AdditionalProperties: &no,
			Description: "The command takes no payload: send `{}`, or no body."}
	}
	b.doc.Components.Schemas[name] = jsonSchema(s, nil, false)
	pd := &payloadDoc{schema: schemaRef(name), examples: map[string]*Example{}}
	minimal, errMin := example(s, false)
	full, errFull := example(s, true)
	switch {
	case errFull == nil && errMin == nil && !reflect.DeepEqual(minimal, full):
		pd.examples["minimal"] = &Example{Summary: "The required properties only", Value: minimal}
		pd.examples["full"] = &Example{Summary: "Every property", Value: full}
		pd.full = full
	case errFull == nil:
		pd.examples["example"] = &Example{Value: full}
		pd.full = full
	case errMin == nil:
		pd.examples["example"] = &Example{Value: minimal}
		pd.full = minimal
	}
	return pd
}

func (b *builder) commandOperation(m *abi.Manifest, c *abi.CommandSpec, r string, ad *aggregateDoc, pd *payloadDoc) *Operation {
	summary := c.Title
	if summary == "" {
		summary = c.Name
	}
	var notes []string
	if c.Description != "" {
		notes = append(notes, c.Description)
	}
	if c.New {
		notes = append(notes, "Creates a "+r+": the host chooses its id, answered in `id` and `Location`.")
	}
	if c.Deletes {
		notes = append(notes, "May delete the "+r+" (softly: reads and lists no longer show it; its events stay).")
	}
	if c.Policy != "" {
		notes = append(notes, "Needs a grant of the permission `"+c.Policy+"` (action `run`) in the caller's tenant.")
	}
	if c.AuthRequired {
		notes = append(notes, "Refuses anonymous callers, even in development mode.")
	}
	op := &Operation{OperationID: m.Domain + "." + c.Name + "." + r, Summary: summary, Tags: []string{m.Domain},
		Description: strings.Join(notes, "\n\n"),
		RequestBody: &RequestBody{
			Description: "The payload, checked against its schema before the domain sees it. No body is the same as `{}`.",
			Content:     map[string]*MediaType{"application/json": {Schema: pd.schema, Examples: pd.examples}}},
	}
	if !c.New {
		op.Parameters = append(op.Parameters, b.param("AggregateID"))
	}
	op.Parameters = append(op.Parameters, b.param("IdempotencyKey"))
	if !c.New {
		op.Parameters = append(op.Parameters, b.param("IfMatch"))
	}
	op.Parameters = append(op.Parameters, b.param("CorrelationID"), b.param("CausationID"))
	if c.AuthRequired {
		sec := []SecurityRequirement{{"bearer": {}}, {"apiKey": {}}, {"trustedProxy": {}}}
		op.Security = &sec
	}

	status, version := http.StatusOK, 2
	answer := &Response{Description: "The command ran: the aggregate after it and the events it recorded.",
		Headers: map[string]*Header{"ETag": b.header("ETag"), "X-Correlation-ID": b.header("CorrelationID"),
			"Idempotent-Replayed": b.header("IdempotentReplayed")}}
	if c.New {
		status, version = http.StatusCreated, 1
		answer.Description = "Created: the new aggregate and the events that made it."
		answer.Headers["Location"] = b.header("Location")
	}
	var ex any
	if ad.state != nil {
		events := []any{}
		if typ := eventOf(c, ad); typ != "" {
			data := pd.full
			if data == nil {
				data = map[string]any{}
			}
			events = append(events, eventExample(typ, version, data))
		}
		ex = map[string]any{"id": exampleID, "resource": r, "data": ad.state, "events": events,
			"version": version, "etag": strconv.Itoa(version)}
	}
	answer.Content = jsonContent(b.commandAnswer(ad), ex)
	op.Responses = map[string]*Response{strconv.Itoa(status): answer}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict)
	if !c.New {
		b.addProblems(op, http.StatusPreconditionFailed)
	}
	b.addProblems(op, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	return op
}

// eventOf is the event type a command's example records: its evt_key, or
// its aggregate's first event.
func eventOf(c *abi.CommandSpec, ad *aggregateDoc) string {
	if c.EvtKey != "" && slices.Contains(ad.events, c.EvtKey) {
		return c.EvtKey
	}
	if len(ad.events) > 0 {
		return ad.events[0]
	}
	return ""
}
