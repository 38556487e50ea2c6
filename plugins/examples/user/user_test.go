package main

import (
	"encoding/json"
	"testing"

	"fluvius.dev/fluvius/abi"
)

func decide(t testing.TB, name string, state []byte, version int64, payload string) *abi.Result {
	t.Helper()
	res, err := Domain.Decide(&abi.Command{
		ID: "cmd-1", Domain: "user", Name: name, Resource: "user", AggregateID: "u-1",
		Payload: []byte(payload), Time: 1_700_000_000_000_000_000, State: state, Version: version,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func stateOf(t *testing.T, r *abi.Result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.State, &m); err != nil {
		t.Fatalf("state %s: %v", r.State, err)
	}
	return m
}

func TestCreateUser(t *testing.T) {
	r := decide(t, "create-user", nil, 0, `{"email":" Ann@Example.COM ","name":"Ann"}`)
	if r.Status != abi.StatusOK {
		t.Fatalf("status %v: %+v", r.Status, r.Error)
	}
	if len(r.Events) != 1 || r.Events[0].Type != "user-created" {
		t.Fatalf("events %+v", r.Events)
	}
	if string(r.Events[0].Data) != `{"email":"ann@example.com","name":"Ann"}` {
		t.Fatalf("event data %s", r.Events[0].Data)
	}
	s := stateOf(t, r)
	if s["email"] != "ann@example.com" || s["status"] != "active" || s["created_at"] != float64(1_700_000_000_000_000_000) {
		t.Fatalf("state %v", s)
	}
}

func TestCreateUserRejectsInvalidEmail(t *testing.T) {
	for _, email := range []string{"", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@@example.com", "ann@example..com"} {
		r := decide(t, "create-user", nil, 0, `{"email":"`+email+`","name":"Ann"}`)
		if r.Status != abi.StatusDomainError || r.Error.Code != "invalid-email" {
			t.Errorf("%q: status %v error %+v", email, r.Status, r.Error)
		}
		if len(r.Events) != 0 {
			t.Errorf("%q: a refused command emitted %d events", email, len(r.Events))
		}
	}
}

func TestUpdateAndDeactivate(t *testing.T) {
	created := decide(t, "create-user", nil, 0, `{"email":"ann@example.com","name":"Ann"}`)
	updated := decide(t, "update-user", created.State, 1, `{"name":"Ann B"}`)
	if updated.Status != abi.StatusOK || stateOf(t, updated)["name"] != "Ann B" || stateOf(t, updated)["email"] != "ann@example.com" {
		t.Fatalf("update: %v %+v %s", updated.Status, updated.Error, updated.State)
	}
	if r := decide(t, "update-user", updated.State, 2, `{"name":"Ann B"}`); r.Error.Code != "nothing-to-update" {
		t.Fatalf("no-op update: %+v", r.Error)
	}
	gone := decide(t, "deactivate-user", updated.State, 2, `{"reason":"left"}`)
	if gone.Status != abi.StatusOK || stateOf(t, gone)["status"] != "deactivated" || stateOf(t, gone)["reason"] != "left" {
		t.Fatalf("deactivate: %v %+v %s", gone.Status, gone.Error, gone.State)
	}
	for _, cmd := range []string{"update-user", "deactivate-user"} {
		r := decide(t, cmd, gone.State, 3, `{"name":"Zed"}`)
		if r.Status != abi.StatusDomainError || r.Error.Code != "user-deactivated" {
			t.Fatalf("%s on a deactivated user: %v %+v", cmd, r.Status, r.Error)
		}
	}
}

func TestCommandsOnMissingOrExistingUser(t *testing.T) {
	if r := decide(t, "update-user", nil, 0, `{"name":"x"}`); r.Error.Code != "aggregate-not-found" {
		t.Fatalf("update of a missing user: %+v", r.Error)
	}
	if r := decide(t, "create-user", []byte(`{}`), 1, `{"email":"a@b.co","name":"x"}`); r.Error.Code != "aggregate-exists" {
		t.Fatalf("create over an existing user: %+v", r.Error)
	}
	if r := decide(t, "purge-user", nil, 0, `{}`); r.Status != abi.StatusUnknownCommand {
		t.Fatalf("unknown command: %v", r.Status)
	}
}

// Replaying the events a command emitted must give the state it returned.
func TestReplayMatchesDecision(t *testing.T) {
	c := decide(t, "create-user", nil, 0, `{"email":"ann@example.com","name":"Ann"}`)
	u := decide(t, "update-user", c.State, 1, `{"email":"ann@example.org"}`)
	events := append(append([]abi.Event{}, c.Events...), u.Events...)
	for i := range events {
		events[i].Version = int64(i + 1)
		events[i].Time = 1_700_000_000_000_000_000
	}
	res, err := Domain.Fold(&abi.ApplyRequest{Resource: "user", AggregateID: "u-1", Events: events})
	if err != nil || res.Status != abi.StatusOK {
		t.Fatalf("fold: %v %+v", err, res)
	}
	if string(res.State) != string(u.State) {
		t.Fatalf("replayed state %s differs from decided state %s", res.State, u.State)
	}
}

func TestManifestIsValidJSON(t *testing.T) {
	var m abi.Manifest
	if err := json.Unmarshal(Domain.Manifest(), &m); err != nil {
		t.Fatalf("manifest %s: %v", Domain.Manifest(), err)
	}
	if m.Domain != "user" || m.ABIVersion != abi.Version || len(m.Commands) != 4 || len(m.Events) != 4 || m.Aggregates[0].Query == nil || !m.Command("delete-user").Deletes {
		t.Fatalf("manifest %+v", m)
	}
	c := m.Command("create-user")
	if c == nil || !c.New || c.EvtKey != "user-created" || c.Payload == nil || len(c.Payload.Required) != 2 {
		t.Fatalf("create-user spec %+v", c)
	}
	if *c.Payload.Properties["email"].MaxLength != 254 || *c.Payload.AdditionalProperties {
		t.Fatalf("email schema %+v", c.Payload.Properties["email"])
	}
}

// BenchmarkCreateUserNative is create-user decided natively, envelope in and
// out: the baseline for the guest's handle time (host.BenchmarkGuestHandle).
func BenchmarkCreateUserNative(b *testing.B) {
	var e abi.Encoder
	(&abi.Command{ID: "cmd-1", Domain: "user", Name: "create-user", Resource: "user", AggregateID: "u-1",
		Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Time: 1}).Encode(&e)
	in := e.Bytes()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out := Domain.Handle(in); len(out) == 0 {
			b.Fatal("no result")
		}
	}
}
