package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk"
)

// EventEngine is an Engine that runs event handlers: a loaded plugin
// (*host.Plugin) or Native.
type EventEngine interface {
	Engine
	OnEvent(ctx context.Context, d *abi.EventDelivery, as abi.Caller) (*abi.HandlerResult, error)
}

// Seeder is an EventEngine that can show a handler the aggregates a
// scenario gives, as committed state of the handler's domain, for one
// delivery: in the tenant it returns, which the delivery is made in. undo
// takes them away again.
type Seeder interface {
	Seed(ctx context.Context, states []Seeded, media []abi.MediaInfo) (tenant string, undo func(), err error)
}

// Seeded is one given aggregate, folded.
type Seeded struct {
	Resource, ID string
	State        []byte
	Version      int64
}

func (n native) OnEvent(_ context.Context, d *abi.EventDelivery, _ abi.Caller) (*abi.HandlerResult, error) {
	return n.d.Deliver(d)
}

// Seed installs, natively, a host whose state reads and queries answer from
// the given aggregates (queries by equality of top-level fields only).
func (n native) Seed(_ context.Context, states []Seeded, media []abi.MediaInfo) (string, func(), error) {
	prev := sdk.SetHost(&seededHost{states: states, media: media})
	return "", func() { sdk.SetHost(prev) }, nil
}

type seededHost struct {
	states []Seeded
	media  []abi.MediaInfo
}

func (h *seededHost) Media(id string) (abi.MediaInfo, bool, error) {
	for _, m := range h.media {
		if m.ID == id {
			return m, true, nil
		}
	}
	return abi.MediaInfo{}, false, nil
}

func (h *seededHost) Log(level abi.LogLevel, msg string) {}

func (h *seededHost) StateGet(resource, id string) (abi.StateRecord, bool, error) {
	for _, s := range h.states {
		if s.Resource == resource && s.ID == id {
			return abi.StateRecord{Data: s.State, Version: s.Version, ID: s.ID}, true, nil
		}
	}
	return abi.StateRecord{}, false, nil
}

func (h *seededHost) Can(action, object string) (bool, error) { return true, nil }

// Query answers filters of top-level equalities ({"status": "held"}), in
// id order; other operators are refused, saying so.
func (h *seededHost) Query(req abi.QueryRequest) (abi.QueryResult, error) {
	var filter map[string]any
	if req.Filter != "" {
		if err := json.Unmarshal([]byte(req.Filter), &filter); err != nil {
			return abi.QueryResult{Error: "the filter is not a JSON object: " + err.Error()}, nil
		}
	}
	for k, v := range filter {
		if strings.ContainsAny(k, ".:!") || k == "" || reflect.TypeOf(v) == nil || reflect.TypeOf(v).Kind() == reflect.Map || reflect.TypeOf(v).Kind() == reflect.Slice {
			return abi.QueryResult{Error: "scenarios answer queries of top-level equalities only, not " + k}, nil
		}
	}
	limit := int(req.Limit)
	if limit == 0 {
		limit = 25
	}
	var out abi.QueryResult
	states := slices.Clone(h.states)
	sort.Slice(states, func(i, j int) bool { return states[i].ID < states[j].ID })
	for _, s := range states {
		if s.Resource != req.Resource {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(s.State, &doc) != nil {
			continue
		}
		match := true
		for k, v := range filter {
			if !reflect.DeepEqual(doc[k], v) {
				match = false
			}
		}
		if !match {
			continue
		}
		out.Total++
		if len(out.Records) < limit {
			out.Records = append(out.Records, abi.StateRecord{Data: s.State, Version: s.Version, ID: s.ID})
		}
	}
	return out, nil
}

// runEvent delivers the scenario's event to its handler and compares the
// commands it issues.
func runEvent(ctx context.Context, e Engine, m *abi.Manifest, s *Scenario) []string {
	ee, ok := e.(EventEngine)
	if !ok {
		return []string{"when.event: this engine runs no event handlers"}
	}
	w := s.When
	ev := w.Event
	domain := ev.Domain
	if domain == "" {
		domain = m.Domain
	}
	handler, problem := pickHandler(m, w.Handler, domain, ev.Type)
	if problem != "" {
		return []string{problem}
	}
	at := DefaultTime
	if w.Time != nil {
		at = *w.Time
	}
	seeded, fails := foldGiven(ctx, e, s, at.UnixNano())
	if fails != nil {
		return fails
	}
	as := abi.Caller{UserID: "handler:" + m.Domain + "." + handler}
	if len(seeded) > 0 || len(s.Media) > 0 {
		sd, ok := e.(Seeder)
		if !ok {
			return []string{"given: this engine cannot show a handler the given aggregates"}
		}
		tenant, undo, err := sd.Seed(ctx, seeded, s.mediaInfo())
		if err != nil {
			return []string{"given: " + err.Error()}
		}
		defer undo()
		as.Tenant = tenant
	}
	id, version, data := ev.ID, ev.Version, []byte(ev.Data)
	if id == "" {
		id = DefaultID
	}
	if version == 0 {
		version = 1
	}
	if len(data) == 0 {
		data = []byte("{}")
	}
	res, err := ee.OnEvent(ctx, &abi.EventDelivery{Handler: handler, EventID: "scenario-event", Domain: domain,
		Resource: ev.Resource, AggregateID: id, Type: ev.Type, Data: data, Version: version, Time: at.UnixNano(),
		CorrelationID: "scenario-command", Caller: abi.Caller{UserID: ev.Caller.UserID, Tenant: ev.Caller.Tenant, Roles: ev.Caller.Roles},
		Attempt: 1}, as)
	if err != nil {
		return checkError(s, "plugin-failed", err.Error())
	}
	if res.Status != abi.StatusOK {
		return checkError(s, res.Error.Code, res.Error.Message)
	}
	if s.Then.Error != nil {
		fails = append(fails, fmt.Sprintf("error: want %q, but the handler succeeded with %s", s.Then.Error.Code, commandList(m.Domain, res.Commands)))
	}
	for i, c := range res.Commands {
		// The host checks an issued command as any other: so does the
		// scenario, for the plugin's own commands.
		if c.Domain != "" && c.Domain != m.Domain {
			continue
		}
		spec := m.Command(c.Name)
		if spec == nil {
			fails = append(fails, fmt.Sprintf("commands[%d]: the domain has no command %s", i, c.Name))
			continue
		}
		if code, msg := validatePayload(spec, c.Payload); msg != "" || code != "invalid-payload" {
			fails = append(fails, fmt.Sprintf("commands[%d]: the host would refuse %s's payload: %s: %s", i, c.Name, code, msg))
		}
		if (c.AggregateID == "") != spec.New {
			fails = append(fails, fmt.Sprintf("commands[%d]: %s is addressed %s, but it %s", i, c.Name,
				map[bool]string{true: "as :new", false: "by id"}[c.AggregateID == ""], map[bool]string{true: "creates", false: "acts on an existing aggregate"}[spec.New]))
		}
	}
	if s.Then.Commands != nil {
		fails = append(fails, checkCommands(m.Domain, *s.Then.Commands, res.Commands)...)
	}
	fails = append(fails, checkIssuedJobs(m, res.Jobs)...)
	if s.Then.Jobs != nil {
		fails = append(fails, checkJobs(*s.Then.Jobs, res.Jobs)...)
	}
	return fails
}

// JobEngine is an Engine that runs background jobs: a loaded plugin
// (*host.Plugin) or Native.
type JobEngine interface {
	Engine
	RunJob(ctx context.Context, req *abi.JobRequest, as abi.Caller) (*abi.HandlerResult, error)
}

func (n native) RunJob(_ context.Context, req *abi.JobRequest, _ abi.Caller) (*abi.HandlerResult, error) {
	return n.d.Run(req)
}

// runJob runs one of the domain's jobs and compares the commands and jobs
// it issues.
func runJob(ctx context.Context, e Engine, m *abi.Manifest, s *Scenario) []string {
	je, ok := e.(JobEngine)
	if !ok {
		return []string{"when.job: this engine runs no jobs"}
	}
	w := s.When
	found := false
	for _, j := range m.Jobs {
		found = found || j.Name == w.Job.Name
	}
	if !found {
		return []string{"when.job: the domain has no job " + w.Job.Name}
	}
	at := DefaultTime
	if w.Time != nil {
		at = *w.Time
	}
	seeded, fails := foldGiven(ctx, e, s, at.UnixNano())
	if fails != nil {
		return fails
	}
	as := abi.Caller{UserID: "job:" + m.Domain + "." + w.Job.Name, Tenant: w.Job.Caller.Tenant}
	if len(seeded) > 0 || len(s.Media) > 0 {
		sd, ok := e.(Seeder)
		if !ok {
			return []string{"given: this engine cannot show a job the given aggregates"}
		}
		tenant, undo, err := sd.Seed(ctx, seeded, s.mediaInfo())
		if err != nil {
			return []string{"given: " + err.Error()}
		}
		defer undo()
		as.Tenant = tenant
	}
	args := []byte(w.Job.Args)
	if len(args) == 0 {
		args = []byte("{}")
	}
	res, err := je.RunJob(ctx, &abi.JobRequest{Job: w.Job.Name, JobID: "scenario-job", Args: args, Attempt: 1, Time: at.UnixNano(),
		Caller: abi.Caller{UserID: w.Job.Caller.UserID, Tenant: w.Job.Caller.Tenant, Roles: w.Job.Caller.Roles}}, as)
	if err != nil {
		return checkError(s, "plugin-failed", err.Error())
	}
	if res.Status != abi.StatusOK {
		return checkError(s, res.Error.Code, res.Error.Message)
	}
	if s.Then.Error != nil {
		fails = append(fails, fmt.Sprintf("error: want %q, but the job succeeded with %s", s.Then.Error.Code, commandList(m.Domain, res.Commands)))
	}
	if s.Then.Commands != nil {
		fails = append(fails, checkCommands(m.Domain, *s.Then.Commands, res.Commands)...)
	}
	fails = append(fails, checkIssuedJobs(m, res.Jobs)...)
	if s.Then.Jobs != nil {
		fails = append(fails, checkJobs(*s.Then.Jobs, res.Jobs)...)
	}
	return fails
}

// checkIssuedJobs holds enqueued jobs to what the host accepts: jobs the
// manifest declares, with a JSON object for arguments.
func checkIssuedJobs(m *abi.Manifest, jobs []abi.IssuedJob) []string {
	var fails []string
	for i, j := range jobs {
		found := false
		for _, spec := range m.Jobs {
			found = found || spec.Name == j.Name
		}
		if !found {
			fails = append(fails, fmt.Sprintf("jobs[%d]: the domain declares no job %s; the host would refuse it", i, j.Name))
		}
		var args map[string]any
		if json.Unmarshal(j.Args, &args) != nil {
			fails = append(fails, fmt.Sprintf("jobs[%d]: the arguments of %s are not a JSON object", i, j.Name))
		}
	}
	return fails
}

func checkJobs(want []ExpectedJob, got []abi.IssuedJob) []string {
	if len(want) != len(got) {
		wn, gn := make([]string, len(want)), make([]string, len(got))
		for i, w := range want {
			wn[i] = w.Name
		}
		for i, g := range got {
			gn[i] = g.Name
		}
		return []string{fmt.Sprintf("jobs: want [%s], got [%s]", strings.Join(wn, ", "), strings.Join(gn, ", "))}
	}
	var fails []string
	for i, w := range want {
		g := got[i]
		path := fmt.Sprintf("jobs[%d]", i)
		if w.Name != g.Name {
			fails = append(fails, fmt.Sprintf("%s.name: want %q, got %q", path, w.Name, g.Name))
			continue
		}
		if w.DelayMS != nil && *w.DelayMS != g.DelayMS {
			fails = append(fails, fmt.Sprintf("%s.delay_ms: want %d, got %d", path, *w.DelayMS, g.DelayMS))
		}
		if w.UniqueKey != "" && w.UniqueKey != g.UniqueKey {
			fails = append(fails, fmt.Sprintf("%s.unique_key: want %q, got %q", path, w.UniqueKey, g.UniqueKey))
		}
		if len(w.Args) > 0 {
			fails = append(fails, match(path+".args", w.Args, g.Args)...)
		}
	}
	return fails
}

// pickHandler finds the handler a scenario means: the one it names, or the
// only one receiving the event.
func pickHandler(m *abi.Manifest, named, domain, eventType string) (string, string) {
	var found []string
	for _, h := range m.Handlers {
		src := h.Domain
		if src == "" {
			src = m.Domain
		}
		if named != "" && h.Name != named {
			continue
		}
		if src == domain && slices.Contains(h.Events, eventType) {
			found = append(found, h.Name)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], ""
	case named != "":
		return "", fmt.Sprintf("when.handler: the domain has no handler %s receiving %s events of %s", named, eventType, domain)
	case len(found) == 0:
		return "", fmt.Sprintf("when.event: no handler of the domain receives %s events of %s", eventType, domain)
	default:
		return "", fmt.Sprintf("when.event: handlers %v all receive %s events of %s; name one in when.handler", found, eventType, domain)
	}
}

// foldGiven folds a handler scenario's given events into the aggregates
// they name, in the order given.
func foldGiven(ctx context.Context, e Engine, s *Scenario, at int64) ([]Seeded, []string) {
	type key struct{ resource, id string }
	var order []key
	events := map[key][]abi.Event{}
	for _, g := range s.Given {
		k := key{g.Resource, g.ID}
		if _, ok := events[k]; !ok {
			order = append(order, k)
		}
		data := []byte(g.Data)
		if len(data) == 0 {
			data = []byte("{}")
		}
		events[k] = append(events[k], abi.Event{Type: g.Type, Data: data, Version: int64(len(events[k]) + 1), Time: at})
	}
	var out []Seeded
	for _, k := range order {
		res, err := e.Apply(ctx, &abi.ApplyRequest{Resource: k.resource, AggregateID: k.id, Events: events[k]})
		if err != nil {
			return nil, []string{fmt.Sprintf("given %s %s: the plugin failed folding the events: %v", k.resource, k.id, err)}
		}
		if res.Status != abi.StatusOK {
			return nil, []string{fmt.Sprintf("given %s %s: the plugin refused the events: %s: %s", k.resource, k.id, res.Error.Code, res.Error.Message)}
		}
		out = append(out, Seeded{Resource: k.resource, ID: k.id, State: res.State, Version: int64(len(events[k]))})
	}
	return out, nil
}

func checkCommands(own string, want []ExpectedCommand, got []abi.IssuedCommand) []string {
	if len(want) != len(got) {
		names := make([]string, len(want))
		for i, w := range want {
			names[i] = w.Command
		}
		return []string{fmt.Sprintf("commands: want [%s], got %s", strings.Join(names, ", "), commandList(own, got))}
	}
	var fails []string
	for i, w := range want {
		g := got[i]
		path := fmt.Sprintf("commands[%d]", i)
		wd, gd := w.Domain, g.Domain
		if wd == "" {
			wd = own
		}
		if gd == "" {
			gd = own
		}
		if wd != gd || w.Command != g.Name || w.Resource != g.Resource || w.ID != g.AggregateID {
			fails = append(fails, fmt.Sprintf("%s: want %s:%s on %s %q, got %s:%s on %s %q", path, wd, w.Command, w.Resource, w.ID,
				gd, g.Name, g.Resource, g.AggregateID))
			continue
		}
		if len(w.Payload) > 0 {
			fails = append(fails, match(path+".payload", w.Payload, g.Payload)...)
		}
	}
	return fails
}

func commandList(own string, cmds []abi.IssuedCommand) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		d := c.Domain
		if d == "" {
			d = own
		}
		names[i] = d + ":" + c.Name
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// mediaInfo is the scenario's given media as the host describes them.
func (s *Scenario) mediaInfo() []abi.MediaInfo {
	out := make([]abi.MediaInfo, len(s.Media))
	for i, m := range s.Media {
		out[i] = abi.MediaInfo{ID: m.ID, Name: m.Name, Size: m.Size, ContentType: m.ContentType, SHA256: m.SHA256, Owner: m.Owner}
	}
	return out
}
