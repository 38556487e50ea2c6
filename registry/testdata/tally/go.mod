module fluvius.dev/fluvius/registry/testdata/tally

go 1.22

require (
	fluvius.dev/fluvius/abi v0.0.0
	fluvius.dev/fluvius/sdk v0.0.0
)

replace (
	fluvius.dev/fluvius/abi => ../../../abi
	fluvius.dev/fluvius/sdk => ../../../sdk
)
