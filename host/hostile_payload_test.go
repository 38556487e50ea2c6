package host_test

import (
	"encoding/json"
	"strings"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
)

// A fuzzer found that duplicate JSON keys slipped past every payload schema:
// the host validated the last copy of a key, the plugin read the first. Each
// exploit it found is refused with 400 duplicate-property before the guest
// runs, and nothing is written.
func TestDuplicateKeysRefusedBeforeTheGuest(t *testing.T) {
	e := bareEnv(t, nil)
	for _, name := range examples {
		if _, err := e.host.Load(ctx, name+".wasm", example(t, name, wasmbuild.Go)); err != nil {
			t.Fatal(err)
		}
	}
	caller := abi.Caller{UserID: "mallory", Tenant: "acme"}
	_, acct := dispatch(t, e.host, host.Command{Domain: "bank", Name: "open-account", Resource: "account", New: true,
		Payload: []byte(`{"owner":"M","initial_deposit_cents":10000}`), Caller: caller})
	_, user := dispatch(t, e.host, host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"m@example.com","name":"M"}`), Caller: caller})

	line := `{"sku":"x","quantity":10000,"price_cents":100000000}`
	lines := strings.TrimSuffix(strings.Repeat(line+",", 150), ",")
	for _, c := range []struct {
		what string
		cmd  host.Command
	}{
		{"a negative withdrawal (money created)", host.Command{Domain: "bank", Name: "withdraw", Resource: "account", AggregateID: acct.ID,
			Payload: []byte(`{"amount_cents":-5000000,"amount_cents":1}`)}},
		{"the same, the second key escaped", host.Command{Domain: "bank", Name: "withdraw", Resource: "account", AggregateID: acct.ID,
			Payload: []byte(`{"amount_cents":-5000000,"amount_c\u0065nts":1}`)}},
		{"a name past maxLength", host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: user.ID,
			Payload: []byte(`{"name":"` + strings.Repeat("n", 200_000) + `","n\u0061me":"ok"}`)}},
		{"a NUL past the NUL check", host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: user.ID,
			Payload: []byte(`{"name":"a\u0000b","name":"ok"}`)}},
		{"150 order lines past maxItems", host.Command{Domain: "order", Name: "place-order", Resource: "order", New: true,
			Payload: []byte(`{"customer":"M","items":[` + lines + `],"items":[` + line + `]}`)}},
		{"a duplicate inside a nested object", host.Command{Domain: "order", Name: "place-order", Resource: "order", New: true,
			Payload: []byte(`{"customer":"M","items":[{"sku":"x","quantity":1,"quantity":-1,"price_cents":1}]}`)}},
	} {
		c.cmd.Caller = caller
		_, err := e.host.Dispatch(ctx, &c.cmd)
		he := wantError(t, err, host.KindInvalid, "duplicate-property")
		if !strings.Contains(he.Message, "more than once") {
			t.Errorf("%s: message %q", c.what, he.Message)
		}
	}
	// Nothing of it reached the aggregates.
	for _, a := range []struct{ domain, resource, id string }{{"bank", "account", acct.ID}, {"user", "user", user.ID}} {
		evs, err := e.host.Events(ctx, acme, a.domain, a.resource, a.id, 0, 100, 0)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s %s has %d events (%v); want only its creation", a.resource, a.id, len(evs), err)
		}
	}
	rec, err := e.host.State(ctx, acme, "bank", "account", acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.Unmarshal(rec.Data, &st)
	if st["balance_cents"] != float64(10000) {
		t.Fatalf("balance changed: %s", rec.Data)
	}
}

// Malformed documents are refused with their own code, and the ones parsers
// disagree on (lone surrogates, invalid UTF-8) with them.
func TestMalformedPayloadsRefused(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{`{"email":`, `{"email":"a@b.co","name":"\ud800"}`, "{\"email\":\"a@b.co\",\"name\":\"\xff\"}",
		`{"email":"a@b.co","name":"A"} x`, strings.Repeat("[", 100)} {
		_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true, Payload: []byte(p)})
		wantError(t, err, host.KindInvalid, "malformed-json")
	}
}

// A NUL in a payload's string is refused before the guest (PostgreSQL
// could not store it once a plugin copies it into an event), on both
// stores alike; an escaped backslash before "u0000" is no NUL.
func TestNULRefusedBeforeTheGuest(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"a@b.co","name":"A\u0000B"}`)})
	wantError(t, err, host.KindInvalid, "invalid-payload")
	if _, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"a@b.co","name":"A\\u0000B"}`)}); err != nil {
		t.Fatalf("an escaped backslash was refused: %v", err)
	}
}
