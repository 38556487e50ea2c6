package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"fluvius.dev/fluvius/store/postgres"
)

// naiveSchema holds the baseline's tables, apart from the host's.
const naiveSchema = "bench_naive"

// naiveInsert is the baseline for commands on PostgreSQL: each client
// inserts one event per transaction (autocommit) into the store's own
// events table, migrated into a schema of its own so its indexes and
// defaults are the host's, with nothing around it: no HTTP, no guest, no
// state, no idempotency record. A pool of exactly as many connections as
// clients keeps the concurrency the same as the host cells'.
func naiveInsert(ctx context.Context, clusterURL string, clients []int, warmup, duration time.Duration, progress func(cell)) ([]cell, error) {
	conn, err := pgx.Connect(ctx, clusterURL)
	if err != nil {
		return nil, fmt.Errorf("connecting for the naive baseline: %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+naiveSchema)
	conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating the naive baseline's schema: %w", err)
	}
	u, err := url.Parse(clusterURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", naiveSchema)
	u.RawQuery = q.Encode()
	d, err := postgres.Open(ctx, u.String(), postgres.Options{})
	if err != nil {
		return nil, fmt.Errorf("migrating the naive baseline's schema: %w", err)
	}
	d.Close()
	var seq atomic.Int64
	var out []cell
	for _, n := range clients {
		cfg, err := pgxpool.ParseConfig(u.String())
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = int32(n)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		w := drive(ctx, n, warmup, duration, func(ctx context.Context, _ int, _ *rand.Rand) string {
			i := seq.Add(1)
			_, err := pool.Exec(ctx, `INSERT INTO events (id, stream, version, type, data, created_at)
				VALUES ($1, $2, 1, 'user-created', $3::jsonb, now())`,
				uuid.NewString(), fmt.Sprintf("user.user/%d", i), fmt.Sprintf(`{"email":"new-%d@bench.example","name":"New %d"}`, i, i))
			if err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					return "sqlstate " + pe.Code
				}
				return "pg"
			}
			return ""
		})
		pool.Close()
		c := cellOf("postgres", "naive-insert", n, w)
		progress(c)
		out = append(out, c)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}
