package abi

// Version is the ABI version this package describes. A guest declares the
// version it was built against by exporting ExportABIVersion returning it; the
// host refuses guests whose version it does not serve.
const Version = 1

// Guest exports. Every name carries the fluvius_ prefix so that it never
// collides with what a toolchain exports on its own (TinyGo already exports
// malloc, free, calloc and realloc).
const (
	// ExportABIVersion: () -> i32. Returns the ABI version the guest speaks.
	ExportABIVersion = "fluvius_abi_version"
	// ExportBuffer: (size i32) -> i32. Returns a pointer to a guest-owned
	// buffer of at least size bytes for the host to write the next request
	// into. The buffer stays valid until the next call of ExportBuffer.
	ExportBuffer = "fluvius_buffer"
	// ExportManifest: () -> i64. Returns the packed location of the domain's
	// manifest, JSON encoded (see Manifest).
	ExportManifest = "fluvius_manifest"
	// ExportHandle: (ptr i32, len i32) -> i64. Decides one command: the input
	// is a Command envelope, the output a Result envelope.
	ExportHandle = "fluvius_handle"
	// ExportApply: (ptr i32, len i32) -> i64. Folds events into a state: the
	// input is an ApplyRequest envelope, the output an ApplyResult envelope.
	ExportApply = "fluvius_apply"
	// ExportOnEvent: (ptr i32, len i32) -> i64. Runs an event handler: the
	// input is an EventDelivery envelope, the output a HandlerResult
	// envelope. Only plugins that declare handlers need it
	// (FeatureEventHandlers).
	ExportOnEvent = "fluvius_on_event"
	// ExportRunJob: (ptr i32, len i32) -> i64. Runs a background job: the
	// input is a JobRequest envelope, the output a HandlerResult envelope.
	// Only plugins that declare jobs need it (FeatureJobs).
	ExportRunJob = "fluvius_run_job"
)

// RunJobExport is ExportRunJob's signature.
var RunJobExport = FuncSig{Name: ExportRunJob, Params: []ValueType{I32, I32}, Results: []ValueType{I64}}

// OnEventExport is ExportOnEvent's signature.
var OnEventExport = FuncSig{Name: ExportOnEvent, Params: []ValueType{I32, I32}, Results: []ValueType{I64}}

// RequiredExports lists the functions every guest must export, with their
// signatures written as wasm value types (i32, i64).
var RequiredExports = []FuncSig{
	{Name: ExportABIVersion, Results: []ValueType{I32}},
	{Name: ExportBuffer, Params: []ValueType{I32}, Results: []ValueType{I32}},
	{Name: ExportManifest, Results: []ValueType{I64}},
	{Name: ExportHandle, Params: []ValueType{I32, I32}, Results: []ValueType{I64}},
	{Name: ExportApply, Params: []ValueType{I32, I32}, Results: []ValueType{I64}},
}

// Host modules. Each host service is a module of its own whose name carries
// its version, so a service can move to _v2 while the host keeps serving _v1
// to older guests.
const (
	// ModuleCore holds the plumbing every other module relies on.
	ModuleCore = "fluvius_core_v1"
	// ModuleLog lets guests write to the host's structured log.
	ModuleLog = "fluvius_log_v1"
	// ModuleState gives read access to state records (read models).
	ModuleState = "fluvius_state_v1"
	// ModuleAuthz answers permission questions about the command's caller.
	ModuleAuthz = "fluvius_authz_v1"
	// ModuleQuery lists read models of the guest's own domain.
	ModuleQuery = "fluvius_query_v1"
	// ModuleMedia reads the metadata of uploaded files of the tenant.
	ModuleMedia = "fluvius_media_v1"
	// ModuleWASI is the WASI preview 1 module. Toolchains import it for their
	// runtimes; the host provides it with no filesystem, no network, no
	// environment and a fake clock.
	ModuleWASI = "wasi_snapshot_preview1"
)

// Host functions.
const (
	// FuncTakeResponse (fluvius_core_v1): (ptr i32, len i32) -> i32. Copies the
	// pending response of the last host call that returned a length into guest
	// memory at ptr and returns the number of bytes copied.
	FuncTakeResponse = "take_response"
	// FuncLogWrite (fluvius_log_v1): (level i32, ptr i32, len i32). Level is a
	// LogLevel; the message is UTF-8 text.
	FuncLogWrite = "write"
	// FuncStateGet (fluvius_state_v1): (ptr i32, len i32) -> i64. The input is
	// a StateGetRequest envelope. A result >= 0 is the length of a pending
	// StateRecord envelope to fetch with take_response; a negative result is
	// a HostError.
	FuncStateGet = "get"
	// FuncCan (fluvius_authz_v1): (ptr i32, len i32) -> i32. The input is a
	// CanRequest; the result is 1 if the caller of the command being
	// decided holds the permission, 0 if not, negative on error.
	FuncCan = "can"
)

// FuncQueryList (fluvius_query_v1): (ptr i32, len i32) -> i64. The input
// is a QueryRequest; a result >= 0 is the length of a pending QueryResult
// to fetch with take_response (its Error says why a query was refused); a
// negative result is a HostError.
const FuncQueryList = "list"

// FuncMediaGet (fluvius_media_v1): (ptr i32, len i32) -> i64. The input is
// a MediaGetRequest; a result >= 0 is the length of a pending MediaInfo to
// fetch with take_response; -1 when the tenant has no such media.
const FuncMediaGet = "get"

// HostFunctions lists every function the host provides, by module. A guest
// importing anything else is refused at load time.
var HostFunctions = map[string][]FuncSig{
	ModuleCore:  {{Name: FuncTakeResponse, Params: []ValueType{I32, I32}, Results: []ValueType{I32}}},
	ModuleLog:   {{Name: FuncLogWrite, Params: []ValueType{I32, I32, I32}}},
	ModuleState: {{Name: FuncStateGet, Params: []ValueType{I32, I32}, Results: []ValueType{I64}}},
	ModuleAuthz: {{Name: FuncCan, Params: []ValueType{I32, I32}, Results: []ValueType{I32}}},
	ModuleQuery: {{Name: FuncQueryList, Params: []ValueType{I32, I32}, Results: []ValueType{I64}}},
	ModuleMedia: {{Name: FuncMediaGet, Params: []ValueType{I32, I32}, Results: []ValueType{I64}}},
}

// ValueType is a WebAssembly value type, spelled as in the text format.
type ValueType string

// The value types the ABI uses.
const (
	I32 ValueType = "i32"
	I64 ValueType = "i64"
)

// FuncSig is a function's name and signature.
type FuncSig struct {
	Name    string
	Params  []ValueType
	Results []ValueType
}

// Pack combines a guest pointer and length into the i64 that exports such as
// ExportHandle return.
func Pack(ptr, length uint32) uint64 { return uint64(ptr)<<32 | uint64(length) }

// Unpack splits a packed i64 into pointer and length.
func Unpack(v uint64) (ptr, length uint32) { return uint32(v >> 32), uint32(v) }

// LogLevel mirrors log/slog's levels.
type LogLevel int32

// Log levels.
const (
	LogDebug LogLevel = -4
	LogInfo  LogLevel = 0
	LogWarn  LogLevel = 4
	LogError LogLevel = 8
)

// HostError is the negative code a host function returns when it cannot give
// a result.
type HostError int64

// Host function error codes.
const (
	HostErrNotFound    HostError = -1 // no such record
	HostErrBadRequest  HostError = -2 // the request envelope did not decode
	HostErrUnavailable HostError = -3 // the service failed; the call may be retried
	HostErrNoResponse  HostError = -4 // take_response without a pending response
)

func (e HostError) Error() string {
	switch e {
	case HostErrNotFound:
		return "not found"
	case HostErrBadRequest:
		return "bad request"
	case HostErrUnavailable:
		return "service unavailable"
	case HostErrNoResponse:
		return "no pending response"
	}
	return "host error"
}
