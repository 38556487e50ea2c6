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
	When  When         `json:"when"`
	Then  Then         `json:"then"`
}

// GivenEvent is an event already in the aggregate's stream.
type GivenEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Caller is who sends the command.
type Caller struct {
	UserID string   `json:"user_id,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// When is the command under test.
type When struct {
	Command  string          `json:"command"`
	Resource string          `json:"resource"`
	ID       string          `json:"id,omitempty"` // default "test-1"
	Payload  json.RawMessage `json:"payload,omitempty"`
	Caller   Caller          `json:"caller,omitempty"`
	// Time is the command's time; default DefaultTime.
	Time *time.Time `json:"time,omitempty"`
}

// Then is what must come of it.
type Then struct {
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
		if s.Name == "" || s.When.Command == "" || s.When.Resource == "" {
			return nil, fmt.Errorf("%s: scenario %d needs a name, when.command and when.resource", name, i+1)
		}
		if s.Then.Error != nil && s.Then.Error.Code == "" {
			return nil, fmt.Errorf("%s: scenario %q: then.error needs a code", name, s.Name)
		}
	}
	return &f, nil
}
