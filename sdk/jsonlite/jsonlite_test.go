package jsonlite_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"fluvius.dev/fluvius/sdk/jsonlite"
)

func TestParseAndRead(t *testing.T) {
	doc := []byte(` {"name":"Ann \"A\" \u00e9\ud83d\ude00","age":42,"score":-1.5e2,"ok":true,"none":null,
		"tags":["a","b",{"x":[1,2]}],"nested":{"k":"v"},"esc\u0061ped":1} `)
	v, err := jsonlite.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Get("name").Str(); got != "Ann \"A\" é😀" {
		t.Errorf("name = %q", got)
	}
	if got := v.Get("age").Int(); got != 42 {
		t.Errorf("age = %d", got)
	}
	if got := v.Get("score").Float(); got != -150 {
		t.Errorf("score = %v", got)
	}
	if n, ok := v.Get("score").IntOK(); !ok || n != -150 {
		t.Errorf("score as int = %d %v", n, ok)
	}
	if _, ok := v.Get("name").IntOK(); ok {
		t.Error("a string read as an int")
	}
	if !v.Get("ok").Bool() || !v.Get("none").IsNull() || v.Get("missing").Exists() {
		t.Error("bool/null/missing wrong")
	}
	if got := v.Get("nested").Get("k").Str(); got != "v" {
		t.Errorf("nested.k = %q", got)
	}
	if got := v.Get("escaped").Int(); got != 1 {
		t.Errorf("escaped key not found: %d", got)
	}
	if v.Get("tags").Len() != 3 || v.Len() != 8 {
		t.Errorf("len tags=%d doc=%d", v.Get("tags").Len(), v.Len())
	}
	var tags []string
	v.Get("tags").Array(func(i int, e jsonlite.Value) bool {
		if e.Kind() == jsonlite.String {
			tags = append(tags, e.Str())
		}
		return true
	})
	if !reflect.DeepEqual(tags, []string{"a", "b"}) {
		t.Errorf("tags = %v", tags)
	}
}

func TestParseRejects(t *testing.T) {
	for _, doc := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `1e`, `-`, `"abc`, "\"a\x01\"",
		`"\x"`, `"\u12"`, `tru`, `nul`, `{"a":1} x`, `{a:1}`, "\"\xff\"",
	} {
		if _, err := jsonlite.Parse([]byte(doc)); err == nil {
			t.Errorf("%q parsed", doc)
		}
	}
	deep := make([]byte, 0, 600)
	for i := 0; i < 300; i++ {
		deep = append(deep, '[')
	}
	if _, err := jsonlite.Parse(deep); !errors.Is(err, jsonlite.ErrTooDeep) {
		t.Errorf("deep document: %v", err)
	}
}

func TestWriterMatchesEncodingJSON(t *testing.T) {
	var w jsonlite.Writer
	w.BeginObject().
		Key("s").String("quote\" back\\ nl\n tab\t ctl\x01 é <>").
		Key("i").Int(-7).
		Key("f").Float(0.1).
		Key("b").Bool(false).
		Key("n").Null().
		Key("a").Strings([]string{"x", "y"}).
		Key("o").BeginObject().Key("k").BeginArray().Int(1).Int(2).EndArray().EndObject().
		Key("r").Raw([]byte(`{"z":true}`)).
		EndObject()
	var got, want any
	if err := json.Unmarshal(w.Bytes(), &got); err != nil {
		t.Fatalf("writer produced invalid JSON %s: %v", w.Bytes(), err)
	}
	json.Unmarshal([]byte(`{"s":"quote\" back\\ nl\n tab\t ctl\u0001 é <>","i":-7,"f":0.1,"b":false,"n":null,
		"a":["x","y"],"o":{"k":[1,2]},"r":{"z":true}}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if _, err := jsonlite.Parse(w.Bytes()); err != nil {
		t.Fatalf("jsonlite does not read its own output: %v", err)
	}
}

func FuzzParseAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `"x\u0041"`, `-0.5e+3`, `[`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := jsonlite.Parse(b)
		// jsonlite insists on UTF-8 (RFC 8259 section 8.1); encoding/json
		// quietly replaces invalid bytes.
		if (err == nil) != (json.Valid(b) && utf8.Valid(b)) {
			t.Fatalf("jsonlite valid=%v, encoding/json valid=%v for %q", err == nil, json.Valid(b), b)
		}
	})
}

func FuzzStringRoundTrip(f *testing.F) {
	f.Add("plain")
	f.Add("\"\\\n\x00é😀")
	f.Fuzz(func(t *testing.T, s string) {
		var w jsonlite.Writer
		w.String(s)
		v, err := jsonlite.Parse(w.Bytes())
		if err != nil {
			t.Fatalf("writer output %q does not parse: %v", w.Bytes(), err)
		}
		var std string
		if err := json.Unmarshal(w.Bytes(), &std); err != nil {
			t.Fatal(err)
		}
		if v.Str() != std {
			t.Fatalf("jsonlite read %q, encoding/json read %q", v.Str(), std)
		}
	})
}
