package host_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
)

// BenchmarkGuestHandle is create-user decided inside the wasm guest, envelope
// in and out, without the store: compare with BenchmarkCreateUserNative in
// plugins/examples/user (make bench runs both). fuel=on is the default
// sandbox (code rewritten to count fuel); fuel=off shows what metering costs.
func BenchmarkGuestHandle(b *testing.B) {
	for _, tc := range []wasmbuild.Toolchain{wasmbuild.Go, wasmbuild.TinyGo} {
		for _, unmetered := range []bool{false, true} {
			name := string(tc) + "/fuel=on"
			if unmetered {
				name = string(tc) + "/fuel=off"
			}
			b.Run(name, func(b *testing.B) {
				e := bareEnv(b, func(c *host.Config) { c.Unmetered = unmetered })
				p, err := e.host.Load(ctx, "user.wasm", example(b, "user", tc))
				if err != nil {
					b.Fatal(err)
				}
				cmd := &abi.Command{ID: "cmd-1", Domain: "user", Name: "create-user", Resource: "user", AggregateID: "u-1",
					Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Time: 1}
				b.ReportAllocs()
				for b.Loop() {
					res, err := p.Handle(ctx, cmd)
					if err != nil || res.Status != abi.StatusOK {
						b.Fatal(err, res)
					}
				}
			})
		}
	}
}

// BenchmarkDispatch is the whole write path without HTTP: validate, decide
// in the guest, append and write state durably in SQLite.
func BenchmarkDispatch(b *testing.B) {
	for _, bc := range []struct {
		driver string
		par    int
	}{{"sqlite", 1}, {"sqlite", 32}, {"postgres", 1}, {"postgres", 32}} {
		par := bc.par
		b.Run(fmt.Sprintf("%s/clients=%d", bc.driver, par), func(b *testing.B) {
			e := newEnvOn(b, bc.driver, nil)
			var n atomic.Int64
			create := func() error {
				_, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
					Payload: []byte(fmt.Sprintf(`{"email":"u%d@example.com","name":"U"}`, n.Add(1)))})
				return err
			}
			b.ResetTimer()
			if par == 1 {
				for b.Loop() {
					if err := create(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := create(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

// BenchmarkTimeTravel replays an aggregate of 1,000 events through the
// user plugin's appliers (StateAt, and StateAtTime, which finds the
// version by time first): events replayed per second.
func BenchmarkTimeTravel(b *testing.B) {
	e := newEnvOn(b, "sqlite", nil)
	caller := abi.Caller{UserID: "ann", Tenant: "acme"}
	res, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "create-user", Resource: "user", New: true,
		Payload: []byte(`{"email":"ann@example.com","name":"Ann"}`), Caller: caller})
	if err != nil {
		b.Fatal(err)
	}
	const events = 1000
	for i := 1; i < events; i++ {
		if _, err := e.host.Dispatch(ctx, &host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: res.AggregateID,
			Payload: []byte(fmt.Sprintf(`{"name":"Ann %d"}`, i)), Caller: caller}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("version", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.host.StateAt(ctx, caller, "user", "user", res.AggregateID, events-1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*(events-1))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("time", func(b *testing.B) {
		// The moment of the last event but one: a replay, not the record.
		evs, err := e.host.Events(ctx, caller, "user", "user", res.AggregateID, events-2, 1, 0)
		if err != nil {
			b.Fatal(err)
		}
		at := evs[0].CreatedAt
		for b.Loop() {
			if _, _, err := e.host.StateAtTime(ctx, caller, "user", "user", res.AggregateID, at); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*(events-1))/b.Elapsed().Seconds(), "events/s")
	})
}
