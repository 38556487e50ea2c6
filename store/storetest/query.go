package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// The golden query suite: one fixture, a list of queries with the ids they
// must answer in order. Every driver answers each the same. Nulls (and
// values of another type) sort as the largest value; ties go by id in the
// first key's direction.

var (
	fName   = store.Field{Name: "name", Type: store.TypeString}
	fAge    = store.Field{Name: "age", Type: store.TypeInteger}
	fScore  = store.Field{Name: "score", Type: store.TypeNumber}
	fActive = store.Field{Name: "active", Type: store.TypeBoolean}
	fTags   = store.Field{Name: "tags", Type: store.TypeStrings}
	fCity   = store.Field{Name: "city", Type: store.TypeString}
	fID     = store.Field{Name: "_id", Type: store.TypeString, Column: "id"}
	fVer    = store.Field{Name: "_version", Type: store.TypeInteger, Column: "version"}
	fAt     = store.Field{Name: "_created_at", Type: store.TypeTime, Column: "created_at"}
)

// queryFixture: people of tenant t1, one soft-deleted, with odd records
// (a wrong type, nothing at all), and look-alikes in another tenant and
// another resource that no query of t1's people may see.
var queryFixture = []struct {
	tenant, resource, id, data string
	version                    int64
	deleted                    bool
}{
	{"t1", "person", "p01", `{"name":"Ann Lee","age":31,"score":4.5,"active":true,"tags":["a","b"],"city":"Oslo"}`, 1, false},
	{"t1", "person", "p02", `{"name":"bob","age":25,"score":3,"active":false,"tags":["b"],"city":"Bergen"}`, 2, false},
	{"t1", "person", "p03", `{"name":"Carl","age":40,"active":true,"tags":[],"city":null}`, 3, false},
	{"t1", "person", "p04", `{"name":"dora_x%","age":25,"score":1.25,"tags":["c","a"]}`, 1, false},
	{"t1", "person", "p05", `{"name":"Eve Lee","age":"old","active":"yes","tags":"a"}`, 1, false},
	{"t1", "person", "p06", `{}`, 1, false},
	{"t1", "person", "p07", `{"name":"Ann","age":31,"tags":["a"],"city":"Oslo"}`, 2, true},
	{"t2", "person", "p01", `{"name":"Ann Lee","age":31,"tags":["a"],"city":"Oslo"}`, 1, false},
	{"t1", "pet", "x01", `{"name":"Ann Lee","age":31,"tags":["a"]}`, 1, false},
}

func writeQueryFixture(t *testing.T, d store.Driver) {
	t.Helper()
	x := d.Executor()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, r := range queryFixture {
		_, err := x.StatePut(ctx, &store.StatePutParams{
			StateKey: store.StateKey{Tenant: r.tenant, Domain: "q", Resource: r.resource, ID: r.id},
			Data:     []byte(r.data), Version: r.version, ETag: fmt.Sprint(r.version), By: "fixture",
			Now: base.Add(time.Duration(i) * time.Minute), Deleted: r.deleted})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func cond(f store.Field, op store.Op, v any) store.Cond {
	return store.Cond{Field: f, Op: op, Value: v}
}
func not(n store.Node) store.Not { return store.Not{Node: n} }
func list(v ...any) []any        { return v }

func testQueryGolden(t *testing.T, d store.Driver) {
	sq, ok := d.(store.StateQuerier)
	if !ok {
		t.Fatalf("%s lists no states (store.StateQuerier)", d.Name())
	}
	writeQueryFixture(t, d)
	byID := []store.Order{{Field: fID}}
	at := time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC) // p03's creation
	cases := []struct {
		name    string
		where   store.Node
		order   []store.Order
		deleted bool
		want    string
	}{
		{"everything", nil, byID, false, "p01 p02 p03 p04 p05 p06"},
		{"with the deleted", nil, byID, true, "p01 p02 p03 p04 p05 p06 p07"},
		{"eq", cond(fAge, store.OpEq, int64(25)), byID, false, "p02 p04"},
		{"not eq takes the missing and the mistyped", not(cond(fAge, store.OpEq, int64(25))), byID, false, "p01 p03 p05 p06"},
		{"gt", cond(fAge, store.OpGt, int64(30)), byID, false, "p01 p03"},
		{"lte", cond(fAge, store.OpLte, int64(31)), byID, false, "p01 p02 p04"},
		{"between", cond(fAge, store.OpBetween, list(int64(25), int64(31))), byID, false, "p01 p02 p04"},
		{"in", cond(fAge, store.OpIn, list(int64(31), int64(40))), byID, false, "p01 p03"},
		{"not in", not(cond(fAge, store.OpIn, list(int64(31), int64(40)))), byID, false, "p02 p04 p05 p06"},
		{"number", cond(fScore, store.OpGte, float64(3)), byID, false, "p01 p02"},
		{"string eq is exact", cond(fName, store.OpEq, "ann lee"), byID, false, ""},
		{"string gt is byte-wise", cond(fName, store.OpGt, "Zed"), byID, false, "p02 p04"},
		{"has folds case", cond(fName, store.OpHas, "LEE"), byID, false, "p01 p05"},
		{"has: % is a character", cond(fName, store.OpHas, "x%"), byID, false, "p04"},
		{"has: _ is a character", cond(fName, store.OpHas, "_"), byID, false, "p04"},
		{"has: % alone", cond(fName, store.OpHas, "%"), byID, false, "p04"},
		{"contains all", cond(fTags, store.OpContains, list("a", "b")), byID, false, "p01"},
		{"contains one", cond(fTags, store.OpContains, list("a")), byID, false, "p01 p04"},
		{"not contains", not(cond(fTags, store.OpContains, list("a"))), byID, false, "p02 p03 p05 p06"},
		{"overlaps", cond(fTags, store.OpOverlaps, list("c", "b")), byID, false, "p01 p02 p04"},
		{"null", cond(fCity, store.OpNull, nil), byID, false, "p03 p04 p05 p06"},
		{"not null", not(cond(fCity, store.OpNull, nil)), byID, false, "p01 p02"},
		{"boolean", cond(fActive, store.OpEq, true), byID, false, "p01 p03"},
		{"not boolean", not(cond(fActive, store.OpEq, true)), byID, false, "p02 p04 p05 p06"},
		{"or", store.Or{cond(fAge, store.OpEq, int64(25)), cond(fName, store.OpEq, "Carl")}, byID, false, "p02 p03 p04"},
		{"and with not", store.And{cond(fAge, store.OpGte, int64(25)), not(cond(fName, store.OpHas, "lee"))}, byID, false, "p02 p03 p04"},
		{"not or", not(store.Or{cond(fAge, store.OpEq, int64(25)), cond(fCity, store.OpEq, "Oslo")}), byID, false, "p03 p05 p06"},
		{"empty and", store.And{}, byID, false, "p01 p02 p03 p04 p05 p06"},
		{"empty or", store.Or{}, byID, false, ""},
		{"record column", cond(fVer, store.OpGt, int64(1)), byID, false, "p02 p03"},
		{"record time", cond(fAt, store.OpGte, at), byID, false, "p03 p04 p05 p06"},
		{"text", store.TextCond{Fields: []string{"name", "city"}, Words: []string{"lee"}}, byID, false, "p01 p05"},
		{"text, two words in two fields", store.TextCond{Fields: []string{"name", "city"}, Words: []string{"Ann", "oslo"}}, byID, false, "p01"},
		{"text prefix", store.TextCond{Fields: []string{"name", "city"}, Words: []string{"os"}}, byID, false, "p01"},
		{"text is not a substring", store.TextCond{Fields: []string{"name"}, Words: []string{"ee"}}, byID, false, ""},
		{"sort strings, nulls last", nil, []store.Order{{Field: fName}}, false, "p01 p03 p05 p02 p04 p06"},
		{"sort desc: nulls first, ties by id descending", nil, []store.Order{{Field: fAge, Desc: true}}, false, "p06 p05 p03 p01 p04 p02"},
		{"sort numbers", nil, []store.Order{{Field: fScore}}, false, "p04 p02 p01 p03 p05 p06"},
		{"sort booleans", nil, []store.Order{{Field: fActive, Desc: true}}, false, "p06 p05 p04 p03 p01 p02"},
		{"sort time desc", nil, []store.Order{{Field: fAt, Desc: true}}, false, "p06 p05 p04 p03 p02 p01"},
		{"two keys", nil, []store.Order{{Field: fAge}, {Field: fName, Desc: true}}, false, "p04 p02 p01 p03 p06 p05"},
	}
	// Every case before and after the indexes a resource asks for exist:
	// indexes change speed, never answers. Asking twice changes nothing.
	for _, indexed := range []bool{false, true} {
		if indexed {
			ix, ok := d.(store.StateIndexer)
			if !ok {
				t.Fatalf("%s builds no indexes (store.StateIndexer)", d.Name())
			}
			spec := store.IndexSpec{Fields: []store.Field{fName, fAge, fScore, fActive, fTags, fCity}, Text: []string{"name", "city"}}
			for i := 0; i < 2; i++ {
				if err := ix.StateIndexes(ctx, spec); err != nil {
					t.Fatalf("indexes: %v", err)
				}
			}
		}
		for _, c := range cases {
			res, err := sq.StateQuery(ctx, &store.StateQuery{Tenant: "t1", Domain: "q", Resource: "person", Where: c.where,
				Order: c.order, Limit: 100, IncludeDeleted: c.deleted, Count: true})
			if err != nil {
				t.Errorf("%s (indexed %v): %v", c.name, indexed, err)
				continue
			}
			if got := recordIDs(res.Records); got != c.want {
				t.Errorf("%s (indexed %v): got [%s], want [%s]", c.name, indexed, got, c.want)
			}
			if res.Total != int64(len(res.Records)) {
				t.Errorf("%s: total %d for %d records", c.name, res.Total, len(res.Records))
			}
		}
	}
	// Offset paging, and keyset paging after each page's last row, give
	// the same pages, whatever the sort.
	for _, order := range [][]store.Order{byID, {{Field: fAge, Desc: true}}, {{Field: fName}}, {{Field: fScore}, {Field: fActive}},
		{{Field: fAt, Desc: true}}, {{Field: fActive, Desc: true}, {Field: fCity}}} {
		var all string
		if res, err := sq.StateQuery(ctx, &store.StateQuery{Tenant: "t1", Domain: "q", Resource: "person", Order: order, Limit: 100}); err == nil {
			all = recordIDs(res.Records)
		}
		var byOffset, byKey []string
		var after []any
		for page := 0; page < 5; page++ {
			res, err := sq.StateQuery(ctx, &store.StateQuery{Tenant: "t1", Domain: "q", Resource: "person", Order: order, Limit: 2, Offset: 2 * page})
			if err != nil {
				t.Fatal(err)
			}
			if s := recordIDs(res.Records); s != "" {
				byOffset = append(byOffset, s)
			}
			res, err = sq.StateQuery(ctx, &store.StateQuery{Tenant: "t1", Domain: "q", Resource: "person", Order: order, Limit: 2, After: after})
			if err != nil {
				t.Fatalf("keyset page %d after %v: %v", page, after, err)
			}
			if len(res.Records) == 0 {
				break
			}
			byKey = append(byKey, recordIDs(res.Records))
			after = res.Keys[len(res.Keys)-1]
		}
		if strings.Join(byOffset, " ") != all || strings.Join(byKey, " ") != all {
			t.Errorf("order %v: all [%s], by offset %q, by key %q", order, all, byOffset, byKey)
		}
	}
	// A soft-deleted record is gone for reads, its events aside.
	if _, err := d.Executor().StateGet(ctx, &store.StateKey{Tenant: "t1", Domain: "q", Resource: "person", ID: "p07"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted record: %v", err)
	}
	// Another tenant sees its own record only.
	res, err := sq.StateQuery(ctx, &store.StateQuery{Tenant: "t2", Domain: "q", Resource: "person", Order: byID, Limit: 10})
	if err != nil || recordIDs(res.Records) != "p01" || !slices.Equal(res.Records[0].Data, []byte(nil)) && res.Records[0].Tenant != "t2" {
		t.Fatalf("tenant t2: %v %v", res, err)
	}
}

func recordIDs(rs []*store.StateRecord) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return strings.Join(out, " ")
}

// The feed's tail: the last events, oldest first, from which following
// with EventsReadAll continues without a gap or a repeat.
func testEventsLatest(t *testing.T, d store.Driver) {
	ft, ok := d.(store.FeedTail)
	if !ok {
		t.Fatalf("%s reads no feed tail (store.FeedTail)", d.Name())
	}
	x := d.Executor()
	for i := 0; i < 5; i++ {
		if _, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: fmt.Sprintf("d.r/%d", i)},
			Events: []store.NewEvent{{ID: fmt.Sprintf("tail-%d", i), Type: "t", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A transaction open elsewhere (in another database of the cluster,
	// on PostgreSQL) holds the feed back for a moment: wait for it.
	var evs []*store.Event
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		evs, err = ft.EventsLatest(ctx, 3)
		if err != nil || (len(evs) == 3 && evs[2].ID == "tail-4") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(evs) != 3 || evs[0].ID != "tail-2" || evs[2].ID != "tail-4" {
		t.Fatalf("latest: %v %v", evs, err)
	}
	if _, err := x.EventsAppend(ctx, &store.EventsAppendParams{StreamKey: store.StreamKey{Stream: "d.r/9"},
		Events: []store.NewEvent{{ID: "tail-9", Type: "t", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	var next []*store.Event
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		next, err = x.EventsReadAll(ctx, &store.EventsReadAllParams{After: evs[2].Cursor()})
		if err != nil || len(next) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(next) != 1 || next[0].ID != "tail-9" {
		t.Fatalf("following the tail: %v %v", next, err)
	}
}
