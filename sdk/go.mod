module fluvius.dev/fluvius/sdk

// Plugin authors require this module; it must build with TinyGo (Go
// 1.19-1.23) and pull in nothing but the ABI.
go 1.22

require fluvius.dev/fluvius/abi v0.0.0

replace fluvius.dev/fluvius/abi => ../abi
