package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
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
						Append: &store.EventsAppendParams{Stream: "user.user/" + id, Events: []store.NewEvent{{ID: uuid.NewString(),
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
