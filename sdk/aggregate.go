package sdk

import (
	"errors"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// State is what a state model implements: it writes itself as JSON (what the
// host stores and serves as the read model) and reads itself back.
type State interface {
	jsonlite.Encoder
	jsonlite.Decoder
}

// Action declares one command of an aggregate, Fluvius's
// @action(evt_key=..., resources=[...]).
type Action[S any] struct {
	// Name is the command's name in URLs: POST /{domain}:{name}/{resource}/{id}.
	Name        string
	Title       string
	Description string
	// EvtKey is the event Call.Emit emits.
	EvtKey string
	// Resources the command may address; empty means all the aggregate's.
	Resources []string
	// New marks a command that creates the aggregate (POST .../:new).
	New bool
	// Payload is the schema the host validates the payload against before
	// the handler runs; nil accepts only an empty object.
	Payload *Schema
	// Policy, when set, names the permission a caller needs (action "run")
	// to send the command, checked by the host before the handler runs.
	// Without it any authenticated caller of the tenant may.
	Policy string
	// AuthRequired refuses anonymous callers, even where the host lets
	// them in (development mode).
	AuthRequired bool
	// Deletes lets the handler soft-delete the aggregate (Call.Delete);
	// the host refuses a deletion from an action that does not say so.
	Deletes bool
	// Internal keeps the command from clients: only this domain's handlers
	// and jobs send it (REST and MCP answer 404).
	Internal bool
	// Handle checks invariants against state and emits events. Returning a
	// *DomainError refuses the command (422), an *InvalidError rejects the
	// payload (400), any other error fails it (500). The Call, the state and
	// the payload (which aliases the request) are only valid during the
	// call: the domain reuses them for the next command.
	Handle func(c *Call, state *S, payload jsonlite.Value) error
}

// Event is an event as an applier sees it.
type Event struct {
	Type    string
	Data    jsonlite.Value
	Version int64 // the aggregate version the event creates
	Time    int64 // Unix nanoseconds
}

// Applier folds one event into the state. Appliers must be deterministic:
// replay runs them again and must reach the same state. The state and the
// event's data are only valid during the call.
type Applier[S any] func(state *S, e Event) error

// applier is an Applier and the event type it is registered for, which
// replayed events, whose types alias the request, take as theirs.
type applier[S any] struct {
	eventType string
	fn        Applier[S]
}

// Aggregate holds the actions and appliers of one state model S. P is *S and
// is inferred: sdk.NewAggregate[User](domain, "user").
type Aggregate[S any, P interface {
	*S
	State
}] struct {
	name       string
	resources  []string
	state      *Schema
	readPolicy string
	readAuth   bool
	roles      [][2]string // role, state property
	query      *QueryResource
	actions    []Action[S]
	appliers   map[string]applier[S]
	order      []string
	// current is the state of the command or replay in progress, reused
	// from call to call: allocations are dear inside WebAssembly.
	current S
}

// NewAggregate adds an aggregate to d. Its state is stored under the given
// resources (by default one, named like the aggregate).
func NewAggregate[S any, P interface {
	*S
	State
}](d *Domain, name string, resources ...string) *Aggregate[S, P] {
	if len(resources) == 0 {
		resources = []string{name}
	}
	a := &Aggregate[S, P]{name: name, resources: resources, appliers: map[string]applier[S]{}}
	d.aggregates = append(d.aggregates, a)
	return a
}

// StateSchema declares the state model. The manifest carries it (/_meta
// shows it to clients), scenario runs (natively and against the .wasm)
// fail a state that does not match it, and the query service types its
// filters by it: declare every field, required where it always is.
func (a *Aggregate[S, P]) StateSchema(s *Schema) *Aggregate[S, P] { a.state = s; return a }

// ReadPolicy makes reading this aggregate's state and events need a grant
// of the named permission (action "read"), as Fluvius's query resources
// declare theirs.
func (a *Aggregate[S, P]) ReadPolicy(name string) *Aggregate[S, P] { a.readPolicy = name; return a }

// ReadAuthRequired refuses anonymous readers of this aggregate's state and
// events, even where the host lets them in (development mode).
func (a *Aggregate[S, P]) ReadAuthRequired() *Aggregate[S, P] { a.readAuth = true; return a }

// Query declares the aggregate's query resource: the state fields clients
// may filter and sort on (typed by the state schema, which must declare
// them), the default sort ("name.asc"), the fields text search looks in,
// and state properties never answered.
type QueryResource struct {
	Fields []string
	Sort   []string
	Text   []string
	Hidden []string
	// Named are queries offered by name (?named=active).
	Named []NamedQuery
}

// NamedQuery is a query a resource offers by name: Filter in the query
// language ({"status": "active"}), Sort ("name.asc").
type NamedQuery struct {
	Name, Filter, Sort, Description string
}

// Query makes the aggregate's states listable and searchable
// (GET /{domain}.{resource}/?query=...).
func (a *Aggregate[S, P]) Query(q QueryResource) *Aggregate[S, P] { a.query = &q; return a }

// Role declares a role a user holds on one aggregate: the users whose ids
// the state's top-level property holds (a string, or an array of strings).
// Policies then grant to "aggregate:ROLE": with
// Role("owner", "owner_id"), a rule "p, aggregate:owner, *, bank:close, run"
// lets the user named by an account's owner_id close that account.
func (a *Aggregate[S, P]) Role(role, property string) *Aggregate[S, P] {
	a.roles = append(a.roles, [2]string{role, property})
	return a
}

// Action adds a command.
func (a *Aggregate[S, P]) Action(act Action[S]) *Aggregate[S, P] {
	if len(act.Resources) == 0 {
		act.Resources = a.resources
	}
	a.actions = append(a.actions, act)
	return a
}

// Apply registers the applier for an event type.
func (a *Aggregate[S, P]) Apply(eventType string, fn Applier[S]) *Aggregate[S, P] {
	if _, ok := a.appliers[eventType]; !ok {
		a.order = append(a.order, eventType)
	}
	a.appliers[eventType] = applier[S]{eventType, fn}
	return a
}

func (a *Aggregate[S, P]) info() aggregateInfo {
	info := aggregateInfo{name: a.name, resources: a.resources, state: a.state, events: a.order,
		readPolicy: a.readPolicy, readAuth: a.readAuth, roles: a.roles, query: a.query}
	for _, act := range a.actions {
		info.actions = append(info.actions, actionInfo{
			name: act.Name, title: act.Title, description: act.Description, evtKey: act.EvtKey,
			resources: act.Resources, new: act.New, payload: act.Payload, policy: act.Policy,
			authRequired: act.AuthRequired, deletes: act.Deletes, internal: act.Internal,
		})
	}
	return info
}

func (a *Aggregate[S, P]) resourceNames() []string { return a.resources }

func (a *Aggregate[S, P]) hasAction(name []byte) bool { return a.action(name) != nil }

func (a *Aggregate[S, P]) action(name []byte) *Action[S] {
	for i := range a.actions {
		if string(name) == a.actions[i].Name {
			return &a.actions[i]
		}
	}
	return nil
}

// loadState decodes a state document into the aggregate's reused state;
// nil or empty means the zero state.
func (a *Aggregate[S, P]) loadState(doc []byte, x *jsonlite.Index) (*S, error) {
	var zero S
	s := &a.current
	*s = zero
	if len(doc) == 0 {
		return s, nil
	}
	v, err := x.Parse(doc)
	if err != nil {
		return nil, err
	}
	if err := P(s).DecodeJSON(v); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *Aggregate[S, P]) fold(s *S, e Event) error {
	ap, ok := a.appliers[e.Type]
	if !ok {
		return errors.New("aggregate " + a.name + " has no applier for event " + e.Type)
	}
	return ap.fn(s, e)
}

// applierFor finds the applier of a replayed event's type. It compares the
// type with each registered one rather than index the map with it: TinyGo
// would copy the type into a string for the lookup.
func (a *Aggregate[S, P]) applierFor(eventType []byte) (applier[S], bool) {
	for _, t := range a.order {
		if string(eventType) == t {
			return a.appliers[t], true
		}
	}
	return applier[S]{}, false
}

// foldCurrent folds an event a handler emits into the state of the command
// in progress.
func (a *Aggregate[S, P]) foldCurrent(e Event) error { return a.fold(&a.current, e) }

func (a *Aggregate[S, P]) handle(c *Call, res *abi.Result) {
	cmd := c.cmd
	act := a.action(cmd.name)
	resource, found := "", false
	for _, r := range act.Resources {
		if string(cmd.resource) == r {
			resource, found = r, true
			break
		}
	}
	if !found {
		res.Status, res.Error = abi.StatusUnknownCommand, abi.Error{Code: "unknown-command",
			Message: "command " + act.Name + " does not apply to resource " + string(cmd.resource)}
		return
	}
	if !act.New && cmd.version == 0 {
		res.Status, res.Error = abi.StatusDomainError, abi.Error{Code: "aggregate-not-found",
			Message: resource + " " + string(cmd.aggregateID) + " does not exist"}
		return
	}
	if act.New && cmd.version != 0 {
		res.Status, res.Error = abi.StatusDomainError, abi.Error{Code: "aggregate-exists",
			Message: resource + " " + string(cmd.aggregateID) + " already exists"}
		return
	}
	state, err := a.loadState(cmd.state, &c.buf.stateDoc)
	if err != nil {
		res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "state-unreadable", Message: err.Error()}
		return
	}
	payload := jsonlite.Value{}
	if len(cmd.payload) > 0 {
		if payload, err = c.buf.payload.Parse(cmd.payload); err != nil {
			res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "invalid-payload", Message: err.Error()}
			return
		}
	}
	c.name, c.resource, c.evtKey, c.version = act.Name, resource, act.EvtKey, cmd.version
	c.agg = a
	if err := act.Handle(c, state, payload); err != nil {
		res.Status, res.Error = errorStatus(err)
		return
	}
	res.Events = c.events
	res.Response = c.response
	res.Deleted = c.deleted
	res.Jobs = c.jobs
	res.Attach = c.attach
	if len(c.events) == 0 && len(cmd.state) > 0 {
		// Nothing happened: the state is the one the host sent, which
		// loadState has just validated.
		res.State = cmd.state
		return
	}
	res.State = write(&c.buf.w, &c.buf.state, P(state))
}

func errorStatus(err error) (abi.Status, abi.Error) {
	var de *DomainError
	if errors.As(err, &de) {
		return abi.StatusDomainError, abi.Error{Code: de.Code, Message: de.Message, Details: de.Details}
	}
	var ie *InvalidError
	if errors.As(err, &ie) {
		return abi.StatusInvalid, abi.Error{Code: "invalid-payload", Message: ie.Message}
	}
	return abi.StatusFailed, abi.Error{Code: "handler-failed", Message: err.Error()}
}

func (a *Aggregate[S, P]) apply(req *applyRequest, res *abi.ApplyResult, buf *buffers) {
	state, err := a.loadState(req.state, &buf.stateDoc)
	if err != nil {
		res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "state-unreadable", Message: err.Error()}
		return
	}
	for i := range req.events {
		ev := &req.events[i]
		data, err := buf.event.Parse(ev.data)
		if err != nil {
			res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "event-unreadable",
				Message: "event " + string(ev.typ) + ": " + err.Error()}
			return
		}
		ap, ok := a.applierFor(ev.typ)
		if !ok {
			res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "apply-failed",
				Message: "aggregate " + a.name + " has no applier for event " + string(ev.typ)}
			return
		}
		if err := ap.fn(state, Event{Type: ap.eventType, Data: data, Version: ev.version, Time: ev.time}); err != nil {
			res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "apply-failed", Message: err.Error()}
			return
		}
	}
	res.State = write(&buf.w, &buf.state, P(state))
}
