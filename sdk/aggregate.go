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
	// Handle checks invariants against state and emits events. Returning a
	// *DomainError refuses the command (422), an *InvalidError rejects the
	// payload (400), any other error fails it (500).
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
// replay runs them again and must reach the same state.
type Applier[S any] func(state *S, e Event) error

// Aggregate holds the actions and appliers of one state model S. P is *S and
// is inferred: sdk.NewAggregate[User](domain, "user").
type Aggregate[S any, P interface {
	*S
	State
}] struct {
	name      string
	resources []string
	state     *Schema
	actions   []Action[S]
	appliers  map[string]Applier[S]
	order     []string
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
	a := &Aggregate[S, P]{name: name, resources: resources, appliers: map[string]Applier[S]{}}
	d.aggregates = append(d.aggregates, a)
	return a
}

// StateSchema documents the state model in the manifest.
func (a *Aggregate[S, P]) StateSchema(s *Schema) *Aggregate[S, P] { a.state = s; return a }

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
	a.appliers[eventType] = fn
	return a
}

func (a *Aggregate[S, P]) info() aggregateInfo {
	info := aggregateInfo{name: a.name, resources: a.resources, state: a.state, events: a.order}
	for _, act := range a.actions {
		info.actions = append(info.actions, actionInfo{
			name: act.Name, title: act.Title, description: act.Description, evtKey: act.EvtKey,
			resources: act.Resources, new: act.New, payload: act.Payload,
		})
	}
	return info
}

func (a *Aggregate[S, P]) owns(resource string) bool { return contains(a.resources, resource) }

func (a *Aggregate[S, P]) hasAction(name string) bool { return a.action(name) != nil }

func (a *Aggregate[S, P]) action(name string) *Action[S] {
	for i := range a.actions {
		if a.actions[i].Name == name {
			return &a.actions[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// loadState decodes a state document; nil or empty means the zero state.
func (a *Aggregate[S, P]) loadState(doc []byte) (*S, error) {
	s := new(S)
	if len(doc) == 0 {
		return s, nil
	}
	v, err := jsonlite.Parse(doc)
	if err != nil {
		return nil, err
	}
	if err := P(s).DecodeJSON(v); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *Aggregate[S, P]) fold(s *S, e Event) error {
	fn, ok := a.appliers[e.Type]
	if !ok {
		return errors.New("aggregate " + a.name + " has no applier for event " + e.Type)
	}
	return fn(s, e)
}

func (a *Aggregate[S, P]) handle(cmd *abi.Command, res *abi.Result) {
	act := a.action(cmd.Name)
	if !contains(act.Resources, cmd.Resource) {
		res.Status, res.Error = abi.StatusUnknownCommand, abi.Error{Code: "unknown-command",
			Message: "command " + cmd.Name + " does not apply to resource " + cmd.Resource}
		return
	}
	if !act.New && cmd.Version == 0 {
		res.Status, res.Error = abi.StatusDomainError, abi.Error{Code: "not-found",
			Message: cmd.Resource + " " + cmd.AggregateID + " does not exist"}
		return
	}
	if act.New && cmd.Version != 0 {
		res.Status, res.Error = abi.StatusDomainError, abi.Error{Code: "already-exists",
			Message: cmd.Resource + " " + cmd.AggregateID + " already exists"}
		return
	}
	state, err := a.loadState(cmd.State)
	if err != nil {
		res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "state-unreadable", Message: err.Error()}
		return
	}
	payload := jsonlite.Value{}
	if len(cmd.Payload) > 0 {
		if payload, err = jsonlite.Parse(cmd.Payload); err != nil {
			res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "invalid-payload", Message: err.Error()}
			return
		}
	}
	c := &Call{cmd: cmd, evtKey: act.EvtKey, version: cmd.Version}
	c.fold = func(e Event) error { return a.fold(state, e) }
	if err := act.Handle(c, state, payload); err != nil {
		res.Status, res.Error = errorStatus(err)
		return
	}
	res.Events = c.events
	res.Response = c.response
	res.State = jsonlite.Marshal(P(state))
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

func (a *Aggregate[S, P]) apply(req *abi.ApplyRequest, res *abi.ApplyResult) {
	state, err := a.loadState(req.State)
	if err != nil {
		res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "state-unreadable", Message: err.Error()}
		return
	}
	for _, ev := range req.Events {
		data, err := jsonlite.Parse(ev.Data)
		if err != nil {
			res.Status, res.Error = abi.StatusInvalid, abi.Error{Code: "event-unreadable",
				Message: "event " + ev.Type + ": " + err.Error()}
			return
		}
		if err := a.fold(state, Event{Type: ev.Type, Data: data, Version: ev.Version, Time: ev.Time}); err != nil {
			res.Status, res.Error = abi.StatusFailed, abi.Error{Code: "apply-failed", Message: err.Error()}
			return
		}
	}
	res.State = jsonlite.Marshal(P(state))
}
