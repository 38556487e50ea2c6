package jsonlite_test

import (
	"strconv"
	"testing"

	"fluvius.dev/fluvius/sdk/jsonlite"
)

// getDocs are objects of 2 to 10 members, like payloads, events and states,
// and for each the keys a decoder reads: every member and one that is
// missing.
func getDocs() (docs [][]byte, keys [][]string) {
	for _, n := range []int{2, 4, 6, 10} {
		var w jsonlite.Writer
		var ks []string
		w.BeginObject()
		for i := 0; i < n; i++ {
			k := "field_" + strconv.Itoa(i)
			ks = append(ks, k)
			switch i % 3 {
			case 0:
				w.Key(k).String("some value " + k)
			case 1:
				w.Key(k).Int(int64(i) * 1_000_000_007)
			case 2:
				w.Key(k).BeginArray().String("a").Int(1).EndArray()
			}
		}
		w.EndObject()
		docs = append(docs, w.Bytes())
		keys = append(keys, append(ks, "missing"))
	}
	return docs, keys
}

// BenchmarkGet parses a document and reads each member and a missing key,
// as a DecodeJSON does: scanning (Parse) against indexing (Index.Parse).
func BenchmarkGet(b *testing.B) {
	docs, keys := getDocs()
	var x jsonlite.Index
	for _, mode := range []string{"scan", "index"} {
		for d := range docs {
			b.Run(mode+"/"+strconv.Itoa(len(keys[d])-1)+"keys", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					var v jsonlite.Value
					var err error
					if mode == "scan" {
						v, err = jsonlite.Parse(docs[d])
					} else {
						v, err = x.Parse(docs[d])
					}
					if err != nil {
						b.Fatal(err)
					}
					for _, k := range keys[d] {
						v.Get(k)
					}
				}
			})
		}
	}
}
