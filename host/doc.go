// Package host is the Fluvius runtime: it loads domain plugins (WebAssembly
// modules speaking the ABI of package abi) into a wazero sandbox, keeps a
// pool of instances per plugin, provides the host services guests import,
// and dispatches commands: load the aggregate, let a guest decide, append the
// events at the expected version and write the state, in one transaction.
//
// The HTTP layer (package admin) and the CLI build on Host; nothing here
// knows about HTTP beyond the problem kinds errors carry.
package host
