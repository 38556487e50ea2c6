package registry_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/registry"
)

// rebuilt is a module with a custom section appended: the same plugin in
// other bytes.
func rebuilt(wasm []byte) []byte {
	return append(append([]byte{}, wasm...), 0, 7, 5, 'b', 'e', 'n', 'c', 'h', '2')
}

// benchModule returns the tally plugin built with the toolchain.
func benchModule(b *testing.B, tc wasmbuild.Toolchain) []byte {
	b.Helper()
	if tc == wasmbuild.Go {
		return tally
	}
	if _, _, err := wasmbuild.FindTinyGo(); err != nil {
		b.Skipf("TinyGo is not installed (scripts/install-tinygo.sh): %v", err)
	}
	out := filepath.Join(b.TempDir(), "tally.wasm")
	if err := wasmbuild.Build(ctx, tc, "testdata/tally", out); err != nil {
		b.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// Activation with a warm compile cache: prepare, check appliers, replay
// 1,000 streams through the new version and compare, record, swap. One
// op is one activation (alternately of two builds of one plugin).
func BenchmarkActivate(b *testing.B) {
	for _, tc := range []wasmbuild.Toolchain{wasmbuild.TinyGo, wasmbuild.Go} {
		b.Run(string(tc), func(b *testing.B) {
			wasm := benchModule(b, tc)
			r := newRig(b, b.TempDir(), b.TempDir(), registry.Options{})
			v1 := r.upload(b, wasm)
			v2 := r.upload(b, rebuilt(wasm))
			if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v1.Version, Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
			r.open(b, 1000)
			versions := []int64{v2.Version, v1.Version}
			// Both compiled once: the cache is warm.
			for _, v := range versions {
				if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v, Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			checked := 0
			for i := 0; i < b.N; i++ {
				a, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: versions[i%2], Actor: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				checked = a.Report.Checked
			}
			b.ReportMetric(float64(checked), "streams/op")
		})
	}
}

// Commands per second with activations running back to back, next to none.
func BenchmarkCommandsDuringActivations(b *testing.B) {
	for _, activating := range []bool{false, true} {
		b.Run(fmt.Sprintf("activating=%v", activating), func(b *testing.B) {
			r := newRig(b, b.TempDir(), b.TempDir(), registry.Options{VerifySample: 100})
			v1 := r.upload(b, tally)
			v2 := r.upload(b, tallySame)
			if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v1.Version, Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
			ids := r.open(b, 64)
			stop, done := make(chan struct{}), make(chan int)
			go func() {
				n := 0
				for activating {
					select {
					case <-stop:
						done <- n
						return
					default:
					}
					if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: []int64{v2.Version, v1.Version}[n%2], Actor: "bench"}); err != nil {
						b.Error(err)
					}
					n++
				}
				<-stop
				done <- n
			}()
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := ids[next.Add(1)%int64(len(ids))]
				for pb.Next() {
					if err := r.send("add", id, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			close(stop)
			b.ReportMetric(float64(<-done), "activations")
		})
	}
}
