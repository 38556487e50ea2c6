package openapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The platform's own routes, beside the domains': live events, media,
// batches and this document.

const (
	tagPlatform = "platform"
	tagMedia    = "media"
)

func (b *builder) platform() {
	b.doc.Tags = append(b.doc.Tags, Tag{Name: tagPlatform, Description: "The host's own routes: live events and batches."})
	b.path("/_events").Get = b.liveEvents()
	if b.opts.Batch {
		b.path("/_batch").Post = b.batch()
	}
	if b.opts.Media {
		b.doc.Tags = append(b.doc.Tags, Tag{Name: tagMedia, Description: "Files attached to aggregates: uploaded, read under the aggregates' rules, signed URLs."})
		b.media()
	}
}

func (b *builder) liveEvents() *Operation {
	sc := b.sampleCommand()
	ev := map[string]any{"id": exampleEventID, "type": sc.event, "version": 1, "position": 42, "data": sc.payload,
		"created_at": exampleTime, "domain": sc.domain, "resource": sc.resource, "aggregate_id": exampleID, "cursor": "0.42"}
	data, _ := json.Marshal(ev)
	sse := "retry: 2000\n\nid: 0.42\nevent: " + sc.event + "\ndata: " + string(data) + "\n\n: heartbeat\n\n"
	explode := true
	op := &Operation{OperationID: "live-events", Tags: []string{tagPlatform},
		Summary: "Follow events as they commit",
		Description: "Server-Sent Events (`Accept: text/event-stream`), or a WebSocket on an upgrade, of the caller's tenant's events " +
			"that the caller may read. Each event's `id:` (and `cursor`) is its place in the feed: a client reconnecting with `Last-Event-ID` " +
			"(or `after=`) gets exactly the events it missed, then the live ones; without either the stream starts at the end of the feed. " +
			"A heartbeat comment every 15 s. When the host ends a stream it says why (`event: error` with `{\"reason\", \"detail\"}`: " +
			"`slow-consumer`, `shutting-down`, `internal`). A client that falls behind its buffer is dropped and may resume.",
		Parameters: []*Parameter{
			{Name: "domain", In: "query", Description: "Only this domain's events.", Schema: Schema{"type": "string"}},
			{Name: "resource", In: "query", Description: "Only this resource's (needs `domain`).", Schema: Schema{"type": "string"}},
			{Name: "id", In: "query", Description: "Only this aggregate's (needs `resource`).", Schema: Schema{"type": "string"}},
			{Name: "type", In: "query", Description: "Only these event types: repeated, or comma separated.", Style: "form", Explode: &explode,
				Schema: Schema{"type": "array", "items": Schema{"type": "string"}}},
			{Name: "after", In: "query", Description: "Resumes after the event with this id.", Schema: Schema{"type": "string"}},
			{Name: "Last-Event-ID", In: "header", Description: "Resumes after this event (EventSource sends it); wins over `after`.", Schema: Schema{"type": "string"}},
		},
		Responses: map[string]*Response{"200": {Description: "The stream, until the client or the host ends it.",
			Content: map[string]*MediaType{"text/event-stream": {
				Schema:   Schema{"type": "string", "description": "SSE frames: `id:`, `event:` (the event type) and `data:`, the event as `GET .../events` shows it with `domain`, `resource`, `aggregate_id` and `cursor`."},
				Examples: map[string]*Example{"stream": {Value: sse}}}}}},
	}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusNotAcceptable, http.StatusServiceUnavailable)
	return op
}

func (b *builder) batch() *Operation {
	commands := Schema{"type": "array", "minItems": 1, "items": Schema{"type": "object",
		"required": []string{"domain", "command", "resource"},
		"properties": Schema{
			"domain":          Schema{"type": "string"},
			"command":         Schema{"type": "string"},
			"resource":        Schema{"type": "string"},
			"id":              Schema{"type": "string", "description": "The aggregate's id, as in the command's URL: `:new` for a command that creates one."},
			"payload":         Schema{"type": "object", "description": "The command's payload, checked against its schema (none is `{}`)."},
			"idempotency_key": Schema{"type": "string", "maxLength": 200, "description": "The command's `Idempotency-Key`."},
		}}}
	if b.opts.MaxBatch > 0 {
		commands["maxItems"] = b.opts.MaxBatch
	}
	s := b.doc.Components.Schemas
	s["BatchRequest"] = Schema{"type": "object", "required": []string{"commands"},
		"description": "Commands run in order, each as its own `POST /{domain}:{command}/{resource}/{id}` would run.",
		"properties": Schema{
			"atomic": Schema{"type": "boolean", "default": false,
				"description": "All or nothing: decided in order and written in one transaction; a refusal commits none of them."},
			"commands": commands,
		}}
	s["BatchAnswer"] = Schema{"type": "object", "required": []string{"committed", "results"},
		"properties": Schema{
			"committed": Schema{"type": "boolean", "description": "Every command ran (an atomic batch: and was written)."},
			"results": Schema{"type": "array", "description": "One per command, in order. In an atomic batch that failed, the command that failed has its problem and the others 424 `batch-aborted`.",
				"items": Schema{"type": "object", "required": []string{"status", "body"},
					"properties": Schema{
						"status": Schema{"type": "integer", "description": "The status the command alone would have answered."},
						"body":   Schema{"anyOf": []any{b.schema("CommandAnswer"), b.schema("Problem")}},
					}}},
		}}
	sc := b.sampleCommand()
	req := map[string]any{"atomic": true, "commands": []any{
		map[string]any{"domain": sc.domain, "command": sc.command, "resource": sc.resource, "id": ":new",
			"payload": sc.payload, "idempotency_key": "batch-1-command-1"},
	}}
	events := []any{}
	if sc.event != "" {
		events = append(events, eventExample(sc.event, 1, sc.payload))
	}
	answer := map[string]any{"committed": true, "results": []any{map[string]any{"status": 201, "body": map[string]any{
		"id": exampleID, "resource": sc.resource, "data": sc.state, "events": events, "version": 1, "etag": "1"}}}}
	op := &Operation{OperationID: "batch", Tags: []string{tagPlatform},
		Summary:     "Run several commands",
		Description: "Runs the commands in order and answers each one's status and body; with `atomic`, all of them or none.",
		Parameters:  []*Parameter{b.param("CorrelationID")},
		RequestBody: &RequestBody{Required: true, Content: map[string]*MediaType{"application/json": {
			Schema: schemaRef("BatchRequest"), Examples: map[string]*Example{"example": {Value: req}}}}},
		Responses: map[string]*Response{"200": {Description: "Each command's answer.",
			Headers: map[string]*Header{"X-Correlation-ID": b.header("CorrelationID")},
			Content: jsonContent(schemaRef("BatchAnswer"), answer)}},
	}
	b.addProblems(op, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	return op
}

// sampleCommand is the command the platform's examples send: one the
// document describes, or a made-up one when no domain has one to show.
func (b *builder) sampleCommand() *sampleCommand {
	if b.sample != nil {
		return b.sample
	}
	return &sampleCommand{domain: "note", command: "create-note", resource: "note", event: "note-created",
		payload: map[string]any{"text": "hello"}, state: map[string]any{"text": "hello"}}
}

func (b *builder) media() {
	b.doc.Components.Schemas["MediaInfo"] = Schema{"type": "object",
		"required": []string{"id", "name", "size", "content_type", "sha256", "created_at", "url", "attached_to"},
		"properties": Schema{
			"id":           Schema{"type": "string"},
			"name":         Schema{"type": "string", "description": "The name it was uploaded with, for display only."},
			"size":         Schema{"type": "integer", "minimum": 0},
			"content_type": Schema{"type": "string", "description": "Sniffed from the content, never taken from the client."},
			"sha256":       Schema{"type": "string", "pattern": "^[0-9a-f]{64}$"},
			"owner":        Schema{"type": "string", "description": "The uploader."},
			"created_at":   Schema{"type": "string", "format": "date-time"},
			"url":          Schema{"type": "string", "description": "Where its bytes are read."},
			"attached_to": Schema{"type": "array", "items": Schema{"type": "object", "required": []string{"domain", "resource", "id", "at"},
				"properties": Schema{"domain": Schema{"type": "string"}, "resource": Schema{"type": "string"},
					"id": Schema{"type": "string"}, "at": Schema{"type": "string", "format": "date-time"}}}},
		}}
	info := map[string]any{"id": exampleID, "name": "invoice.pdf", "size": 48213, "content_type": "application/pdf",
		"sha256": strings.Repeat("3a", 32), "owner": exampleUser, "created_at": exampleTime, "url": "/_media/" + exampleID, "attached_to": []any{}}
	id := &Parameter{Name: "id", In: "path", Required: true, Description: "The media's id.", Schema: Schema{"type": "string"}}
	tags := []string{tagMedia}

	upload := &Operation{OperationID: "media.upload", Tags: tags, Summary: "Upload a file",
		Description: "Streams a file into the blob store: a form's `file` part, or the whole body (name it with `?name=`). " +
			"Past the host's size limit it answers 413 and keeps nothing; the type is sniffed and checked against an allow-list (415 otherwise). " +
			"The same content uploaded twice in a tenant is stored once.",
		Parameters: []*Parameter{{Name: "name", In: "query", Description: "The file's name, for a raw body.", Schema: Schema{"type": "string"}}},
		RequestBody: &RequestBody{Required: true, Content: map[string]*MediaType{
			"multipart/form-data": {Schema: Schema{"type": "object", "required": []string{"file"},
				"properties": Schema{"file": Schema{"type": "string", "contentMediaType": "application/octet-stream"}}}},
			"application/octet-stream": {Schema: Schema{"type": "string", "contentMediaType": "application/octet-stream"}},
		}},
		Responses: map[string]*Response{"201": {Description: "Stored.",
			Headers: map[string]*Header{"Location": {Description: "Where its bytes are read.", Schema: Schema{"type": "string"}}},
			Content: jsonContent(schemaRef("MediaInfo"), info)}}}
	b.addProblems(upload, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusInternalServerError, http.StatusServiceUnavailable)
	b.path("/_media").Post = upload

	download := &Operation{OperationID: "media.download", Tags: tags, Summary: "Read a file",
		Description: "The file's bytes, to a caller who may read it (its uploader, or whoever may read an aggregate it is attached to), " +
			"or to whoever holds a URL the host signed (`signature`, `tenant`, `expires`, from `GET /_media/{id}/url`). One byte range at most.",
		Parameters: []*Parameter{id,
			{Name: "signature", In: "query", Description: "Of a signed URL.", Schema: Schema{"type": "string"}},
			{Name: "tenant", In: "query", Description: "Of a signed URL.", Schema: Schema{"type": "string"}},
			{Name: "expires", In: "query", Description: "Of a signed URL.", Schema: Schema{"type": "string"}},
			{Name: "Range", In: "header", Description: "`bytes=first-last`, `bytes=first-` or `bytes=-length`.", Schema: Schema{"type": "string"}},
			{Name: "If-Range", In: "header", Description: "Honours Range only while the ETag is this one.", Schema: Schema{"type": "string"}},
			{Name: "If-None-Match", In: "header", Description: "Answers 304 while the ETag is this one.", Schema: Schema{"type": "string"}},
		},
		Responses: map[string]*Response{
			"200": {Description: "The file, as an attachment, with its sniffed type.",
				Headers: map[string]*Header{"ETag": {Description: "The content's SHA-256, quoted.", Schema: Schema{"type": "string"}}},
				Content: map[string]*MediaType{"application/octet-stream": {Schema: Schema{"type": "string", "contentMediaType": "application/octet-stream"}}}},
			"206": {Description: "The range asked for.",
				Headers: map[string]*Header{"Content-Range": {Description: "`bytes first-last/size`.", Schema: Schema{"type": "string"}}},
				Content: map[string]*MediaType{"application/octet-stream": {Schema: Schema{"type": "string", "contentMediaType": "application/octet-stream"}}}},
			"304": {Description: "Not modified."},
		}}
	b.addProblems(download, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestedRangeNotSatisfiable,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	b.path("/_media/{id}").Get = download

	remove := &Operation{OperationID: "media.delete", Tags: tags, Summary: "Delete a file",
		Description: "By its uploader or an admin; refused (409) while an aggregate holds it.",
		Parameters:  []*Parameter{id},
		Responses:   map[string]*Response{"204": {Description: "Deleted."}}}
	b.addProblems(remove, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	b.path("/_media/{id}").Delete = remove

	meta := &Operation{OperationID: "media.meta", Tags: tags, Summary: "Describe a file",
		Description: "Its metadata, and the aggregates it is attached to.",
		Parameters:  []*Parameter{id},
		Responses:   map[string]*Response{"200": {Description: "The file's metadata.", Content: jsonContent(schemaRef("MediaInfo"), info)}}}
	b.addProblems(meta, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable)
	b.path("/_media/{id}/meta").Get = meta

	signed := &Operation{OperationID: "media.url", Tags: tags, Summary: "Sign a download URL",
		Description: "A URL that reads the file without credentials until it expires.",
		Parameters: []*Parameter{id, {Name: "ttl", In: "query", Description: "Seconds the URL stays valid.",
			Schema: Schema{"type": "integer", "minimum": 1, "maximum": 604800, "default": 300}}},
		Responses: map[string]*Response{"200": {Description: "The signed URL.", Content: jsonContent(
			Schema{"type": "object", "required": []string{"url", "expires_at"},
				"properties": Schema{"url": Schema{"type": "string"}, "expires_at": Schema{"type": "string", "format": "date-time"}}},
			map[string]any{"url": "/_media/" + exampleID + "?tenant=acme&expires=1767366245&signature=c2lnbmF0dXJl", "expires_at": exampleTime})}}}
	b.addProblems(signed, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusInternalServerError, http.StatusServiceUnavailable)
	b.path("/_media/{id}/url").Get = signed
}
