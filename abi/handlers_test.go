package abi_test

import (
	"fmt"
	"reflect"
	"testing"

	"fluvius.dev/fluvius/abi"
)

func TestEventDeliveryRoundTrip(t *testing.T) {
	in := abi.EventDelivery{Handler: "reserve-for-order", EventID: "e-1", Domain: "order", Resource: "order", AggregateID: "o-1",
		Type: "order-placed", Data: []byte(`{"items":[]}`), Version: 3, Time: -5, CorrelationID: "c-1",
		Caller: abi.Caller{UserID: "ann", Tenant: "acme", Roles: []string{"clerk"}}, Attempt: 2}
	var e abi.Encoder
	in.Encode(&e)
	var out abi.EventDelivery
	if err := out.Decode(e.Bytes()); err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %v\n in  %+v\n out %+v", err, in, out)
	}
}

func TestHandlerResultRoundTrip(t *testing.T) {
	for _, in := range []abi.HandlerResult{
		{Status: abi.StatusOK, Commands: []abi.IssuedCommand{
			{Name: "reserve-stock", Resource: "reservation", Payload: []byte(`{"order_id":"o-1"}`)},
			{Domain: "billing", Name: "charge", Resource: "invoice", AggregateID: "i-9", Payload: []byte(`{}`)}}},
		{Status: abi.StatusFailed, Error: abi.Error{Code: "handler-failed", Message: "boom"}},
	} {
		var e abi.Encoder
		in.Encode(&e)
		var out abi.HandlerResult
		if err := out.Decode(e.Bytes()); err != nil || !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip: %v\n in  %+v\n out %+v", err, in, out)
		}
	}
	// An OK answer that issues nothing is still not empty: the host reads
	// an empty answer as a guest without a domain.
	var e abi.Encoder
	(&abi.HandlerResult{}).Encode(&e)
	if len(e.Bytes()) == 0 {
		t.Fatal("an OK result with no commands encodes to nothing")
	}
}

func TestHandlerResultRefusesTooManyCommands(t *testing.T) {
	var in abi.HandlerResult
	for i := range abi.MaxIssuedCommands + 1 {
		in.Commands = append(in.Commands, abi.IssuedCommand{Name: fmt.Sprint("c", i)})
	}
	var e abi.Encoder
	in.Encode(&e)
	var out abi.HandlerResult
	if err := out.Decode(e.Bytes()); err == nil {
		t.Fatalf("decoded %d commands", len(out.Commands))
	}
}
