package abi_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"fluvius.dev/fluvius/abi"
)

func TestCommandRoundTrip(t *testing.T) {
	in := abi.Command{
		ID: "c1", Domain: "user", Name: "create-user", Resource: "user", AggregateID: "u-1",
		Payload:       []byte(`{"email":"a@b.c"}`),
		Caller:        abi.Caller{UserID: "alice", Tenant: "acme", Roles: []string{"admin", "ops"}},
		CorrelationID: "corr", CausationID: "cause", Time: -1234567890123, // negative survives zig-zag
		State: []byte(`{}`), Version: 42,
	}
	var e abi.Encoder
	in.Encode(&e)
	var out abi.Command
	if err := out.Decode(e.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the command:\n in  %+v\n out %+v", in, out)
	}
}

func TestResultRoundTrip(t *testing.T) {
	in := abi.Result{
		Status: abi.StatusDomainError,
		Events: []abi.Event{
			{Type: "user-created", Data: []byte(`{"a":1}`)},
			{Type: "user-named", Data: []byte(`{}`), Version: 7, Time: 99},
		},
		Response: []byte(`{"ok":true}`),
		State:    []byte(`{"n":2}`),
		Error:    abi.Error{Code: "invalid-email", Message: "bad", Details: []byte(`{"field":"email"}`)},
	}
	var e abi.Encoder
	in.Encode(&e)
	var out abi.Result
	if err := out.Decode(e.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the result:\n in  %+v\n out %+v", in, out)
	}
}

func TestApplyAndStateRoundTrip(t *testing.T) {
	req := abi.ApplyRequest{Resource: "user", AggregateID: "u", State: []byte(`{}`),
		Events: []abi.Event{{Type: "x", Data: []byte(`1`), Version: 1}}}
	var e abi.Encoder
	req.Encode(&e)
	var req2 abi.ApplyRequest
	if err := req2.Decode(e.Bytes()); err != nil || !reflect.DeepEqual(req, req2) {
		t.Fatalf("apply request: %v %+v", err, req2)
	}
	res := abi.ApplyResult{Status: abi.StatusFailed, State: []byte(`{"a":1}`), Error: abi.Error{Code: "boom"}}
	e.Reset()
	res.Encode(&e)
	var res2 abi.ApplyResult
	if err := res2.Decode(e.Bytes()); err != nil || !reflect.DeepEqual(res, res2) {
		t.Fatalf("apply result: %v %+v", err, res2)
	}
	rec := abi.StateRecord{Data: []byte(`{}`), Version: 3, ETag: "e", Tenant: "t"}
	e.Reset()
	rec.Encode(&e)
	var rec2 abi.StateRecord
	if err := rec2.Decode(e.Bytes()); err != nil || !reflect.DeepEqual(rec, rec2) {
		t.Fatalf("state record: %v %+v", err, rec2)
	}
}

// An empty but present byte field must stay distinguishable from an absent one:
// an empty JSON document is not "no state".
func TestEmptyBytesArePreserved(t *testing.T) {
	var e abi.Encoder
	(&abi.Command{State: []byte{}}).Encode(&e)
	var c abi.Command
	if err := c.Decode(e.Bytes()); err != nil {
		t.Fatal(err)
	}
	if c.State == nil {
		t.Fatal("empty state decoded as nil")
	}
}

// Fields a decoder does not know are skipped: a newer host may add fields.
func TestUnknownFieldsAreSkipped(t *testing.T) {
	var e abi.Encoder
	e.String(1, "id")
	e.String(99, "from the future")
	e.Uint(98, 12345)
	m := e.BeginMessage(97)
	e.String(1, "nested")
	e.EndMessage(m)
	e.String(3, "create-user")
	var c abi.Command
	if err := c.Decode(e.Bytes()); err != nil {
		t.Fatal(err)
	}
	if c.ID != "id" || c.Name != "create-user" {
		t.Fatalf("known fields lost around unknown ones: %+v", c)
	}
}

func TestMalformedEnvelopes(t *testing.T) {
	var e abi.Encoder
	(&abi.Command{ID: "abc", Payload: []byte(`{"x":1}`)}).Encode(&e)
	good := e.Bytes()
	cases := map[string][]byte{
		"truncated":     good[:len(good)-2],
		"field zero":    {0x00, 0x01},
		"bad wire type": {0x0b},
		"long varint":   bytes.Repeat([]byte{0xff}, 11),
		"length beyond": {0x0a, 0x7f, 'a'},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var c abi.Command
			if err := c.Decode(b); !errors.Is(err, abi.ErrMalformed) {
				t.Fatalf("want ErrMalformed, got %v", err)
			}
		})
	}
}

func TestPackUnpack(t *testing.T) {
	p, n := abi.Unpack(abi.Pack(0xdeadbeef, 0x12345678))
	if p != 0xdeadbeef || n != 0x12345678 {
		t.Fatalf("got %x %x", p, n)
	}
}

func FuzzResultDecode(f *testing.F) {
	var e abi.Encoder
	(&abi.Result{Events: []abi.Event{{Type: "t", Data: []byte("{}")}}, Error: abi.Error{Code: "c"}}).Encode(&e)
	f.Add(e.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		var r abi.Result
		if err := r.Decode(b); err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same thing.
		var e2 abi.Encoder
		r.Encode(&e2)
		var r2 abi.Result
		if err := r2.Decode(e2.Bytes()); err != nil {
			t.Fatalf("re-encoded result does not decode: %v", err)
		}
		if len(r2.Events) != len(r.Events) || r2.Status != r.Status || r2.Error.Code != r.Error.Code {
			t.Fatalf("re-encoding changed the result: %+v vs %+v", r, r2)
		}
	})
}
