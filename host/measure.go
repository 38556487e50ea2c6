package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"fluvius.dev/fluvius/abi"
)

// Measurement is what a module costs the host.
type Measurement struct {
	Bytes        int
	ColdCompile  time.Duration // no compilation cache
	WarmCompile  time.Duration // from the on-disk cache
	Instantiate  time.Duration // a new instance, _initialize included
	HandleMedian time.Duration // one command decided, envelope in and out
	HandleP99    time.Duration
}

// Measure loads wasm into fresh hosts (with and without a compilation cache)
// and times what serving it costs; cmd, if given, is decided runs times.
// It is for authors and operators (`fluvius-host plugin bench`), not for
// serving.
func Measure(ctx context.Context, cfg Config, wasm []byte, cmd *abi.Command, runs int) (*Measurement, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Measurement{Bytes: len(wasm)}
	cache, err := os.MkdirTemp("", "fluvius-measure-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cache)

	load := func(cacheDir string) (*Host, *Plugin, time.Duration, error) {
		c := cfg
		c.CacheDir = cacheDir
		h, err := New(ctx, c)
		if err != nil {
			return nil, nil, 0, err
		}
		start := time.Now()
		p, err := h.load(ctx, "measured.wasm", wasm)
		took := time.Since(start)
		if err != nil {
			h.Close(ctx)
			return nil, nil, 0, err
		}
		h.activate(p)
		return h, p, took, nil
	}
	// Cold: compile into the empty cache; warm: a new runtime finds it there.
	h, _, took, err := load(cache)
	if err != nil {
		return nil, err
	}
	m.ColdCompile = took
	h.Close(ctx)
	h, p, took, err := load(cache)
	if err != nil {
		return nil, err
	}
	defer h.Close(ctx)
	start := time.Now()
	in, err := p.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	m.Instantiate = time.Since(start)
	in.close(ctx)
	m.WarmCompile = took - m.Instantiate // load = compile + one instance + manifest
	if m.WarmCompile < 0 {
		m.WarmCompile = 0
	}

	if cmd != nil && runs > 0 {
		times := make([]time.Duration, 0, runs)
		for i := 0; i < runs; i++ {
			start := time.Now()
			res, err := p.Handle(ctx, cmd)
			times = append(times, time.Since(start))
			if err != nil {
				return nil, err
			}
			if i == 0 && res.Status != abi.StatusOK {
				return nil, fmt.Errorf("the measured command is refused: %s: %s", res.Error.Code, res.Error.Message)
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		m.HandleMedian = times[len(times)/2]
		m.HandleP99 = times[len(times)*99/100]
	}
	return m, nil
}
