package blobtest

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// Generate yields size pseudo-random bytes, the same for the same seed,
// without holding them: tests stream large blobs from it and compare
// digests, never byte slices.
func Generate(seed uint64, size int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return io.LimitReader(rand.NewChaCha8(s), size)
}

// GenerateAt returns n bytes of what Generate(seed, ...) yields from
// offset on.
func GenerateAt(seed uint64, offset, n int64) []byte {
	r := Generate(seed, offset+n)
	if _, err := io.CopyN(io.Discard, r, offset); err != nil {
		panic(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		panic(err)
	}
	return b
}

// heapMetric is the memory of heap objects, live or not yet swept: what a
// Put's buffers add to, sampled without stopping the world (unlike
// runtime.ReadMemStats).
const heapMetric = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// PeakHeap runs f and returns by how much the heap grew at its peak over
// what it was before, sampled every millisecond. It collects garbage first,
// twice (a sync.Pool keeps what it holds over one collection), so that the
// base is what is live and pooled buffers count for the code that takes
// them. Garbage f makes counts until the collector takes it, so compare
// runs of different sizes rather than reading one figure alone.
func PeakHeap(f func()) uint64 {
	runtime.GC()
	runtime.GC()
	base := heapNow()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapNow(); h > peak {
				peak = h
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	if h := heapNow(); h > peak {
		peak = h
	}
	if peak < base {
		return 0
	}
	return peak - base
}
