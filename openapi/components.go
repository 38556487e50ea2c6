package openapi

import (
	"net/http"
	"strconv"
	"strings"

	"fluvius.dev/fluvius/query"
)

// Shared components, each added to the document the first time an
// operation uses it.

// Example values the examples share, so that one reads as one story.
const (
	exampleID        = "0194f2a8-6b2d-7e41-8c3a-5d9e1f7b2a60"
	exampleEventID   = "0194f2a8-6b2e-7a05-9f1c-3b8d4e6a7c21"
	exampleCommandID = "0194f2a8-6b2d-7f88-a4e2-1c9b7d3f5e14"
	exampleTime      = "2026-01-02T15:04:05Z"
	exampleUser      = "alice"
)

// security adds the authentication schemes and the document's default
// requirement: a bearer JWT or API key, or nothing in development mode.
func (b *builder) security() {
	s := b.doc.Components.SecuritySchemes
	s["bearer"] = &SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
		Description: "A JWT (HS256 with the host's secret, or RS256, ES256 or EdDSA from its JWKS URL): `Authorization: Bearer <JWT>`. " +
			"The caller is its `sub`, `tenant` and `roles` claims (renamed by the host's configuration)."}
	s["apiKey"] = &SecurityScheme{Type: "http", Scheme: "bearer",
		Description: "An API key made with `POST /_admin/api-keys` (shown once, revocable), sent as a bearer token: " +
			"`Authorization: Bearer <key>`. It carries its tenant and roles."}
	s["trustedProxy"] = &SecurityScheme{Type: "apiKey", In: "header", Name: "X-Fluvius-User",
		Description: "Only on a host started with `--trust-proxy-headers`: a proxy that authenticated the caller sets " +
			"`X-Fluvius-User`, `X-Fluvius-Tenant` and `X-Fluvius-Roles` (comma separated)."}
	b.doc.Security = []SecurityRequirement{{"bearer": {}}, {"apiKey": {}}, {"trustedProxy": {}},
		// Development mode: a host without authentication configured lets
		// every caller in, anonymous, in the default tenant. An operation
		// may still refuse anonymous callers (401 authentication-required).
		{}}
}

// schema returns a reference to a shared schema, adding it on first use.
func (b *builder) schema(name string) Schema {
	if _, ok := b.doc.Components.Schemas[name]; !ok {
		def, known := sharedSchemas[name]
		if !known {
			panic("openapi: no shared schema " + name)
		}
		b.doc.Components.Schemas[name] = nil // reserved: definitions may refer back
		b.doc.Components.Schemas[name] = def(b)
	}
	return schemaRef(name)
}

// param returns a reference to a shared parameter, adding it on first use.
func (b *builder) param(name string) *Parameter {
	if _, ok := b.doc.Components.Parameters[name]; !ok {
		def, known := sharedParams[name]
		if !known {
			panic("openapi: no shared parameter " + name)
		}
		b.doc.Components.Parameters[name] = def()
	}
	return &Parameter{Ref: ref("parameters", name)}
}

// header returns a reference to a shared response header.
func (b *builder) header(name string) *Header {
	if _, ok := b.doc.Components.Headers[name]; !ok {
		def, known := sharedHeaders[name]
		if !known {
			panic("openapi: no shared header " + name)
		}
		b.doc.Components.Headers[name] = def
	}
	return &Header{Ref: ref("headers", name)}
}

// sharedSchemas are set in init: their definitions use builder.schema,
// which reads them.
var sharedSchemas map[string]func(*builder) Schema

func init() { sharedSchemas = sharedSchemaDefs() }

func sharedSchemaDefs() map[string]func(*builder) Schema {
	return map[string]func(*builder) Schema{
		"Problem": func(*builder) Schema {
			return Schema{"type": "object", "description": "An RFC 9457 problem details body with Fluvius's stable `code`.",
				"required": []string{"type", "title", "status", "detail", "code"},
				"properties": Schema{
					"type":    Schema{"type": "string", "description": "`urn:fluvius:problem:` and the code."},
					"title":   Schema{"type": "string", "description": "The status's reason phrase."},
					"status":  Schema{"type": "integer", "minimum": 100, "maximum": 599},
					"detail":  Schema{"type": "string", "description": "What went wrong, for a person."},
					"code":    Schema{"type": "string", "description": "Stable, kebab-case: what a program tests.", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
					"details": Schema{"description": "More about it, by code: an invalid payload's violations (`[{\"path\", \"message\"}]`), a refused query's parameter."},
				}}
		},
		"Event": func(*builder) Schema {
			return Schema{"type": "object", "description": "An event of an aggregate: immutable, numbered by the aggregate's version it made.",
				"required": []string{"id", "type", "version", "data", "created_at"},
				"properties": Schema{
					"id":       Schema{"type": "string", "format": "uuid"},
					"type":     Schema{"type": "string"},
					"version":  Schema{"type": "integer", "minimum": 1, "description": "The aggregate's version after this event."},
					"position": Schema{"type": "integer", "description": "Its place in the host's event feed (reads only)."},
					"data":     Schema{"description": "The event's JSON, as the domain wrote it."},
					"metadata": Schema{"type": "object", "description": "Who and what caused it (reads only).",
						"properties": Schema{
							"command_id":     Schema{"type": "string"},
							"command":        Schema{"type": "string"},
							"caller":         Schema{"type": "object", "properties": Schema{"user_id": Schema{"type": "string"}, "tenant": Schema{"type": "string"}, "roles": Schema{"type": "array", "items": Schema{"type": "string"}}}},
							"correlation_id": Schema{"type": "string"},
							"causation_id":   Schema{"type": "string"},
							"plugin_sha256":  Schema{"type": "string"},
						}},
					"created_at": Schema{"type": "string", "format": "date-time"},
				}}
		},
		"CommandAnswer": func(b *builder) Schema {
			return Schema{"type": "object", "description": "What a command answers: the aggregate after it, and the events it recorded. " +
				"An idempotent replay answers the same bytes.",
				"required": []string{"id", "resource", "data", "events", "version", "etag"},
				"properties": Schema{
					"id":       Schema{"type": "string", "description": "The aggregate's id (the host's choice for `:new`)."},
					"resource": Schema{"type": "string"},
					"data":     Schema{"description": "The aggregate's state after the command, or the command's own answer where the domain gives one."},
					"events":   Schema{"type": "array", "items": b.schema("Event"), "description": "The events the command recorded, in order; none when nothing changed."},
					"version":  Schema{"type": "integer", "minimum": 0},
					"etag":     Schema{"type": "string", "description": "The state's entity tag, for `If-Match` (also in the `ETag` header)."},
				}}
		},
		"StateView": func(*builder) Schema {
			return Schema{"type": "object", "description": "An aggregate's state as reads answer it.",
				"required": []string{"id", "resource", "data", "version"},
				"properties": Schema{
					"id":         Schema{"type": "string"},
					"resource":   Schema{"type": "string"},
					"data":       Schema{"description": "The state, less the properties the domain hides."},
					"version":    Schema{"type": "integer", "minimum": 1},
					"etag":       Schema{"type": "string"},
					"tenant":     Schema{"type": "string", "description": "Lists: only with `include=tenant`."},
					"created_at": Schema{"type": "string", "format": "date-time"},
					"created_by": Schema{"type": "string", "description": "Lists: only with `include=created_by`."},
					"updated_at": Schema{"type": "string", "format": "date-time"},
					"updated_by": Schema{"type": "string", "description": "Lists: only with `include=updated_by`."},
				}}
		},
		"ListPage": func(b *builder) Schema {
			return Schema{"type": "object", "description": "A page of a resource's list.",
				"required": []string{"data", "pagination"},
				"properties": Schema{
					"data": Schema{"type": "array", "items": b.schema("StateView")},
					"pagination": Schema{"type": "object", "required": []string{"limit", "offset", "total", "pages"},
						"properties": Schema{
							"limit":  Schema{"type": "integer", "minimum": 1},
							"offset": Schema{"type": "integer", "minimum": 0},
							"total":  Schema{"type": "integer", "minimum": 0, "description": "Records matching, on every page."},
							"pages":  Schema{"type": "integer", "minimum": 0},
							"page":   Schema{"type": "integer", "minimum": 1, "description": "Absent when a cursor continued the list."},
							"cursor": Schema{"type": "string", "description": "Continues after this page (`cursor=`); absent on the last page."},
						}},
				}}
		},
		"EventsPage": func(b *builder) Schema {
			return Schema{"type": "object", "description": "A page of an aggregate's events, oldest first.",
				"required": []string{"events"},
				"properties": Schema{
					"events":     Schema{"type": "array", "items": b.schema("Event")},
					"next_after": Schema{"type": "integer", "description": "There may be more: ask again with `after` set to this."},
				}}
		},
	}
}

var sharedParams = map[string]func() *Parameter{
	"AggregateID": func() *Parameter {
		return &Parameter{Name: "id", In: "path", Required: true, Description: "The aggregate's id.",
			Schema: Schema{"type": "string", "minLength": 1, "maxLength": 200}}
	},
	"IdempotencyKey": func() *Parameter {
		return &Parameter{Name: "Idempotency-Key", In: "header",
			Description: "Makes a retry safe: the same caller sending the same key again gets the first answer (with `Idempotent-Replayed: true`); " +
				"the key with another request is refused (422 `idempotency-key-reused`).",
			Schema: Schema{"type": "string", "maxLength": 200}}
	},
	"IfMatch": func() *Parameter {
		return &Parameter{Name: "If-Match", In: "header",
			Description: "Runs the command only if the aggregate's ETag is still this one (412 `precondition-failed` otherwise).",
			Schema:      Schema{"type": "string"}, Examples: map[string]*Example{"etag": {Value: `"3"`}}}
	},
	"IfNoneMatch": func() *Parameter {
		return &Parameter{Name: "If-None-Match", In: "header", Description: "Answers 304 while the state's ETag is this one.",
			Schema: Schema{"type": "string"}}
	},
	"CorrelationID": func() *Parameter {
		return &Parameter{Name: "X-Correlation-ID", In: "header",
			Description: "Ties the command's events to a conversation; echoed, and made up when missing.",
			Schema:      Schema{"type": "string", "maxLength": 200}}
	},
	"CausationID": func() *Parameter {
		return &Parameter{Name: "X-Causation-ID", In: "header", Description: "What caused the command, recorded with its events.",
			Schema: Schema{"type": "string", "maxLength": 200}}
	},
	"Limit": func() *Parameter {
		return &Parameter{Name: "limit", In: "query", Description: "Records a page holds.",
			Schema: Schema{"type": "integer", "minimum": 1, "maximum": query.MaxLimit, "default": query.DefaultLimit}}
	},
	"Page": func() *Parameter {
		return &Parameter{Name: "page", In: "query", Description: "The page, from 1 (not with `cursor`).",
			Schema: Schema{"type": "integer", "minimum": 1, "maximum": query.MaxPage, "default": 1}}
	},
	"Cursor": func() *Parameter {
		return &Parameter{Name: "cursor", In: "query",
			Description: "Continues after the page that answered it, without an offset; valid with the same query and sort only.",
			Schema:      Schema{"type": "string"}}
	},
	"Include": func() *Parameter {
		return &Parameter{Name: "include", In: "query", Description: "Record fields to answer besides the default ones, comma separated.",
			Schema:   Schema{"type": "string", "pattern": "^(tenant|created_by|updated_by)(,(tenant|created_by|updated_by))*$"},
			Examples: map[string]*Example{"who": {Value: "created_by,updated_by"}}}
	},
	"Deleted": func() *Parameter {
		return &Parameter{Name: "deleted", In: "query", Description: "Lists soft-deleted records too.",
			Schema: Schema{"type": "boolean", "default": false}}
	},
	"After": func() *Parameter {
		return &Parameter{Name: "after", In: "query", Description: "Answers the events after this version.",
			Schema: Schema{"type": "integer", "minimum": 0, "default": 0}}
	},
	"EventsLimit": func() *Parameter {
		return &Parameter{Name: "limit", In: "query", Description: "Events a page holds (a page also ends once its events' data reaches the host's page size).",
			Schema: Schema{"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
	},
	"Version": func() *Parameter {
		return &Parameter{Name: "version", In: "query", Description: "The state as it was at this version, replayed from the events (not with `at`).",
			Schema: Schema{"type": "integer", "minimum": 1}}
	},
	"MinVersion": func() *Parameter {
		return &Parameter{Name: "min_version", In: "query", Description: "Read-your-writes: the state at least at this version (one a command answered). " +
			"A host reading from a replica waits briefly for it to catch up, then reads the primary.",
			Schema: Schema{"type": "integer", "minimum": 0}}
	},
	"At": func() *Parameter {
		return &Parameter{Name: "at", In: "query", Description: "The state as it was at this time, RFC 3339 (not with `version`).",
			Schema: Schema{"type": "string", "format": "date-time"}}
	},
}

var sharedHeaders = map[string]*Header{
	"ETag": {Description: "The state's entity tag (its version, quoted), for `If-Match` and `If-None-Match`.",
		Schema: Schema{"type": "string"}},
	"Location":           {Description: "Where the created aggregate's state is read.", Schema: Schema{"type": "string"}},
	"CorrelationID":      {Description: "The request's correlation id: the one sent, or one made up.", Schema: Schema{"type": "string"}},
	"IdempotentReplayed": {Description: "`true` when the answer is the first answer to the same Idempotency-Key.", Schema: Schema{"type": "string", "enum": []string{"true"}}},
	"WWWAuthenticate":    {Description: "The bearer challenge (RFC 6750), with the reason a credential was refused.", Schema: Schema{"type": "string"}},
	"RetryAfter":         {Description: "Seconds to wait before trying again.", Schema: Schema{"type": "integer"}},
}

// problems are the error answers: the codes each status carries, and the
// code and detail of its example. Every error is an application/problem+json
// body.
var problems = map[int]struct{ codes, code, detail string }{
	http.StatusBadRequest: {"`malformed-json`, `duplicate-property`, `invalid-payload` (with the violations in `details`), `invalid-query`, `invalid-id`, " +
		"`aggregate-id-required`, `aggregate-id-conflict`, `invalid-batch`, `bad-request`", "invalid-payload", "the payload does not match the command's schema"},
	http.StatusUnauthorized: {"`unauthenticated` (credentials missing or refused), `authentication-required` (anonymous callers refused even in development mode)",
		"unauthenticated", "the request is not authenticated: no credentials"},
	http.StatusForbidden: {"`forbidden`: the caller lacks the permission the command or the resource declares", "forbidden", "the caller has no grant of the permission this needs"},
	http.StatusNotFound: {"`no-route`, `unknown-domain`, `unknown-command`, `unknown-resource`, `aggregate-not-found` (another tenant's aggregate is not found either), `version-not-found`",
		"aggregate-not-found", "no such aggregate"},
	http.StatusNotAcceptable:                {"`not-acceptable`", "not-acceptable", "GET /_events answers text/event-stream, or a WebSocket on an upgrade"},
	http.StatusConflict:                     {"`aggregate-exists`, `version-conflict` (the aggregate kept changing through every retry)", "version-conflict", "the aggregate kept changing"},
	http.StatusPreconditionFailed:           {"`precondition-failed`: `If-Match` names another version", "precondition-failed", "the aggregate's ETag is \"4\", not \"3\""},
	http.StatusRequestEntityTooLarge:        {"`body-too-large`, `replay-too-large`, `media-too-large`", "body-too-large", "the body is larger than the limit"},
	http.StatusUnsupportedMediaType:         {"`unsupported-media-type`", "unsupported-media-type", "send the payload as application/json"},
	http.StatusRequestedRangeNotSatisfiable: {"`range-not-satisfiable`", "range-not-satisfiable", "the file has 10 bytes; the range starts at 20"},
	http.StatusUnprocessableEntity: {"the domain's own codes (a business rule refused the command), `idempotency-key-reused`, `media-not-found`",
		"idempotency-key-reused", "the Idempotency-Key was already used for a different request"},
	http.StatusInternalServerError: {"`internal`, `plugin-failed`, `plugin-fuel-exhausted`, `plugin-invalid-result`: the plugin failed; the host keeps serving",
		"plugin-failed", "the plugin failed"},
	http.StatusServiceUnavailable: {"`aggregate-busy`, `plugin-busy`, `memory-exhausted`, `store-unavailable`, `shutting-down`, `too-many-streams`; try again after Retry-After",
		"plugin-busy", "the plugin is busy"},
}

// problem returns a reference to the shared answer of an error status.
func (b *builder) problem(status int) *Response {
	name := strings.NewReplacer(" ", "", "-", "").Replace(http.StatusText(status))
	if _, ok := b.doc.Components.Responses[name]; !ok {
		p, known := problems[status]
		if !known {
			panic("openapi: no problem answer for " + strconv.Itoa(status))
		}
		ex := map[string]any{"type": "urn:fluvius:problem:" + p.code, "title": http.StatusText(status), "status": status,
			"detail": p.detail, "code": p.code}
		if status == http.StatusBadRequest {
			ex["details"] = []any{map[string]any{"path": "/name", "message": "must be at least 1 character long"}}
		}
		r := &Response{Description: http.StatusText(status) + ". Codes: " + p.codes + ".",
			Content: map[string]*MediaType{"application/problem+json": {Schema: b.schema("Problem"),
				Examples: map[string]*Example{p.code: {Value: ex}}}}}
		switch status {
		case http.StatusUnauthorized:
			r.Headers = map[string]*Header{"WWW-Authenticate": b.header("WWWAuthenticate")}
		case http.StatusServiceUnavailable:
			r.Headers = map[string]*Header{"Retry-After": b.header("RetryAfter")}
		}
		b.doc.Components.Responses[name] = r
	}
	return &Response{Ref: ref("responses", name)}
}

// addProblems adds the error answers of statuses to an operation.
func (b *builder) addProblems(op *Operation, statuses ...int) {
	for _, s := range statuses {
		op.Responses[strconv.Itoa(s)] = b.problem(s)
	}
}
