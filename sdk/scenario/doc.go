// Package scenario tests a domain plugin with scenarios before it is
// uploaded: given some events, when a command arrives (with a caller), then
// these events, or this error, and this state.
//
// Scenarios are JSON files, so authors in any language can write them; the
// same file runs against the built .wasm in a real (in-process) host and, for
// Go plugins, natively against the SDK code (Native), where a debugger and
// coverage work. Payloads are checked against the manifest's schemas first,
// as the host does, so a scenario can expect "invalid-payload" too.
//
// A scenario file:
//
//	{
//	  "domain": "user",
//	  "scenarios": [{
//	    "name": "a deactivated user cannot be renamed",
//	    "given": [{"type": "user-created", "data": {"email": "a@b.co", "name": "A"}},
//	              {"type": "user-deactivated", "data": {}}],
//	    "when":  {"command": "update-user", "resource": "user", "payload": {"name": "B"}},
//	    "then":  {"error": {"code": "user-deactivated"}, "events": []}
//	  }]
//	}
//
// Expected state, response and event data are matched as subsets: every
// object member the scenario names must be there with that value; others
// may be. Arrays are not subsets: an expected array must have exactly as
// many elements as the plugin's, each matched in order (as a subset, when
// it is an object). A payload that is not JSON answers malformed-json, one
// naming a property twice duplicate-property, as the host does.
package scenario
