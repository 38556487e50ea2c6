//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"

	"fluvius.dev/fluvius/abi"
)

//go:wasmimport fluvius_core_v1 take_response
func hostTakeResponse(ptr, n uint32) uint32

//go:wasmimport fluvius_log_v1 write
func hostLogWrite(level int32, ptr, n uint32)

//go:wasmimport fluvius_state_v1 get
func hostStateGet(ptr, n uint32) int64

//go:wasmimport fluvius_authz_v1 can
func hostCan(ptr, n uint32) int32

//go:wasmimport fluvius_query_v1 list
func hostQueryList(ptr, n uint32) int64

//go:wasmimport fluvius_media_v1 get
func hostMediaGet(ptr, n uint32) int64

// importHost reaches the host through the ABI's host modules.
type importHost struct{}

func defaultHost() Host { return importHost{} }

func bytesPtr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func (importHost) Log(level abi.LogLevel, msg string) {
	b := []byte(msg)
	hostLogWrite(int32(level), bytesPtr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}

// take fetches the pending response of a host call that returned its length.
func take(n int64) []byte {
	buf := make([]byte, n)
	if n > 0 {
		hostTakeResponse(bytesPtr(buf), uint32(n))
	}
	return buf
}

func (importHost) StateGet(resource, id string) (abi.StateRecord, bool, error) {
	var e abi.Encoder
	(&abi.StateGetRequest{Resource: resource, ID: id}).Encode(&e)
	req := e.Bytes()
	n := hostStateGet(bytesPtr(req), uint32(len(req)))
	runtime.KeepAlive(req)
	if n == int64(abi.HostErrNotFound) {
		return abi.StateRecord{}, false, nil
	}
	if n < 0 {
		return abi.StateRecord{}, false, abi.HostError(n)
	}
	var rec abi.StateRecord
	if err := rec.Decode(take(n)); err != nil {
		return abi.StateRecord{}, false, err
	}
	return rec, true, nil
}

func (importHost) Can(action, object string) (bool, error) {
	var e abi.Encoder
	(&abi.CanRequest{Action: action, Object: object}).Encode(&e)
	req := e.Bytes()
	n := hostCan(bytesPtr(req), uint32(len(req)))
	runtime.KeepAlive(req)
	if n < 0 {
		return false, abi.HostError(n)
	}
	return n == 1, nil
}

func (importHost) Query(req abi.QueryRequest) (abi.QueryResult, error) {
	var e abi.Encoder
	req.Encode(&e)
	b := e.Bytes()
	n := hostQueryList(bytesPtr(b), uint32(len(b)))
	runtime.KeepAlive(b)
	if n < 0 {
		return abi.QueryResult{}, abi.HostError(n)
	}
	var res abi.QueryResult
	if err := res.Decode(take(n)); err != nil {
		return abi.QueryResult{}, err
	}
	return res, nil
}

func (importHost) Media(id string) (abi.MediaInfo, bool, error) {
	var e abi.Encoder
	(&abi.MediaGetRequest{ID: id}).Encode(&e)
	req := e.Bytes()
	n := hostMediaGet(bytesPtr(req), uint32(len(req)))
	runtime.KeepAlive(req)
	if n == int64(abi.HostErrNotFound) {
		return abi.MediaInfo{}, false, nil
	}
	if n < 0 {
		return abi.MediaInfo{}, false, abi.HostError(n)
	}
	var m abi.MediaInfo
	if err := m.Decode(take(n)); err != nil {
		return abi.MediaInfo{}, false, err
	}
	return m, true, nil
}
