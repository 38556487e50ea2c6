module fluvius.dev/fluvius/subscribe/testdata/relay

go 1.22

require fluvius.dev/fluvius/sdk v0.0.0

require fluvius.dev/fluvius/abi v0.0.0 // indirect

replace (
	fluvius.dev/fluvius/abi => ../../../abi
	fluvius.dev/fluvius/sdk => ../../../sdk
)
