package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/storetest"
)

// BenchmarkCommitCommands commits batches of new aggregates (one event and
// one state each) through the pipelined group commit.
func BenchmarkCommitCommands(b *testing.B) {
	for _, size := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			d, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				batch := make([]*store.CommandWrite, size)
				for j := range batch {
					id := uuid.NewString()
					batch[j] = &store.CommandWrite{
						Append: &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "user.user/" + id}, Events: []store.NewEvent{{ID: uuid.NewString(),
							Type: "user-created", Data: []byte(`{"email":"a@example.com","name":"A"}`), Metadata: []byte(`{"command":"create-user"}`)}}},
						State: &store.StatePutParams{StateKey: store.StateKey{Domain: "user", Resource: "user", ID: id},
							Data: []byte(`{"email":"a@example.com","name":"A","status":"active"}`), Version: 1, ETag: "e"},
					}
				}
				res, err := d.CommitCommands(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r != nil {
						b.Fatal(r)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

// BenchmarkCatchUp reads a 100k-event log from the start through the feed,
// a page of 1000 at a time, as a projection catching up would.
func BenchmarkCatchUp(b *testing.B) {
	ctx := context.Background()
	d, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const total = 100_000
	rows := make([][]any, total)
	now := time.Now()
	for i := range rows {
		rows[i] = []any{uuid.NewString(), fmt.Sprintf("user.user/%d", i/10), int64(i%10 + 1), "user-updated",
			fmt.Sprintf(`{"name":"User %d","email":"u%d@example.com"}`, i, i), `{"command":"update-user"}`, now}
	}
	if _, err := d.Pool().CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"id", "stream", "version", "type", "data", "metadata", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	x := d.Executor()
	b.ResetTimer()
	read := 0
	for b.Loop() {
		var after store.Cursor
		for {
			page, err := x.EventsReadAll(ctx, &store.EventsReadAllParams{After: after, Limit: 1000})
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			read += len(page)
			after = page[len(page)-1].Cursor()
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkQueries: lists over 100,000 records (see storetest.BenchQueries).
func BenchmarkQueries(b *testing.B) {
	d, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	storetest.BenchQueries(b, d)
}
