package blob_test

import (
	"context"
	"io"
	"testing"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/blobtest"
	"fluvius.dev/fluvius/blob/miniotest"
)

// The benchmarks stream 100 MiB through each store and report, besides
// MB/s, the peak growth of the heap during one transfer (peak-heap-MiB):
// what a Put or Get costs in memory, which must not depend on the size.
//
//	go test -run '^$' -bench 100MiB ./blob

const benchSize = 100 << 20

// source yields size bytes cycling through 1 MiB of generated data: cheap
// enough that the figures are the store's.
func source(size int64) io.Reader {
	block, _ := io.ReadAll(blobtest.Generate(7, 1<<20))
	return io.LimitReader(&cycle{block: block}, size)
}

type cycle struct {
	block []byte
	off   int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := copy(p, c.block[c.off:])
	c.off = (c.off + n) % len(c.block)
	return n, nil
}

func benchPut(b *testing.B, s blob.Store) {
	ctx := context.Background()
	b.SetBytes(benchSize)
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		r := source(benchSize)
		var err error
		g := blobtest.PeakHeap(func() {
			b.StartTimer()
			_, err = s.Put(ctx, "bench/put", r)
			b.StopTimer()
		})
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, g)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func benchGet(b *testing.B, s blob.Store) {
	ctx := context.Background()
	if _, err := s.Put(ctx, "bench/get", source(benchSize)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		var n int64
		var err error
		g := blobtest.PeakHeap(func() {
			b.StartTimer()
			var rc io.ReadCloser
			if rc, err = s.Get(ctx, "bench/get"); err == nil {
				n, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			b.StopTimer()
		})
		if err != nil || n != benchSize {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		peak = max(peak, g)
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func benchLocal(b *testing.B) blob.Store {
	s, err := blob.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchS3(b *testing.B) blob.Store {
	s, err := blob.NewS3(context.Background(), miniotest.Config(b))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkLocalPut100MiB(b *testing.B) { benchPut(b, benchLocal(b)) }
func BenchmarkLocalGet100MiB(b *testing.B) { benchGet(b, benchLocal(b)) }
func BenchmarkS3Put100MiB(b *testing.B)    { benchPut(b, benchS3(b)) }
func BenchmarkS3Get100MiB(b *testing.B)    { benchGet(b, benchS3(b)) }
