package sdk

import "fluvius.dev/fluvius/abi"

// Host is the set of host services a guest can call. In WebAssembly the SDK
// reaches them through the host modules of the ABI; natively a test installs
// its own with SetHost.
type Host interface {
	Log(level abi.LogLevel, msg string)
	// StateGet returns a state record of the guest's domain; found is false
	// when there is none.
	StateGet(resource, id string) (rec abi.StateRecord, found bool, err error)
}

// Querier is what a Host implements to answer Call.Query.
type Querier interface {
	Query(req abi.QueryRequest) (abi.QueryResult, error)
}

// MediaReader is what a Host implements to answer Call.Media.
type MediaReader interface {
	Media(id string) (info abi.MediaInfo, found bool, err error)
}

// Authorizer is what a Host implements to answer Call.Can.
type Authorizer interface {
	Can(action, object string) (bool, error)
}

var currentHost Host = defaultHost()

// SetHost replaces the host services and returns the previous ones, so a
// test can restore them.
func SetHost(h Host) Host {
	prev := currentHost
	currentHost = h
	return prev
}
