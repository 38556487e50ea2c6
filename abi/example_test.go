package abi_test

import (
	"fmt"

	"fluvius.dev/fluvius/abi"
)

// A command envelope as the host writes it and a guest reads it.
func ExampleCommand_Encode() {
	var e abi.Encoder
	(&abi.Command{ID: "c1", Domain: "user", Name: "create-user", Resource: "user",
		Payload: []byte(`{"email":"ann@example.com"}`), Caller: abi.Caller{UserID: "alice"}}).Encode(&e)

	var cmd abi.Command
	if err := cmd.Decode(e.Bytes()); err != nil {
		panic(err)
	}
	fmt.Printf("%s:%s by %s, %d bytes on the wire\n", cmd.Domain, cmd.Name, cmd.Caller.UserID, len(e.Bytes()))
	// Output: user:create-user by alice, 70 bytes on the wire
}
