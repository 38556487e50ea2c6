//go:build wasip1

package sdk

import (
	"unsafe"

	"fluvius.dev/fluvius/abi"
)

// The buffers below are package variables so the garbage collector keeps
// them while the host reads or writes them between calls.
var (
	inBuf    []byte // the host writes requests here (fluvius_buffer)
	outBuf   []byte // the last answer, read by the host after the call
	manifest []byte
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func answer(b []byte) uint64 {
	outBuf = b
	return abi.Pack(addr(b), uint32(len(b)))
}

// input returns the request the host wrote into inBuf. A pointer that is not
// inBuf's is a host bug; answering with an empty request makes the domain
// report a malformed envelope instead of reading stray memory.
func input(ptr, n uint32) []byte {
	if ptr != addr(inBuf) || int(n) > len(inBuf) {
		return nil
	}
	return inBuf[:n]
}

//go:wasmexport fluvius_abi_version
func exportABIVersion() int32 { return abi.Version }

//go:wasmexport fluvius_buffer
func exportBuffer(size int32) uint32 {
	if size < 1 {
		size = 1
	}
	if cap(inBuf) < int(size) {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:size]
	return addr(inBuf)
}

//go:wasmexport fluvius_manifest
func exportManifest() uint64 {
	if registered == nil {
		return 0
	}
	if manifest == nil {
		manifest = registered.Manifest()
	}
	return abi.Pack(addr(manifest), uint32(len(manifest)))
}

//go:wasmexport fluvius_handle
func exportHandle(ptr, n uint32) uint64 {
	if registered == nil {
		return 0
	}
	return answer(registered.Handle(input(ptr, n)))
}

//go:wasmexport fluvius_apply
func exportApply(ptr, n uint32) uint64 {
	if registered == nil {
		return 0
	}
	return answer(registered.Apply(input(ptr, n)))
}

//go:wasmexport fluvius_on_event
func exportOnEvent(ptr, n uint32) uint64 {
	if registered == nil {
		return 0
	}
	return answer(registered.OnEvent(input(ptr, n)))
}

//go:wasmexport fluvius_run_job
func exportRunJob(ptr, n uint32) uint64 {
	if registered == nil {
		return 0
	}
	return answer(registered.RunJob(input(ptr, n)))
}
