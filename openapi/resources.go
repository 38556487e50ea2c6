package openapi

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
)

// aggregateDoc is what an aggregate's operations share: the names of its
// components and the example of its state.
type aggregateDoc struct {
	prefix string // domain.aggregate: its components' prefix
	state  any    // an example state, nil when none could be made
	events []string
}

// aggregate adds the components of an aggregate: its state (typed by the
// manifest, less hidden properties), its events (typed by name), and the
// views, pages and answers that carry them.
func (b *builder) aggregate(m *abi.Manifest, a *abi.AggregateSpec) {
	ad := &aggregateDoc{prefix: m.Domain + "." + a.Name}
	hidden := map[string]bool{}
	if a.Query != nil {
		for _, h := range a.Query.Hidden {
			hidden[h] = true
		}
	}
	for _, e := range m.Events {
		if e.Aggregate == a.Name {
			ad.events = append(ad.events, e.Type)
		}
	}
	sort.Strings(ad.events)
	s := b.doc.Components.Schemas
	state := jsonSchema(a.State, hidden, false)
	if a.State == nil {
		state["description"] = "The state of a " + a.Name + " of " + m.Domain + ": the domain declares no schema for it."
	} else if _, ok := state["description"]; !ok {
		state["description"] = "The state of a " + a.Name + " of " + m.Domain + "."
	}
	s[ad.prefix+".State"] = state
	listed := ad.prefix + ".State"
	if hasRequired(a.State) {
		// Lists answer what select and exclude leave of it.
		listed = ad.prefix + ".ListedState"
		p := jsonSchema(a.State, hidden, true)
		p["description"] = "The state of a " + a.Name + " of " + m.Domain + " in a list: `select` and `exclude` may leave out any property."
		s[listed] = p
	}
	event := b.schema("Event")
	if len(ad.events) > 0 {
		s[ad.prefix+".Event"] = Schema{"allOf": []any{event,
			Schema{"properties": Schema{"type": Schema{"enum": ad.events}}}}}
		event = schemaRef(ad.prefix + ".Event")
	}
	s[ad.prefix+".StateView"] = Schema{"allOf": []any{b.schema("StateView"),
		Schema{"properties": Schema{"data": schemaRef(ad.prefix + ".State")}}}}
	s[ad.prefix+".ListPage"] = Schema{"allOf": []any{b.schema("ListPage"),
		Schema{"properties": Schema{"data": Schema{"items": Schema{"allOf": []any{b.schema("StateView"),
			Schema{"properties": Schema{"data": schemaRef(listed)}}}}}}}}}
	s[ad.prefix+".EventsPage"] = Schema{"allOf": []any{b.schema("EventsPage"),
		Schema{"properties": Schema{"events": Schema{"items": event}}}}}
	if ex, err := example(a.State, true); err == nil {
		if obj, ok := ex.(map[string]any); ok {
			for h := range hidden {
				delete(obj, h)
			}
		}
		ad.state = ex
	}
	b.aggregates[ad.prefix] = ad
}

// commandAnswer returns the aggregate's typed command answer, adding it on
// first use (an aggregate whose commands are all internal has none).
func (b *builder) commandAnswer(ad *aggregateDoc) Schema {
	name := ad.prefix + ".CommandAnswer"
	if _, ok := b.doc.Components.Schemas[name]; !ok {
		event := b.schema("Event")
		if len(ad.events) > 0 {
			event = schemaRef(ad.prefix + ".Event")
		}
		b.doc.Components.Schemas[name] = Schema{"allOf": []any{b.schema("CommandAnswer"),
			Schema{"properties": Schema{"data": schemaRef(ad.prefix + ".State"), "events": Schema{"items": event}}}}}
	}
	return schemaRef(name)
}

// resource adds the reads of one resource: its state, its events, its list.
func (b *builder) resource(m *abi.Manifest, a *abi.AggregateSpec, r string) error {
	qr, err := query.ResourceOf(m.Domain, r, a)
	if err != nil {
		return err
	}
	ad := b.aggregates[m.Domain+"."+a.Name]
	base := "/" + m.Domain + "." + r + "/"
	what := "a " + r + " of " + m.Domain
	b.path(base + "{id}").Get = b.stateRead(m, r, ad, what)
	b.path(base + "{id}/events").Get = b.eventsRead(m, r, ad, what)
	b.path(base).Get = b.listRead(m, a, r, qr, ad)
	return nil
}

func (b *builder) stateRead(m *abi.Manifest, r string, ad *aggregateDoc, what string) *Operation {
	op := &Operation{OperationID: m.Domain + "." + r + ".read", Tags: []string{m.Domain},
		Summary: "Read " + what,
		Description: "The current state of " + what + ", with its ETag (`If-None-Match` answers 304). " +
			"`version` or `at` replays it as it was, from its events (without an ETag).",
		Parameters: []*Parameter{b.param("AggregateID"), b.param("Version"), b.param("At"), b.param("MinVersion"), b.param("IfNoneMatch")},
		Responses: map[string]*Response{
			"200": {Description: "The state.", Headers: map[string]*Header{"ETag": b.header("ETag")},
				Content: jsonContent(schemaRef(ad.prefix+".StateView"), b.stateViewExample(r, ad))},
			"304": {Description: "Not modified: the state's ETag is the one `If-None-Match` names.",
				Headers: map[string]*Header{"ETag": b.header("ETag")}},
		}}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusInternalServerError, http.StatusServiceUnavailable)
	return op
}

func (b *builder) eventsRead(m *abi.Manifest, r string, ad *aggregateDoc, what string) *Operation {
	var ex any
	if len(ad.events) > 0 {
		typ, meta := ad.events[0], map[string]any{"command_id": exampleCommandID, "caller": map[string]any{"user_id": exampleUser},
			"plugin_sha256": strings.Repeat("0f", 32)}
		for _, c := range m.Commands {
			if c.EvtKey != "" && slices.Contains(ad.events, c.EvtKey) && slices.Contains(c.Resources, r) {
				typ, meta["command"] = c.EvtKey, c.Name
				break
			}
		}
		ev := eventExample(typ, 1, map[string]any{})
		ev["position"], ev["metadata"] = 42, meta
		ex = map[string]any{"events": []any{ev}}
	}
	op := &Operation{OperationID: m.Domain + "." + r + ".events", Tags: []string{m.Domain},
		Summary:     "Read the events of " + what,
		Description: "The events of " + what + ", oldest first, a page at a time: `next_after` continues.",
		Parameters:  []*Parameter{b.param("AggregateID"), b.param("After"), b.param("EventsLimit")},
		Responses: map[string]*Response{
			"200": {Description: "A page of events.", Content: jsonContent(schemaRef(ad.prefix+".EventsPage"), ex)},
		}}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	return op
}

func (b *builder) listRead(m *abi.Manifest, a *abi.AggregateSpec, r string, qr *query.Resource, ad *aggregateDoc) *Operation {
	target := m.Domain + "." + r
	var fields, sortable []string
	var sample string
	for _, name := range qr.FieldNames() {
		f := qr.Fields[name]
		kind := query.TypeName(f.Type)
		if f.Column != "" {
			kind += ", the record's"
		}
		fields = append(fields, fmt.Sprintf("- `%s` (%s): %s", name, kind, strings.Join(query.Operators(f.Type), " ")))
		if query.Sortable(f.Type) {
			sortable = append(sortable, "`"+name+"`")
		}
		if sample == "" && f.Column == "" && f.Type == store.TypeString {
			sample = `{"` + name + `.has": "a"}`
		}
	}
	if sample == "" {
		sample = `{"_created_at.gte": "2026-01-01T00:00:00Z"}`
	}
	params := []*Parameter{
		{Name: "query", In: "query", Schema: Schema{"type": "string", "maxLength": query.MaxQueryBytes},
			Description: "A filter in Fluvius's query language, as JSON: `{\"field.op\": value}`, negated `{\"field!op\": value}`; " +
				"`{\"field\": value}` is `eq`; `.and`, `.or`, `!and`, `!or` combine a list of filters " +
				fmt.Sprintf("(at most %d levels, %d conditions). The fields of %s and their operators:\n\n", query.MaxDepth, query.MaxConditions, target) +
				strings.Join(fields, "\n"),
			Examples: map[string]*Example{"filter": {Value: sample}}},
		{Name: "sort", In: "query", Schema: Schema{"type": "string"},
			Description: fmt.Sprintf("Comma separated `field.asc` or `field.desc`, at most %d; default `%s`. Sortable: %s. Ties are broken by id.",
				query.MaxSortKeys, defaultSort(qr), strings.Join(sortable, ", ")),
			Examples: map[string]*Example{"default": {Value: defaultSort(qr)}}},
		b.param("Limit"), b.param("Page"), b.param("Cursor"),
	}
	props := stateProperties(a)
	selectDesc := "State properties to answer, comma separated (default: all)."
	if len(props) > 0 {
		selectDesc += " Properties: " + strings.Join(props, ", ") + "."
	}
	params = append(params,
		&Parameter{Name: "select", In: "query", Description: selectDesc, Schema: Schema{"type": "string"}},
		&Parameter{Name: "exclude", In: "query", Description: "State properties to leave out, comma separated.", Schema: Schema{"type": "string"}},
		b.param("Include"))
	if len(qr.Text) > 0 {
		params = append(params, &Parameter{Name: "text", In: "query",
			Description: fmt.Sprintf("Words (at most %d), each the prefix of a word in %s.", query.MaxTextWords, strings.Join(qr.Text, ", ")),
			Schema:      Schema{"type": "string", "maxLength": query.MaxTextBytes}})
	}
	params = append(params, b.param("Deleted"))
	if len(qr.Named) > 0 {
		names := make([]string, 0, len(qr.Named))
		for n := range qr.Named {
			names = append(names, n)
		}
		sort.Strings(names)
		var lines []string
		for _, n := range names {
			line := "- `" + n + "`"
			if d := qr.Named[n].Description; d != "" {
				line += ": " + d
			}
			lines = append(lines, line)
		}
		params = append(params, &Parameter{Name: "named", In: "query", Schema: Schema{"type": "string", "enum": names},
			Description: "A query the resource offers by name; `query` narrows it and `sort` replaces its order.\n\n" + strings.Join(lines, "\n")})
	}
	var ex any
	if ad.state != nil {
		ex = map[string]any{"data": []any{stateViewExample(r, ad.state)},
			"pagination": map[string]any{"limit": query.DefaultLimit, "offset": 0, "total": 1, "pages": 1, "page": 1}}
	}
	op := &Operation{OperationID: target + ".list", Tags: []string{m.Domain},
		Summary:     "List the " + r + "s of " + m.Domain,
		Description: "The " + r + "s of the caller's tenant that the caller may read, filtered, sorted and paged. `GET /_meta/" + target + "/` describes the same fields.",
		Parameters:  params,
		Responses: map[string]*Response{
			"200": {Description: "A page of the list.", Content: jsonContent(schemaRef(ad.prefix+".ListPage"), ex)},
		}}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	return op
}

func defaultSort(qr *query.Resource) string {
	var parts []string
	for _, o := range qr.DefaultSort {
		dir := ".asc"
		if o.Desc {
			dir = ".desc"
		}
		parts = append(parts, o.Field.Name+dir)
	}
	return strings.Join(parts, ",")
}

// stateProperties are the top-level properties a read may answer.
func stateProperties(a *abi.AggregateSpec) []string {
	if a.State == nil {
		return nil
	}
	var out []string
	for p := range a.State.Properties {
		if a.Query == nil || !slices.Contains(a.Query.Hidden, p) {
			out = append(out, "`"+p+"`")
		}
	}
	sort.Strings(out)
	return out
}

func (b *builder) stateViewExample(r string, ad *aggregateDoc) any {
	if ad.state == nil {
		return nil
	}
	v := stateViewExample(r, ad.state)
	v["tenant"] = "acme"
	v["created_by"], v["updated_by"] = exampleUser, exampleUser
	return v
}

func stateViewExample(r string, state any) map[string]any {
	return map[string]any{"id": exampleID, "resource": r, "data": state, "version": 1, "etag": "1",
		"created_at": exampleTime, "updated_at": exampleTime}
}

func eventExample(typ string, version int, data any) map[string]any {
	return map[string]any{"id": exampleEventID, "type": typ, "version": version, "data": data, "created_at": exampleTime}
}

// jsonContent is an application/json body of schema s, with example ex
// when there is one.
func jsonContent(s Schema, ex any) map[string]*MediaType {
	mt := &MediaType{Schema: s}
	if ex != nil {
		mt.Examples = map[string]*Example{"example": {Value: ex}}
	}
	return map[string]*MediaType{"application/json": mt}
}
