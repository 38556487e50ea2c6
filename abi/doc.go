// Package abi is the contract between the Fluvius host and its WebAssembly
// guests: the ABI version, the names and signatures of guest exports and host
// imports, the envelopes that cross the boundary, their wire encoding and the
// status and error codes.
//
// The package has no dependencies beyond the standard library's smallest
// corners (no reflection, no fmt on hot paths) so that it compiles under
// TinyGo and Go's wasip1 port as well as natively. Both host/ and sdk/ import
// it; nothing here knows about wazero or about stores.
//
// The prose specification is ABI.md beside this file; the reasons behind its
// choices are in RATIONALE.md at the repository root.
package abi
