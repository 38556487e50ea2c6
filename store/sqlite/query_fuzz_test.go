package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlite"
)

// FuzzQuery feeds the query language anything: the parser answers a
// *query.Error or a plan, and every plan compiles and runs on a real store
// without an SQL error. Never a panic, never a 500.
func FuzzQuery(f *testing.F) {
	for _, seed := range []struct{ filter, sort, text string }{
		{`{"name":"a"}`, "", ""},
		{`{"age.gt":3,"tags.cs":["a"],"active!eq":true}`, "age.desc,name", "ann"},
		{`{".or":[{"name.has":"%_"},{"score.between":[1,2.5]}],"!and":{"city.null":true}}`, "_created_at.desc", ""},
		{`{"_id.in":["a","b"],"_version.lte":2,"_created_at.gte":"2026-01-01T00:00:00Z"}`, "_version", "lee os"},
		{`{"name":`, "nope", ""},
		{`{"a":1,"a":2}`, "", ""},
	} {
		f.Add(seed.filter, seed.sort, seed.text)
	}
	agg := &abi.AggregateSpec{Name: "person", Resources: []string{"person"}, State: &abi.Schema{Type: "object",
		Properties: map[string]*abi.Schema{"name": {Type: "string"}, "city": {Type: "string"}, "age": {Type: "integer"},
			"score": {Type: "number"}, "active": {Type: "boolean"}, "tags": {Type: "array", Items: &abi.Schema{Type: "string"}}}},
		Query: &abi.QuerySpec{Fields: []string{"name", "city", "age", "score", "active", "tags"}, Text: []string{"name", "city"}}}
	res, err := query.ResourceOf("q", "person", agg)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	d, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fluvius.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	for i, data := range []string{`{"name":"Ann Lee","age":3,"score":1.5,"active":true,"tags":["a"],"city":"Oslo"}`, `{"name":7,"tags":"x"}`, `{}`} {
		if _, err := d.Executor().StatePut(ctx, &store.StatePutParams{StateKey: store.StateKey{Tenant: "t", Domain: "q", Resource: "person",
			ID: string(rune('a' + i))}, Data: []byte(data), Version: 1, ETag: "1"}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, filter, sort, text string) {
		plan, err := res.Parse(query.Request{Query: filter, Sort: sort, Text: text, Limit: "3"})
		if err != nil {
			var qe *query.Error
			if !errors.As(err, &qe) || qe.Message == "" {
				t.Fatalf("a refusal that is not a query error: %v", err)
			}
			return
		}
		plan.Query.Tenant = "t"
		out, err := d.StateQuery(ctx, &plan.Query)
		if err != nil {
			t.Fatalf("filter %q sort %q text %q: %v", filter, sort, text, err)
		}
		if len(out.Records) > 0 {
			// The cursor of the page continues it.
			next, err := res.Parse(query.Request{Query: filter, Sort: sort, Text: text, Limit: "3", Cursor: plan.Cursor(out.Keys[len(out.Keys)-1])})
			if err != nil {
				t.Fatalf("a cursor this listing gave is refused: %v", err)
			}
			next.Query.Tenant = "t"
			if _, err := d.StateQuery(ctx, &next.Query); err != nil {
				t.Fatalf("the next page: %v", err)
			}
		}
	})
}
