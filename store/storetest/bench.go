package storetest

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// BenchQueryRecords is how many state records BenchQueries lists from.
const BenchQueryRecords = 100_000

// BenchQueries measures lists over BenchQueryRecords records of one
// resource, with the indexes the resource asks for built: a filter and a
// sort, a text search, page 1000 by OFFSET and by cursor. Each reports its
// p50 and p99 (µs) besides ns/op.
func BenchQueries(b *testing.B, d store.Driver) {
	sq, ok := d.(store.StateQuerier)
	if !ok {
		b.Fatalf("%s lists no states", d.Name())
	}
	cities := make([]string, 50)
	for i := range cities {
		cities[i] = fmt.Sprintf("City%02d", i)
	}
	rng := rand.New(rand.NewSource(1))
	start := time.Now()
	const batch = 2000
	for i := 0; i < BenchQueryRecords; i += batch {
		tx, err := d.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j := i; j < i+batch; j++ {
			tags := `[]`
			if n := rng.Intn(4); n > 0 {
				tags = fmt.Sprintf(`["t%d","t%d"]`, rng.Intn(10), rng.Intn(10))
			}
			data := fmt.Sprintf(`{"name":"Name %06d","age":%d,"city":%q,"tags":%s}`, rng.Intn(1_000_000), 18+rng.Intn(72), cities[rng.Intn(len(cities))], tags)
			if _, err := tx.StatePut(ctx, &store.StatePutParams{StateKey: store.StateKey{Tenant: "t1", Domain: "q", Resource: "person",
				ID: fmt.Sprintf("p%07d", j)}, Data: []byte(data), Version: 1, ETag: "1"}); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	loaded := time.Since(start)
	start = time.Now()
	spec := store.IndexSpec{Fields: []store.Field{fName, fAge, fCity}, Text: []string{"name", "city"}}
	if err := d.(store.StateIndexer).StateIndexes(ctx, spec); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d records loaded in %v, indexed in %v", d.Name(), BenchQueryRecords, loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	base := store.StateQuery{Tenant: "t1", Domain: "q", Resource: "person", Limit: 25}
	byName := []store.Order{{Field: fName}}
	// The key of the last row of page 999, for the cursor to page 1000.
	deep := base
	deep.Order, deep.Limit, deep.Offset = byName, 1, 999*25-1
	r, err := sq.StateQuery(ctx, &deep)
	if err != nil || len(r.Keys) != 1 {
		b.Fatalf("page 999's last row: %v", err)
	}
	after := r.Keys[0]
	for _, c := range []struct {
		name string
		q    func(i int) store.StateQuery
	}{
		{"filter+sort", func(i int) store.StateQuery {
			q := base
			q.Where = store.And{store.Cond{Field: fCity, Op: store.OpEq, Value: cities[i%len(cities)]},
				store.Cond{Field: fAge, Op: store.OpGt, Value: int64(60)}}
			q.Order, q.Count = byName, true
			return q
		}},
		{"text", func(i int) store.StateQuery {
			q := base
			q.Where = store.TextCond{Fields: []string{"name", "city"}, Words: []string{fmt.Sprintf("%03d", i%1000)}}
			q.Order = byName
			return q
		}},
		{"page1000-offset", func(int) store.StateQuery {
			q := base
			q.Order, q.Offset = byName, 999*25
			return q
		}},
		{"page1000-cursor", func(int) store.StateQuery {
			q := base
			q.Order, q.After = byName, after
			return q
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := c.q(i)
				t0 := time.Now()
				res, err := sq.StateQuery(ctx, &q)
				times = append(times, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if c.name == "page1000-offset" || c.name == "page1000-cursor" {
					if len(res.Records) != 25 {
						b.Fatalf("%d records", len(res.Records))
					}
				}
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
}
