package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// served is a host serving on a fresh store, and how to take both down.
type served struct {
	host    *hostProc
	cluster *pgtest.Cluster // nil on SQLite
}

func (s *served) close() {
	s.host.stop()
	if s.cluster != nil {
		s.cluster.Stop()
	}
}

// serveOn starts a host on an empty store of the kind named, with the
// user example seeded from the plugins dir.
func (b *bench) serveOn(ctx context.Context, store string) (*served, error) {
	dir, err := os.MkdirTemp(b.tmp, store+"-")
	if err != nil {
		return nil, err
	}
	args := []string{"--data-dir", dir, "--plugins-dir", b.plugins}
	s := &served{}
	if store == "postgres" {
		if s.cluster, err = pgtest.StartCluster(); err != nil {
			return nil, errSkip{fmt.Errorf("no throwaway PostgreSQL: %w", err)}
		}
		args = append(args, "--database-url", s.cluster.URL())
	}
	start := time.Now()
	if s.host, err = startHost(ctx, b.hostBin, b.adminKey, args...); err != nil {
		if s.cluster != nil {
			s.cluster.Stop()
		}
		return nil, fmt.Errorf("starting the host on %s: %w", store, err)
	}
	b.logf("%s: host serving at %s after %v", store, s.host.url, time.Since(start).Round(10*time.Millisecond))
	return s, nil
}

// seeded is a target on s with its hot and cold aggregates made.
func (b *bench) seeded(ctx context.Context, store string, s *served) (*target, error) {
	t := &target{base: s.host.url, host: s.host}
	start := time.Now()
	if err := t.seed(ctx, b.o.cold); err != nil {
		return nil, fmt.Errorf("%s: seeding: %w\nhost log:\n%s", store, err, s.host.logs)
	}
	b.logf("%s: %d hot and %d cold aggregates made in %v", store, len(t.hot), len(t.cold), time.Since(start).Round(10*time.Millisecond))
	return t, nil
}

// runStore runs every mix at every client count on one store, then, on
// PostgreSQL, the naive baseline on the same cluster with the host stopped.
func (b *bench) runStore(ctx context.Context, store string) ([]cell, error) {
	s, err := b.serveOn(ctx, store)
	if err != nil {
		return nil, err
	}
	defer s.close()
	t, err := b.seeded(ctx, store, s)
	if err != nil {
		return nil, err
	}
	var out []cell
	for _, m := range b.o.mixes {
		for _, n := range b.o.clients {
			c := t.runMix(ctx, store, m, n, b.o.warmup, b.o.duration)
			b.progress(c)
			out = append(out, c)
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
	}
	if store != "postgres" || !b.o.baselines {
		return out, nil
	}
	s.host.stop()
	naive, err := naiveInsert(ctx, s.cluster.URL(), b.o.clients, b.o.warmup, b.o.duration, b.progress)
	return append(out, naive...), err
}

// progress says how a cell went as it ends: the table comes at the end.
func (b *bench) progress(c cell) {
	held := ""
	if c.Aggregates > 0 {
		held = fmt.Sprintf(" (%d users held, %d version conflicts)", c.Aggregates, c.Conflicts)
	}
	b.logf("  %-8s %-12s clients=%-3d %8.0f/s  p50 %-8s p99 %-8s errors %s%s",
		c.Store, c.Mix, c.Clients, c.PerSecond, formatMs(c.P50ms), formatMs(c.P99ms), formatErrors(c), held)
}
