package host

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The hand-written answer says what encoding/json would: the same document
// for every string a caller or a guest can put in it.
func TestAnswerRendersAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 1, 2, 3, 456789000, time.UTC)
	for _, s := range []string{"plain", `quo"te`, `back\slash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f", "<html>&", "é ü 日本 😀",
		"bad \xff utf8", "\u2028\u2029", ""} {
		b := commandBody{ID: s, Resource: "user", Data: json.RawMessage(`{"name":"Ann","n":[1,2]}`), Version: 7, ETag: "7",
			Events: []EventView{
				{ID: "e1", Type: s, Version: 6, Data: json.RawMessage(`{"x":1}`), CreatedAt: at},
				{ID: "e2", Type: "t", Version: 7, Position: 42, Data: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"m":true}`), CreatedAt: at},
			}}
		got := b.appendJSON(nil)
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%q: not JSON: %v\n%s", s, err, got)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
	empty := commandBody{ID: "x", Resource: "r", Events: []EventView{}}
	if got := string(empty.appendJSON(nil)); got != `{"id":"x","resource":"r","data":null,"events":[],"version":0,"etag":""}` {
		t.Fatalf("empty answer: %s", got)
	}
}
