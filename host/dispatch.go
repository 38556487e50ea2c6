package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/store"
)

// Command is a command as the HTTP layer hands it over.
type Command struct {
	Domain      string
	Name        string
	Resource    string
	AggregateID string // must be "" with New
	New         bool   // addressed as :new: the host generates the id
	Payload     []byte // JSON; empty means {}
	Caller      abi.Caller
	// IdempotencyKey makes a retried command answer what it answered first.
	IdempotencyKey string
	// IfMatch is an ETag the aggregate must still have ("" for no check).
	IfMatch       string
	CorrelationID string
	CausationID   string

	// aggregate names the aggregate for the lanes and the state cache
	// (tenant and stream), made once per command by Dispatch.
	aggregate string
	// refused is the 403 the caller got by its own grants, when it may
	// still hold one of roles on the aggregate: each attempt checks again
	// on the state it decides on.
	refused error
	roles   map[string]string
	// newID is the id a command that creates gets instead of a random
	// one: an event handler's are derived from the event (Deliver).
	newID string
	// stats gather what the observer hears of the command.
	stats CommandStats
}

// CommandResult is a command's outcome.
type CommandResult struct {
	Created     bool // a new aggregate was created (HTTP 201)
	AggregateID string
	Version     int64
	ETag        string
	Body        []byte // the JSON answer: {id, resource, data, events, version, etag}
	Replayed    bool   // answered from an idempotency record
}

// commandBody is the JSON answer to a command. The host renders it once, so
// an idempotent replay answers byte for byte what the first call answered.
type commandBody struct {
	ID       string          `json:"id"`
	Resource string          `json:"resource"`
	Data     json.RawMessage `json:"data"`
	Events   []EventView     `json:"events"`
	Version  int64           `json:"version"`
	ETag     string          `json:"etag"`
}

// EventView is an event as the HTTP API shows it.
type EventView struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Version   int64           `json:"version"`
	Position  int64           `json:"position,omitempty"` // omitted in command answers`
	Data      json.RawMessage `json:"data"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// ViewEvent converts a stored event for the API.
func ViewEvent(ev *store.Event, withMetadata bool) EventView {
	v := EventView{ID: ev.ID, Type: ev.Type, Version: ev.Version, Position: ev.Position,
		Data: json.RawMessage(ev.Data), CreatedAt: ev.CreatedAt}
	if withMetadata {
		v.Metadata = json.RawMessage(ev.Metadata)
	}
	return v
}

// eventMetadata is stored with every event: who and what caused it.
type eventMetadata struct {
	CommandID     string     `json:"command_id"`
	Command       string     `json:"command"`
	Caller        callerView `json:"caller"`
	CorrelationID string     `json:"correlation_id,omitempty"`
	CausationID   string     `json:"causation_id,omitempty"`
	PluginSHA256  string     `json:"plugin_sha256"`
	// Jobs are the jobs the command enqueues, on its first event only: the
	// outbox the host enqueues them from (see EnqueuedJobs).
	Jobs []jobView `json:"jobs,omitempty"`
	// The W3C trace context of the command's dispatch, so that handlers
	// reacting to the event continue its trace.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

type callerView struct {
	UserID string   `json:"user_id,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// Stream returns the event stream name of an aggregate within its tenant
// (store.StreamKey pairs the two).
func Stream(domain, resource, id string) string { return domain + "." + resource + "/" + id }

// aggregateKey names the command's aggregate for the lanes and the state
// cache: tenant and stream. It is made once; the id must be set.
func (c *Command) aggregateKey() string {
	if c.aggregate == "" {
		c.aggregate = c.Caller.Tenant + "\x00" + Stream(c.Domain, c.Resource, c.AggregateID)
	}
	return c.aggregate
}

// ETag is a state's entity tag: its version. A version names one state of
// one aggregate for good (events are immutable and versions never repeat),
// so hashing the state as well would add cost and nothing else.
func ETag(version int64) string { return strconv.FormatInt(version, 10) }

// Dispatch runs one command: check it, let the plugin decide, and append
// its events with the state and idempotency record in one transaction. A
// version conflict (another command won the race) decides again from the
// new state, a bounded number of times.
func (h *Host) Dispatch(ctx context.Context, cmd *Command) (res *CommandResult, err error) {
	c := *cmd // the id may be filled in below; the caller's command stays as given
	cmd = &c
	p, spec, err := h.resolve(cmd.Domain, cmd.Name, cmd.Resource)
	if err != nil {
		return nil, err
	}
	if spec.Internal && !InternalCaller(cmd.Caller, cmd.Domain) {
		// Clients learn nothing of it: the answer of a missing command.
		return nil, errorf(KindNotFound, "unknown-command", "domain %s has no command %q", cmd.Domain, cmd.Name)
	}
	cmd.stats = CommandStats{Domain: p.Domain(), Command: spec.Name}
	ctx, span := tracer.Start(ctx, "dispatch "+p.Domain()+"."+spec.Name, trace.WithAttributes(
		attribute.String("fluvius.domain", p.Domain()), attribute.String("fluvius.command", spec.Name)))
	if span.IsRecording() {
		// A request's strings may alias its buffers (Fiber's do), and the
		// span outlives the request: it keeps copies.
		span.SetAttributes(attribute.String("fluvius.resource", strings.Clone(cmd.Resource)),
			attribute.String("fluvius.tenant", strings.Clone(cmd.Caller.Tenant)))
	}
	defer func() {
		// After count (deferred below, so run first) has the outcome.
		if span.IsRecording() {
			span.SetAttributes(attribute.String("fluvius.outcome", cmd.stats.Outcome),
				attribute.String("fluvius.aggregate_id", strings.Clone(cmd.AggregateID)),
				attribute.Int("fluvius.conflicts", cmd.stats.Conflicts), attribute.Int64("fluvius.fuel", cmd.stats.Fuel))
			if res != nil {
				span.SetAttributes(attribute.Int64("fluvius.version", res.Version))
			}
		}
		endSpan(span, err)
	}()
	defer h.count(&cmd.stats, &err)
	if cmd.New && !spec.New {
		return nil, errorf(KindInvalid, "aggregate-id-required",
			"command %s acts on an existing %s: address it by id, not :new", spec.Name, cmd.Resource)
	}
	if cmd.New && cmd.AggregateID != "" {
		return nil, errorf(KindInvalid, "aggregate-id-conflict", "a :new command gets its id from the host; do not give one")
	}
	if !cmd.New && cmd.AggregateID == "" {
		return nil, errorf(KindInvalid, "aggregate-id-required", "command %s needs an aggregate id", spec.Name)
	}
	if err := checkID("aggregate id", cmd.AggregateID, maxIDBytes); err != nil {
		return nil, err
	}
	// Before anything is read: a refusal says nothing of the aggregate.
	// Only a caller who may hold a role on the aggregate is asked again,
	// on the state the command is decided on.
	if err := h.authorize(cmd.Caller, spec.AuthRequired, spec.Policy, actionRun, nil); err != nil {
		agg := p.manifest.Aggregate(cmd.Resource)
		if !isForbidden(err) || cmd.New || len(agg.Roles) == 0 || cmd.Caller.UserID == "" {
			return nil, err
		}
		cmd.roles, cmd.refused = agg.Roles, err
	}
	if err := checkID("Idempotency-Key", cmd.IdempotencyKey, maxIDBytes); err != nil {
		return nil, err
	}
	payload := cmd.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if err := validatePayload(p.manifest.payloads[spec.Name], spec.Name, payload); err != nil {
		return nil, err
	}
	var idem *store.IdempotencyRecord
	if cmd.IdempotencyKey != "" {
		idem = &store.IdempotencyRecord{IdempotencyKey: store.IdempotencyKey{
			Scope: idempotencyScope(cmd), Key: cmd.IdempotencyKey},
			RequestHash: requestHash(cmd, payload)}
		if res, err := h.replay(ctx, idem); res != nil || err != nil {
			return res, err
		}
	}
	if cmd.New && cmd.AggregateID == "" && cmd.newID == "" {
		cmd.AggregateID = uuid.Must(uuid.NewV7()).String()
	} else {
		if cmd.New && cmd.AggregateID == "" {
			cmd.AggregateID = cmd.newID
		}
		// One command at a time per aggregate on this host: the queue,
		// not a lost race and a retry, orders them.
		release, err := h.lanes.acquire(ctx, cmd.aggregateKey())
		if errors.Is(err, errLaneFull) {
			return nil, &Error{Kind: KindUnavailable, Code: "aggregate-busy",
				Message: fmt.Sprintf("%s %s has %d commands queued already; retry later", cmd.Resource, cmd.AggregateID, h.cfg.MaxQueuePerAggregate), Err: err}
		}
		if err != nil {
			return nil, &Error{Kind: KindUnavailable, Code: "cancelled", Message: "the command was cancelled while it waited for its turn", Err: err}
		}
		defer release()
	}
	for attempt := 0; ; attempt++ {
		res, err := h.attempt(ctx, p, spec, cmd, payload, idem)
		if errors.Is(err, store.ErrDuplicate) && idem != nil {
			// Another request with the same key committed first.
			if res, rerr := h.replay(ctx, idem); res != nil || rerr != nil {
				return res, rerr
			}
		}
		if errors.Is(err, errRetired) && attempt < h.cfg.MaxConflictRetries {
			cmd.stats.Swaps++
			if p, spec, err = h.resolve(cmd.Domain, cmd.Name, cmd.Resource); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && !errors.Is(err, store.ErrDuplicate) && !isClientError(err) {
			// A conflict, or a write whose outcome is unknown: the cached
			// state may be stale.
			h.states.drop(cmd.aggregateKey())
		}
		if !errors.Is(err, store.ErrVersionConflict) {
			return res, err
		}
		cmd.stats.Conflicts++
		if cmd.IfMatch != "" {
			return nil, &Error{Kind: KindPreconditionFailed, Code: "precondition-failed",
				Message: "the aggregate changed while the command was decided; If-Match no longer holds", Err: err}
		}
		if attempt >= h.cfg.MaxConflictRetries {
			return nil, &Error{Kind: KindConflict, Code: "version-conflict",
				Message: fmt.Sprintf("%s %s kept changing; gave up after %d attempts", cmd.Resource, cmd.AggregateID, attempt+1), Err: err}
		}
	}
}

// validatePayload checks a payload in one pass over its bytes before any
// other work. The guest is then handed exactly these bytes: what it reads is
// what was checked. Duplicate properties are refused outright, since JSON
// parsers disagree on which copy counts (the SDK reads the first).
func validatePayload(v *schema.Validator, command string, payload []byte) error {
	violations, err := v.Validate(payload)
	var m *schema.MalformedError
	if errors.As(err, &m) {
		if m.Duplicate {
			return &Error{Kind: KindInvalid, Code: "duplicate-property",
				Message: fmt.Sprintf("the payload of %s names the property %s more than once", command, m.Path),
				Details: []schema.Violation{{Path: m.Path, Message: m.Msg}}}
		}
		return &Error{Kind: KindInvalid, Code: "malformed-json",
			Message: fmt.Sprintf("the payload of %s is not valid JSON: %s", command, m.Msg),
			Details: []schema.Violation{{Path: m.Path, Message: m.Error()}}}
	}
	if len(violations) > 0 {
		return &Error{Kind: KindInvalid, Code: "invalid-payload",
			Message: fmt.Sprintf("the payload of %s does not match its schema", command), Details: violations}
	}
	if hasNULEscape(payload) {
		// Refused here, not when a plugin copies it into an event.
		return &Error{Kind: KindInvalid, Code: "invalid-payload",
			Message: fmt.Sprintf("the payload of %s holds a NUL character (\\u0000), which no string may", command)}
	}
	return nil
}

// maxIDBytes bounds ids and keys: they end up in index entries, which every
// store limits (PostgreSQL's btree refuses rows over ~2.7 KB).
const maxIDBytes = 200

// checkID refuses ids a store could not index or a log could not show.
func checkID(what, id string, max int) error {
	if len(id) > max {
		return errorf(KindInvalid, "invalid-id", "the %s is %d bytes long; at most %d are allowed", what, len(id), max)
	}
	if !utf8.ValidString(id) {
		return errorf(KindInvalid, "invalid-id", "the %s is not valid UTF-8", what)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return errorf(KindInvalid, "invalid-id", "the %s contains a control character", what)
		}
	}
	return nil
}

// InternalCaller reports whether caller is one of domain's own handlers or
// jobs, the only callers of its internal commands.
func InternalCaller(caller abi.Caller, domain string) bool {
	return strings.HasPrefix(caller.UserID, "handler:"+domain+".") || strings.HasPrefix(caller.UserID, "job:"+domain+".")
}

// resolve finds the plugin and command spec, or says which part is unknown.
func (h *Host) resolve(domain, command, resource string) (*Plugin, *abi.CommandSpec, error) {
	p := h.Plugin(domain)
	if p == nil {
		return nil, nil, errorf(KindNotFound, "unknown-domain", "no domain %q is loaded", domain)
	}
	spec := p.manifest.Command(command)
	if spec == nil {
		return nil, nil, errorf(KindNotFound, "unknown-command", "domain %s has no command %q", domain, command)
	}
	if !slices.Contains(spec.Resources, resource) {
		return nil, nil, errorf(KindNotFound, "unknown-resource", "command %s:%s does not apply to resource %q (it applies to %v)",
			domain, command, resource, spec.Resources)
	}
	return p, spec, nil
}

// idempotencyScope is who may reuse a key: the same caller of the same
// domain. Parts are escaped so no tenant or user name can forge another's.
func idempotencyScope(cmd *Command) string {
	return cmd.Domain + "/" + url.PathEscape(cmd.Caller.Tenant) + "/" + url.PathEscape(cmd.Caller.UserID)
}

func requestHash(cmd *Command, payload []byte) string {
	id := cmd.AggregateID
	if cmd.New {
		id = ":new"
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", cmd.Domain, cmd.Name, cmd.Resource, id)
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}

// replay answers from an idempotency record if there is one.
func (h *Host) replay(ctx context.Context, idem *store.IdempotencyRecord) (*CommandResult, error) {
	rec, err := h.cfg.Store.Executor().IdempotencyGet(ctx, &idem.IdempotencyKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading idempotency record: %w", err)
	}
	if rec.RequestHash != idem.RequestHash {
		return nil, errorf(KindDomain, "idempotency-key-reused",
			"the Idempotency-Key %q was already used for a different request", idem.Key)
	}
	var body commandBody
	if err := json.Unmarshal(rec.Response, &body); err != nil {
		return nil, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return &CommandResult{Created: rec.Status == 201, AggregateID: body.ID, Version: body.Version,
		ETag: body.ETag, Body: rec.Response, Replayed: true}, nil
}

func (h *Host) attempt(ctx context.Context, p *Plugin, spec *abi.CommandSpec, cmd *Command, payload []byte, idem *store.IdempotencyRecord) (*CommandResult, error) {
	// The caller's tenant is part of the aggregate's key: another tenant's
	// aggregate with the same id is not found, so it cannot even be seen
	// to exist.
	key := store.StateKey{Tenant: cmd.Caller.Tenant, Domain: cmd.Domain, Resource: cmd.Resource, ID: cmd.AggregateID}
	stream := Stream(cmd.Domain, cmd.Resource, cmd.AggregateID)
	var current *store.StateRecord
	// An id the host has just made up names nothing yet: no need to look.
	// (Were it ever taken, the append at version 0 would still conflict.)
	cacheKey := cmd.aggregateKey()
	st := stageOf(ctx)
	if st != nil && !cmd.New {
		// An earlier command of the same atomic batch wrote it.
		current = st.states[cacheKey]
	}
	if !cmd.New && cmd.IfMatch == "" && current == nil {
		current = h.states.get(cacheKey)
	}
	if !cmd.New && current == nil {
		var err error
		current, err = h.cfg.Store.Executor().StateGet(ctx, &key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("loading %s: %w", stream, err)
		}
	}
	exists := current != nil
	if cmd.refused != nil {
		// Before If-Match or existence is answered: a caller holding
		// nothing learns nothing of the aggregate.
		if err := h.authorizeHolder(cmd.Caller, cmd.roles, current, spec.Policy, actionRun, cmd.refused); err != nil {
			return nil, err
		}
	}
	// Existence first: If-Match on an aggregate that does not exist is a
	// 404, which is what the client needs to hear.
	if !spec.New && !exists {
		return nil, errorf(KindNotFound, "aggregate-not-found", "%s %s does not exist", cmd.Resource, cmd.AggregateID)
	}
	if cmd.IfMatch != "" && (!exists || (cmd.IfMatch != "*" && cmd.IfMatch != current.ETag)) {
		return nil, errorf(KindPreconditionFailed, "precondition-failed", "If-Match %q does not match the current ETag of %s %s",
			cmd.IfMatch, cmd.Resource, cmd.AggregateID)
	}
	if spec.New && exists {
		return nil, errorf(KindConflict, "aggregate-exists", "%s %s already exists", cmd.Resource, cmd.AggregateID)
	}
	// Microseconds: what every store keeps, so replay sees the time deciding saw.
	now := h.cfg.Now().UTC().Truncate(time.Microsecond)
	env := abi.Command{
		ID: uuid.Must(uuid.NewV7()).String(), Domain: cmd.Domain, Name: spec.Name, Resource: cmd.Resource,
		AggregateID: cmd.AggregateID, Payload: payload, Caller: cmd.Caller,
		CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, Time: now.UnixNano(),
	}
	if exists {
		env.State, env.Version = current.Data, current.Version
	}
	decideStart := time.Now()
	gctx, gspan := tracer.Start(ctx, "guest decide", trace.WithAttributes(attribute.String("fluvius.plugin_sha256", p.id)))
	res, fuel, err := p.decide(gctx, &env)
	gspan.SetAttributes(attribute.Int64("fluvius.fuel", fuel))
	endSpan(gspan, err)
	cmd.stats.Decide += time.Since(decideStart)
	cmd.stats.Fuel += fuel
	if errors.Is(err, errRetired) {
		return nil, err // swapped out under us: Dispatch retries on the new plugin
	}
	if errors.Is(err, errMemoryBudget) {
		return nil, &Error{Kind: KindUnavailable, Code: "memory-exhausted",
			Message: fmt.Sprintf("the instances of the %s plugin (or of this host) use all the memory they may; retry later", p.Domain()), Err: err}
	}
	if errors.Is(err, errBusy) {
		return nil, &Error{Kind: KindUnavailable, Code: "plugin-busy",
			Message: fmt.Sprintf("every instance of the %s plugin is busy and %d calls are waiting; retry later", p.Domain(), h.cfg.MaxWaitingPerPlugin), Err: err}
	}
	if err != nil {
		return nil, h.guestFailure(p, spec.Name, cmd.Caller, err)
	}
	if err := statusError(p, spec, res); err != nil {
		return nil, err
	}
	if err := h.checkLimits(p, spec.Name, res); err != nil {
		return nil, err
	}
	if err := checkResult(p, spec, res); err != nil {
		return nil, h.guestFailure(p, spec.Name, cmd.Caller, err)
	}
	if err := h.checkAttached(ctx, key.Tenant, res.Attach); err != nil {
		return nil, err
	}
	body := commandBody{ID: cmd.AggregateID, Resource: cmd.Resource, Data: res.Response, Events: []EventView{}}
	if body.Data == nil {
		body.Data = res.State
	}
	if len(res.Events) == 0 {
		// Nothing happened: nothing to write, and the aggregate stays as it was.
		if exists {
			body.Version, body.ETag = current.Version, current.ETag
		}
		return h.commit(ctx, &body, false, idem, &cmd.stats, nil)
	}

	newVersion := env.Version + int64(len(res.Events))
	etag := ETag(newVersion)
	traceParent, traceState := traceContext(ctx)
	meta, _ := json.Marshal(eventMetadata{CommandID: env.ID, Command: spec.Name,
		Caller:        callerView{UserID: cmd.Caller.UserID, Tenant: cmd.Caller.Tenant, Roles: cmd.Caller.Roles},
		CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, PluginSHA256: p.id,
		TraceParent: traceParent, TraceState: traceState})
	events := make([]store.NewEvent, len(res.Events))
	for i, ev := range res.Events {
		events[i] = store.NewEvent{ID: uuid.Must(uuid.NewV7()).String(), Type: ev.Type, Data: ev.Data, Metadata: meta}
	}
	if len(res.Jobs) > 0 {
		first := eventMetadata{CommandID: env.ID, Command: spec.Name,
			Caller:        callerView{UserID: cmd.Caller.UserID, Tenant: cmd.Caller.Tenant, Roles: cmd.Caller.Roles},
			CorrelationID: cmd.CorrelationID, CausationID: cmd.CausationID, PluginSHA256: p.id, Jobs: viewJobs(res.Jobs),
			TraceParent: traceParent, TraceState: traceState}
		events[0].Metadata, _ = json.Marshal(first)
	}
	// The answer is rendered before the write, so it can be stored under the
	// idempotency key in the same statement; it carries every event as it
	// will be stored except its global position, which only the store knows.
	for i, ev := range events {
		body.Events = append(body.Events, EventView{ID: ev.ID, Type: ev.Type, Version: env.Version + int64(i) + 1,
			Data: json.RawMessage(ev.Data), CreatedAt: now})
	}
	body.Version, body.ETag = newVersion, etag
	res2, err := h.commit(ctx, &body, spec.New, idem, &cmd.stats, &store.CommandWrite{
		Append: &store.EventsAppendParams{StreamKey: store.StreamKey{Tenant: key.Tenant, Stream: stream},
			ExpectedVersion: env.Version, Events: events, Now: now},
		State: &store.StatePutParams{StateKey: key, Data: res.State, Version: newVersion,
			ExpectedVersion: env.Version, ETag: etag, By: cmd.Caller.UserID, Now: now, Deleted: res.Deleted},
	})
	if err == nil {
		if res.Deleted {
			h.states.drop(cacheKey)
		} else {
			h.states.put(cacheKey, &store.StateRecord{StateKey: key, Data: res.State, Version: newVersion, ETag: etag})
		}
		if st != nil {
			st.note(cacheKey, &store.StateRecord{StateKey: key, Data: res.State, Version: newVersion, ETag: etag},
				func() { h.recordAttached(ctx, key, res.Attach, now) })
		} else {
			h.recordAttached(ctx, key, res.Attach, now)
		}
	}
	return res2, err
}

// checkAttached refuses a command attaching media its tenant does not have
// (422, before anything is written): the client named a file that is not
// there, or another tenant's.
func (h *Host) checkAttached(ctx context.Context, tenant string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ms, ok := h.cfg.Store.(store.MediaStore)
	if !ok {
		return errorf(KindUnavailable, "media-unavailable", "this host's store keeps no media")
	}
	for _, id := range ids {
		if len(id) > maxIDBytes {
			return errorf(KindDomain, "media-not-found", "there is no media %.40q...", id)
		}
		if _, err := ms.MediaGet(ctx, tenant, id); errors.Is(err, store.ErrNotFound) {
			return errorf(KindDomain, "media-not-found", "there is no media %s", id)
		} else if err != nil {
			return fmt.Errorf("checking media %s: %w", id, err)
		}
	}
	return nil
}

// recordAttached records, after the command committed, that its aggregate
// references the media it attached. A media deleted in between is logged:
// the command stands.
func (h *Host) recordAttached(ctx context.Context, key store.StateKey, ids []string, now time.Time) {
	if len(ids) == 0 {
		return
	}
	ms := h.cfg.Store.(store.MediaStore)
	err := ms.MediaRefsAdd(context.WithoutCancel(ctx), key.Tenant, ids, store.MediaRef{Domain: key.Domain, Resource: key.Resource,
		AggregateID: key.ID, CreatedAt: now})
	if err != nil {
		h.cfg.Logger.Warn("recording attached media failed", "domain", key.Domain, "resource", key.Resource, "id", key.ID, "err", err)
	}
}

// isClientError says whether err is an answer to the client (a refusal,
// not-found, a bad request) rather than a failed write.
func isClientError(err error) bool {
	var he *Error
	return errors.As(err, &he) && he.Kind != KindInternal && he.Kind != KindUnavailable
}

// commit renders the answer and writes the command through a group
// committer, with the answer under the idempotency key, in one transaction
// shared with whatever other commands arrived together.
func (h *Host) commit(ctx context.Context, body *commandBody, created bool, idem *store.IdempotencyRecord, stats *CommandStats, write *store.CommandWrite) (*CommandResult, error) {
	size := 256 + len(body.Data)
	for _, ev := range body.Events {
		size += 192 + len(ev.Data)
	}
	raw := body.appendJSON(make([]byte, 0, size))
	res := &CommandResult{Created: created, AggregateID: body.ID, Version: body.Version, ETag: body.ETag, Body: raw}
	if write == nil {
		write = &store.CommandWrite{}
	}
	if idem != nil {
		rec := *idem
		rec.Status, rec.Response, rec.CreatedAt = 200, raw, h.cfg.Now()
		if created {
			rec.Status = 201
		}
		write.Idempotency = &rec
	}
	if write.Append == nil && write.Idempotency == nil {
		return res, nil
	}
	if st := stageOf(ctx); st != nil {
		// An atomic batch writes everything together once all is decided.
		st.writes = append(st.writes, write)
		return res, nil
	}
	c := h.committers[h.nextCommit.Add(1)%uint64(len(h.committers))]
	start := time.Now()
	_, span := tracer.Start(ctx, "commit")
	err := c.commit(ctx, write)
	endSpan(span, err)
	stats.Commit += time.Since(start)
	if errors.Is(err, errShuttingDown) {
		return nil, &Error{Kind: KindUnavailable, Code: "shutting-down", Message: "the host is shutting down; retry", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, &Error{Kind: KindUnavailable, Code: "store-unavailable",
			Message: "the store did not confirm the write in time; retry (with an Idempotency-Key, a retry cannot apply the command twice)", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// statusError turns a guest's refusal into the matching error.
func statusError(p *Plugin, spec *abi.CommandSpec, res *abi.Result) error {
	var details any
	if len(res.Error.Details) > 0 && json.Valid(res.Error.Details) {
		details = json.RawMessage(res.Error.Details)
	}
	switch res.Status {
	case abi.StatusOK:
		return nil
	case abi.StatusDomainError:
		return &Error{Kind: KindDomain, Code: res.Error.Code, Message: res.Error.Message, Details: details}
	case abi.StatusInvalid:
		return &Error{Kind: KindInvalid, Code: res.Error.Code, Message: res.Error.Message, Details: details}
	case abi.StatusUnknownCommand:
		// The manifest promised the command: the plugin contradicts itself.
		return &Error{Kind: KindInternal, Code: "plugin-failed", Message: "the plugin failed to handle " + spec.Name,
			Err: fmt.Errorf("plugin %s does not know command %s its manifest declares: %s", p.Domain(), spec.Name, res.Error.Message)}
	}
	return &Error{Kind: KindInternal, Code: "plugin-failed", Message: "the plugin failed to handle " + spec.Name,
		Err: fmt.Errorf("%s: %s", res.Error.Code, res.Error.Message)}
}

// checkLimits refuses a decision that would write more than one command
// may: a plugin emitting thousands of events per command fills the log
// (and past a store's statement limits fails as an internal error).
func (h *Host) checkLimits(p *Plugin, command string, res *abi.Result) error {
	size := len(res.State)
	for _, ev := range res.Events {
		size += len(ev.Data)
	}
	var msg string
	switch {
	case len(res.Events) > h.cfg.MaxEventsPerCommand:
		msg = fmt.Sprintf("%s emitted %d events; a command may emit at most %d", command, len(res.Events), h.cfg.MaxEventsPerCommand)
	case size > h.cfg.MaxWriteBytesPerCommand:
		msg = fmt.Sprintf("%s would write %d bytes of events and state; a command may write at most %d", command, size, h.cfg.MaxWriteBytesPerCommand)
	default:
		return nil
	}
	h.cfg.Logger.Warn("plugin over a command limit", "domain", p.Domain(), "command", command, "limit", msg)
	return &Error{Kind: KindInternal, Code: "plugin-command-limit", Message: "the " + p.Domain() + " plugin " + msg}
}

// checkResult refuses to store what a guest got wrong: undeclared events or
// JSON that is not JSON would corrupt the log or the read model.
func checkResult(p *Plugin, spec *abi.CommandSpec, res *abi.Result) error {
	if res.Deleted && !spec.Deletes {
		return fmt.Errorf("command %s deleted its aggregate, which its manifest does not declare (deletes)", spec.Name)
	}
	if res.Deleted && len(res.Events) == 0 {
		return fmt.Errorf("command %s deleted its aggregate without an event recording it", spec.Name)
	}
	if len(res.Attach) > 0 && len(res.Events) == 0 {
		return fmt.Errorf("command %s attached media without an event recording it", spec.Name)
	}
	for _, ev := range res.Events {
		if !p.manifest.events[ev.Type] {
			return fmt.Errorf("the guest emitted event %q, which its manifest does not declare", ev.Type)
		}
		if !json.Valid(ev.Data) {
			return fmt.Errorf("the guest emitted event %q with invalid JSON data", ev.Type)
		}
		if hasNULEscape(ev.Data) {
			return fmt.Errorf("the guest emitted event %q with a NUL character (\\u0000) in its data, which PostgreSQL cannot store", ev.Type)
		}
	}
	if hasNULEscape(res.State) || hasNULEscape(res.Response) {
		return errors.New("the guest returned a state or response with a NUL character (\\u0000), which PostgreSQL cannot store")
	}
	if v := p.manifest.states[spec.Aggregate]; v != nil && len(res.Events) > 0 {
		// The declared state schema holds for every state written, so that
		// typed queries can trust it; a plugin breaking it is refused.
		violations, err := v.Validate(res.State)
		if err != nil {
			return fmt.Errorf("the guest returned a state that is not valid JSON: %w", err)
		}
		if len(violations) > 0 {
			return fmt.Errorf("the guest returned a state that does not match its declared state schema: %s %s",
				violations[0].Path, violations[0].Message)
		}
	} else if !json.Valid(res.State) {
		return errors.New("the guest returned a state that is not valid JSON")
	}
	if res.Response != nil && !json.Valid(res.Response) {
		return errors.New("the guest returned a response that is not valid JSON")
	}
	return p.checkJobs(res.Jobs)
}

// hasNULEscape reports whether valid JSON holds the escape \u0000 in a
// string: PostgreSQL's jsonb refuses it, so on both stores it is the
// plugin's fault, answered before the write. (An even run of backslashes
// before "u0000" escapes the backslashes, not a NUL.)
func hasNULEscape(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		j += i
		n := 0
		for k := j - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = j + 5
	}
}

// guestFailure logs what went wrong inside a plugin and returns the 500 a
// client sees. The host itself carries on.
func (h *Host) guestFailure(p *Plugin, command string, caller abi.Caller, err error) error {
	h.cfg.Logger.Error("plugin failed", "domain", p.Domain(), "command", command, "sha256", p.id[:12],
		"user", caller.UserID, "tenant", caller.Tenant, "err", err)
	if errors.Is(err, errFuelExhausted) {
		return &Error{Kind: KindInternal, Code: "plugin-fuel-exhausted",
			Message: fmt.Sprintf("the %s plugin ran out of fuel while handling %s (a budget of %d units)", p.Domain(), command, p.budget), Err: err}
	}
	return &Error{Kind: KindInternal, Code: "plugin-failed",
		Message: fmt.Sprintf("the %s plugin failed while handling %s", p.Domain(), command), Err: err}
}

// DomainCounts are a domain's commands since the host started: all of
// them, those refused (a 4xx: the payload, a business rule, a permission,
// a conflict) and those that failed (a 5xx: the plugin or the host).
type DomainCounts struct {
	Commands, Refused, Failed int64
}

type domainCounters struct {
	commands, refused, failed atomic.Int64
}

func (h *Host) count(stats *CommandStats, err *error) {
	v, ok := h.counts.Load(stats.Domain)
	if !ok {
		v, _ = h.counts.LoadOrStore(stats.Domain, &domainCounters{})
	}
	c := v.(*domainCounters)
	c.commands.Add(1)
	stats.Outcome = "ok"
	if *err != nil {
		switch AsError(*err).Kind {
		case KindInternal, KindUnavailable:
			c.failed.Add(1)
			stats.Outcome = "failed"
		default:
			c.refused.Add(1)
			stats.Outcome = "refused"
		}
	}
	if h.cfg.Observer != nil {
		h.cfg.Observer.Command(*stats)
	}
}

// Counts returns a domain's command counts on this host.
func (h *Host) Counts(domain string) DomainCounts {
	v, ok := h.counts.Load(domain)
	if !ok {
		return DomainCounts{}
	}
	c := v.(*domainCounters)
	return DomainCounts{Commands: c.commands.Load(), Refused: c.refused.Load(), Failed: c.failed.Load()}
}
