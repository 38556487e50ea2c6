// Package sdk is what a plugin author imports to write a Fluvius domain in Go.
//
// A domain has a name and Meta, one or more aggregates, and for each
// aggregate a state model, actions and event appliers:
//
//	var Domain = sdk.NewDomain("user", sdk.Meta{Revision: 1, Title: "Users"})
//
//	func init() {
//		users := sdk.NewAggregate[User](Domain, "user")
//		users.Action(sdk.Action[User]{
//			Name: "create-user", EvtKey: "user-created", New: true,
//			Payload: sdk.Object(sdk.Required("email", sdk.String())),
//			Handle:  createUser,
//		})
//		users.Apply("user-created", applyCreated)
//		sdk.Register(Domain)
//	}
//
// An action's handler checks invariants against the current state and emits
// events; each emitted event is folded into the state at once by its applier,
// so the handler sees its own effects and the host receives the new state
// together with the events. Replaying the stored events through the same
// appliers gives the same state.
//
// Built with GOOS=wasip1 (Go or TinyGo) the package exports the ABI functions
// of fluvius.dev/fluvius/abi; built natively it does not, and Domain.Handle
// and Domain.Apply can be called directly to unit-test aggregate logic.
//
// Guests have no clock, randomness or I/O of their own: the time and new ids
// come from the command (Call.Now, Call.NewID), so a decision is a pure
// function of the command and the state.
package sdk
