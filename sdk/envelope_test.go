package sdk

import (
	"bytes"
	"reflect"
	"testing"

	"fluvius.dev/fluvius/abi"
)

// command.decode and applyRequest.decode must accept exactly what the abi
// decoders accept, and read the same fields.
func FuzzEnvelopeDecodeAgreesWithABI(f *testing.F) {
	var e abi.Encoder
	(&abi.Command{ID: "c", Domain: "d", Name: "n", Resource: "r", AggregateID: "a", Payload: []byte(`{}`),
		Caller: abi.Caller{UserID: "u", Tenant: "t", Roles: []string{"x", "y"}}, CorrelationID: "co", CausationID: "ca",
		Time: -5, State: []byte(`{"s":1}`), Version: 7}).Encode(&e)
	f.Add(append([]byte(nil), e.Bytes()...))
	e.Reset()
	(&abi.ApplyRequest{Resource: "r", AggregateID: "a", State: []byte(`{}`),
		Events: []abi.Event{{Type: "t", Data: []byte(`{}`), Version: 1, Time: 2}, {Type: "u"}}}).Encode(&e)
	f.Add(append([]byte(nil), e.Bytes()...))
	f.Add([]byte{0x3a, 0x02, 0x08, 0x01}) // a caller whose user id is a varint
	f.Fuzz(func(t *testing.T, b []byte) {
		var want abi.Command
		werr := want.Decode(b)
		var got command
		gerr := got.decode(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("command: abi err %v, sdk err %v", werr, gerr)
		}
		if werr == nil {
			var caller abi.Caller
			if err := decodeCaller(got.caller, &caller); err != nil {
				t.Fatal(err)
			}
			if string(got.id) != want.ID || string(got.name) != want.Name || string(got.resource) != want.Resource ||
				string(got.aggregateID) != want.AggregateID || !bytes.Equal(got.payload, want.Payload) ||
				!bytes.Equal(got.state, want.State) || (got.payload == nil) != (want.Payload == nil) ||
				(got.state == nil) != (want.State == nil) || got.time != want.Time || got.version != want.Version ||
				!reflect.DeepEqual(caller, want.Caller) {
				t.Fatalf("command: abi %+v, sdk %+v", want, got)
			}
		}
		var wantReq abi.ApplyRequest
		werr = wantReq.Decode(b)
		var gotReq applyRequest
		gerr = gotReq.decode(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("apply: abi err %v, sdk err %v", werr, gerr)
		}
		if werr == nil {
			if string(gotReq.resource) != wantReq.Resource || !bytes.Equal(gotReq.state, wantReq.State) ||
				(gotReq.state == nil) != (wantReq.State == nil) || len(gotReq.events) != len(wantReq.Events) {
				t.Fatalf("apply: abi %+v, sdk %+v", wantReq, gotReq)
			}
			for i, ev := range wantReq.Events {
				g := gotReq.events[i]
				if string(g.typ) != ev.Type || !bytes.Equal(g.data, ev.Data) || g.version != ev.Version || g.time != ev.Time {
					t.Fatalf("apply event %d: abi %+v, sdk %+v", i, ev, g)
				}
			}
		}
	})
}
