package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/sdk"
)

// Engine decides commands and folds events: a loaded plugin (*host.Plugin)
// or a domain's Go code run natively (Native).
type Engine interface {
	Manifest() abi.Manifest
	Handle(ctx context.Context, cmd *abi.Command) (*abi.Result, error)
	Apply(ctx context.Context, req *abi.ApplyRequest) (*abi.ApplyResult, error)
}

// Native runs a Go domain's code without WebAssembly.
func Native(d *sdk.Domain) Engine { return native{d} }

type native struct{ d *sdk.Domain }

func (n native) Manifest() abi.Manifest {
	var m abi.Manifest
	json.Unmarshal(n.d.Manifest(), &m)
	return m
}

func (n native) Handle(_ context.Context, cmd *abi.Command) (*abi.Result, error) {
	return n.d.Decide(cmd)
}

func (n native) Apply(_ context.Context, req *abi.ApplyRequest) (*abi.ApplyResult, error) {
	return n.d.Fold(req)
}

// Outcome is the result of one scenario.
type Outcome struct {
	Name     string
	Failures []string // empty: passed
}

// Passed says whether the scenario passed.
func (o Outcome) Passed() bool { return len(o.Failures) == 0 }

// Run runs every scenario of f against e.
func Run(ctx context.Context, e Engine, f *File) ([]Outcome, error) {
	m := e.Manifest()
	if m.Domain != f.Domain {
		return nil, fmt.Errorf("the scenarios are for domain %q, the plugin serves %q", f.Domain, m.Domain)
	}
	out := make([]Outcome, len(f.Scenarios))
	for i := range f.Scenarios {
		s := &f.Scenarios[i]
		out[i] = Outcome{Name: s.Name, Failures: runOne(ctx, e, &m, s)}
	}
	return out, nil
}

func runOne(ctx context.Context, e Engine, m *abi.Manifest, s *Scenario) []string {
	if s.When.Event != nil {
		return runEvent(ctx, e, m, s)
	}
	if s.When.Job != nil {
		return runJob(ctx, e, m, s)
	}
	w := s.When
	id := w.ID
	if id == "" {
		id = DefaultID
	}
	at := DefaultTime
	if w.Time != nil {
		at = *w.Time
	}
	payload := []byte(w.Payload)
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	spec := m.Command(w.Command)
	if spec == nil {
		return checkError(s, "unknown-command", "the domain has no command "+w.Command)
	}
	if code, v := validatePayload(spec, payload); v != "" {
		return checkError(s, code, v)
	}

	// Given: fold the events into the state the command starts from.
	var state []byte
	version := int64(len(s.Given))
	if version > 0 {
		req := abi.ApplyRequest{Resource: w.Resource, AggregateID: id}
		for i, g := range s.Given {
			data := []byte(g.Data)
			if len(data) == 0 {
				data = []byte("{}")
			}
			req.Events = append(req.Events, abi.Event{Type: g.Type, Data: data, Version: int64(i + 1), Time: at.UnixNano()})
		}
		res, err := e.Apply(ctx, &req)
		if err != nil {
			return []string{"given: the plugin failed folding the events: " + err.Error()}
		}
		if res.Status != abi.StatusOK {
			return []string{fmt.Sprintf("given: the plugin refused the events: %s: %s", res.Error.Code, res.Error.Message)}
		}
		state = res.State
	}

	caller := abi.Caller{UserID: w.Caller.UserID, Tenant: w.Caller.Tenant, Roles: w.Caller.Roles}
	if len(s.Media) > 0 {
		sd, ok := e.(Seeder)
		if !ok {
			return []string{"media: this engine cannot show the plugin given media"}
		}
		tenant, undo, err := sd.Seed(ctx, nil, s.mediaInfo())
		if err != nil {
			return []string{"media: " + err.Error()}
		}
		defer undo()
		if tenant != "" {
			caller.Tenant = tenant
		}
	}
	res, err := e.Handle(ctx, &abi.Command{
		ID: "scenario-command", Domain: m.Domain, Name: w.Command, Resource: w.Resource, AggregateID: id,
		Payload: payload, Caller: caller, Time: at.UnixNano(), State: state, Version: version,
	})
	if err != nil {
		return checkError(s, "plugin-failed", err.Error())
	}
	var fails []string
	if res.Status != abi.StatusOK {
		fails = checkError(s, res.Error.Code, res.Error.Message)
	} else if s.Then.Error != nil {
		fails = append(fails, fmt.Sprintf("error: want %q, but the command succeeded with %s", s.Then.Error.Code, eventList(res.Events)))
	}
	if s.Then.Events != nil {
		fails = append(fails, checkEvents(*s.Then.Events, res.Events)...)
	}
	if len(s.Then.State) > 0 && res.Status == abi.StatusOK {
		fails = append(fails, match("state", s.Then.State, res.State)...)
	}
	if res.Status == abi.StatusOK && len(res.State) > 0 {
		fails = append(fails, checkState(m.Aggregate(w.Resource), res.State)...)
	}
	if len(s.Then.Response) > 0 && res.Status == abi.StatusOK {
		fails = append(fails, match("response", s.Then.Response, res.Response)...)
	}
	if res.Status == abi.StatusOK {
		for _, a := range res.Attach {
			found := false
			for _, g := range s.Media {
				found = found || g.ID == a
			}
			if !found {
				fails = append(fails, fmt.Sprintf("attach: the command attaches media %s, which the scenario does not give: the host would refuse it (media-not-found)", a))
			}
		}
		if s.Then.Attach != nil && fmt.Sprint(*s.Then.Attach) != fmt.Sprint(res.Attach) {
			fails = append(fails, fmt.Sprintf("attach: want %v, got %v", *s.Then.Attach, res.Attach))
		}
		fails = append(fails, checkIssuedJobs(m, res.Jobs)...)
		if s.Then.Jobs != nil {
			fails = append(fails, checkJobs(*s.Then.Jobs, res.Jobs)...)
		}
	}
	return fails
}

// checkState holds a state to the schema its aggregate declares: what
// lets queries and readers trust its fields' types.
func checkState(agg *abi.AggregateSpec, state []byte) []string {
	if agg == nil || agg.State == nil {
		return nil
	}
	v, err := schema.Compile(agg.State, "state")
	if err != nil {
		return []string{"state: the declared state schema does not compile: " + err.Error()}
	}
	violations, err := v.Validate(state)
	if err != nil {
		return []string{"state: the plugin's state is not valid JSON: " + err.Error()}
	}
	var fails []string
	for _, x := range violations {
		fails = append(fails, fmt.Sprintf("state%s: %s (the state schema the aggregate declares)", x.Path, x.Message))
	}
	return fails
}

// checkError compares a refusal with what the scenario expects.
func checkError(s *Scenario, code, message string) []string {
	if s.Then.Error == nil {
		return []string{fmt.Sprintf("error: the command failed with %s: %s", code, message)}
	}
	if s.Then.Error.Code != code {
		return []string{fmt.Sprintf("error: want %q, got %q: %s", s.Then.Error.Code, code, message)}
	}
	return nil
}

func checkEvents(want []ExpectedEvent, got []abi.Event) []string {
	if len(want) != len(got) {
		return []string{fmt.Sprintf("events: want %s, got %s", expectedList(want), eventList(got))}
	}
	var fails []string
	for i, w := range want {
		path := fmt.Sprintf("events[%d]", i)
		if w.Type != got[i].Type {
			fails = append(fails, fmt.Sprintf("%s.type: want %q, got %q", path, w.Type, got[i].Type))
			continue
		}
		if len(w.Data) > 0 {
			fails = append(fails, match(path+".data", w.Data, got[i].Data)...)
		}
	}
	return fails
}

func eventList(evs []abi.Event) string {
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = e.Type
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func expectedList(evs []ExpectedEvent) string {
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = e.Type
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// validatePayload checks a payload as the host does and answers the same
// codes: malformed-json, duplicate-property, invalid-payload ("" if it
// passes).
func validatePayload(spec *abi.CommandSpec, payload []byte) (code, msg string) {
	s := spec.Payload
	if s == nil {
		no := false
		s = &abi.Schema{Type: "object", AdditionalProperties: &no}
	}
	v, err := schema.Compile(s, "payload")
	if err != nil {
		return "invalid-payload", "the command's schema does not compile: " + err.Error()
	}
	violations, err := v.Validate(payload)
	var m *schema.MalformedError
	if errors.As(err, &m) {
		if m.Duplicate {
			return "duplicate-property", "the payload names the property " + m.Path + " more than once"
		}
		return "malformed-json", "the payload is not valid JSON: " + m.Error()
	}
	var parts []string
	for _, x := range violations {
		parts = append(parts, x.Path+" "+x.Message)
	}
	return "invalid-payload", strings.Join(parts, "; ")
}

// RunFile runs a scenario file as subtests of t, one per scenario.
func RunFile(t *testing.T, e Engine, path string) {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := Run(context.Background(), e, f)
	if err != nil {
		t.Fatal(err)
	}
	lines := scenarioLines(path, outcomes)
	for i, o := range outcomes {
		t.Run(o.Name, func(t *testing.T) {
			// The scenario's place in its file, where the fix goes.
			for _, f := range o.Failures {
				t.Errorf("%s:%d: scenario %q: %s", path, lines[i], o.Name, f)
			}
		})
	}
}

// scenarioLines finds the line of each scenario's name in its file, in
// order (0 where it cannot be told).
func scenarioLines(path string, outcomes []Outcome) []int {
	lines := make([]int, len(outcomes))
	raw, err := os.ReadFile(path)
	if err != nil {
		return lines
	}
	at := 0
	for i, o := range outcomes {
		name, _ := json.Marshal(o.Name)
		j := bytes.Index(raw[at:], name)
		if j < 0 {
			continue
		}
		at += j
		lines[i] = 1 + bytes.Count(raw[:at], []byte("\n"))
		at += len(name)
	}
	return lines
}
