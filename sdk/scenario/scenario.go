package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// File is a scenario file.
type File struct {
	Domain    string     `json:"domain"`
	Scenarios []Scenario `json:"scenarios"`
}

// Scenario is one given/when/then case.
type Scenario struct {
	Name  string       `json:"name"`
	Given []GivenEvent `json:"given,omitempty"`
	// Media are uploaded files the plugin can look up (Call.Media).
	Media []GivenMedia `json:"media,omitempty"`
	When  When         `json:"when"`
	Then  Then         `json:"then"`
}

// GivenEvent is an event already in the aggregate's stream. In a scenario
// whose when is an event, given events make the aggregates of the
// handler's own domain that it reads (ReadState, Query): each names its
// resource and id.
type GivenEvent struct {
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data,omitempty"`
	Resource string          `json:"resource,omitempty"`
	ID       string          `json:"id,omitempty"`
}

// GivenMedia is an uploaded file, as the host describes it.
type GivenMedia struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Size        int64  `json:"size,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	Owner       string `json:"owner,omitempty"`
}

// Caller is who sends the command.
type Caller struct {
	UserID string   `json:"user_id,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// When is the command under test, or the event delivered to a handler.
type When struct {
	// Event, when set, is delivered to Handler (default: the one handler
	// that receives it) instead of a command being sent.
	Event   *WhenEvent `json:"event,omitempty"`
	Handler string     `json:"handler,omitempty"`
	// Job, when set, runs one of the domain's jobs instead.
	Job *WhenJob `json:"job,omitempty"`

	Command  string          `json:"command"`
	Resource string          `json:"resource"`
	ID       string          `json:"id,omitempty"` // default "test-1"
	Payload  json.RawMessage `json:"payload,omitempty"`
	Caller   Caller          `json:"caller,omitempty"`
	// Time is the command's time; default DefaultTime.
	Time *time.Time `json:"time,omitempty"`
}

// WhenEvent is a stored event as a handler receives it.
type WhenEvent struct {
	Domain   string          `json:"domain,omitempty"` // default: the plugin's own
	Type     string          `json:"type"`
	Resource string          `json:"resource"`
	ID       string          `json:"id,omitempty"` // default "test-1"
	Data     json.RawMessage `json:"data,omitempty"`
	Version  int64           `json:"version,omitempty"` // default 1
	Caller   Caller          `json:"caller,omitempty"`  // who sent the command that emitted it
}

// WhenJob is a run of one of the domain's background jobs.
type WhenJob struct {
	Name   string          `json:"name"`
	Args   json.RawMessage `json:"args,omitempty"`
	Caller Caller          `json:"caller,omitempty"` // who enqueued it
}

// ExpectedJob is a job a command, handler or job must enqueue. Args is a
// subset match.
type ExpectedJob struct {
	Name      string          `json:"name"`
	Args      json.RawMessage `json:"args,omitempty"`
	DelayMS   *uint64         `json:"delay_ms,omitempty"`
	UniqueKey string          `json:"unique_key,omitempty"`
}

// ExpectedCommand is a command a handler must issue. Payload is a subset
// match; ID "" expects a command that creates.
type ExpectedCommand struct {
	Domain   string          `json:"domain,omitempty"` // default: the plugin's own
	Command  string          `json:"command"`
	Resource string          `json:"resource"`
	ID       string          `json:"id,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// Then is what must come of it.
type Then struct {
	// Commands a handler must issue, in order; absent: not checked; []:
	// none.
	Commands *[]ExpectedCommand `json:"commands,omitempty"`
	// Jobs the command, handler or job must enqueue, in order; absent: not
	// checked; []: none.
	Jobs *[]ExpectedJob `json:"jobs,omitempty"`
	// Attach is the media ids the command attaches, in order; absent: not
	// checked.
	Attach *[]string `json:"attach,omitempty"`
	// Events expected, in order; absent: not checked; []: none.
	Events *[]ExpectedEvent `json:"events,omitempty"`
	// Error expected instead of success.
	Error *ExpectedError `json:"error,omitempty"`
	// State expected after the command (subset match).
	State json.RawMessage `json:"state,omitempty"`
	// Response expected (subset match).
	Response json.RawMessage `json:"response,omitempty"`
}

// ExpectedEvent is an event the command must emit.
type ExpectedEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"` // subset match
}

// ExpectedError is the refusal the command must meet.
type ExpectedError struct {
	Code string `json:"code"`
}

// DefaultTime is the command time of scenarios that give none, so that
// expected states can name times.
var DefaultTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultID is the aggregate id of scenarios that give none.
const DefaultID = "test-1"

// Load reads a scenario file. Unknown fields are errors: a misspelt "then"
// must not make a scenario pass.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

// Parse reads a scenario file's content; name is used in errors.
func Parse(b []byte, name string) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f.Domain == "" || len(f.Scenarios) == 0 {
		return nil, fmt.Errorf("%s: a scenario file needs a domain and at least one scenario", name)
	}
	for i, s := range f.Scenarios {
		if j := s.When.Job; j != nil {
			if s.Name == "" || j.Name == "" || s.When.Command != "" || s.When.Event != nil {
				return nil, fmt.Errorf("%s: scenario %d needs a name and when.job's name, and no when.command or when.event", name, i+1)
			}
			if s.Then.Events != nil || len(s.Then.State) > 0 || len(s.Then.Response) > 0 {
				return nil, fmt.Errorf("%s: scenario %q: a job issues commands and jobs: then names those or an error", name, s.Name)
			}
			for _, g := range s.Given {
				if g.Resource == "" || g.ID == "" {
					return nil, fmt.Errorf("%s: scenario %q: a job's given events name the resource and id of their aggregate", name, s.Name)
				}
			}
		} else if e := s.When.Event; e != nil {
			if s.Name == "" || e.Type == "" || e.Resource == "" || s.When.Command != "" {
				return nil, fmt.Errorf("%s: scenario %d needs a name and when.event's type and resource, and no when.command", name, i+1)
			}
			if s.Then.Events != nil || len(s.Then.State) > 0 || len(s.Then.Response) > 0 {
				return nil, fmt.Errorf("%s: scenario %q: a handler issues commands: then names commands or an error", name, s.Name)
			}
			for _, g := range s.Given {
				if g.Resource == "" || g.ID == "" {
					return nil, fmt.Errorf("%s: scenario %q: a handler's given events name the resource and id of their aggregate", name, s.Name)
				}
			}
		} else if s.Name == "" || s.When.Command == "" || s.When.Resource == "" {
			return nil, fmt.Errorf("%s: scenario %d needs a name, when.command and when.resource", name, i+1)
		} else if s.Then.Commands != nil {
			return nil, fmt.Errorf("%s: scenario %q: then.commands is for scenarios whose when is an event", name, s.Name)
		}
		if s.Then.Error != nil && s.Then.Error.Code == "" {
			return nil, fmt.Errorf("%s: scenario %q: then.error needs a code", name, s.Name)
		}
	}
	return &f, nil
}
