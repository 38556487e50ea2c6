module fluvius.dev/fluvius/abi

// The contract is compiled into guests too: keep it buildable by TinyGo,
// which supports Go 1.19-1.23.
go 1.22
