package jsonlite_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
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

func TestGetEscapedKeys(t *testing.T) {
	doc := []byte(`{"a\"b":1, "\u00e9t\u00E9" : 2,"\ud83d\ude00":3,"\/x\\":4,"dup":5,"dup":6,"\ud800":7,"plain":8}`)
	v, err := jsonlite.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int64{`a"b`: 1, "été": 2, "😀": 3, `/x\`: 4, "dup": 5, "\ufffd": 7, "plain": 8} {
		if got := v.Get(key).Int(); got != want {
			t.Errorf("Get(%q) = %d, want %d", key, got, want)
		}
	}
	for _, key := range []string{"a", `a"`, `a"bc`, "ét", "étéé", "", "\xed\xa0\x80", "plai", "plainx"} {
		if v.Get(key).Exists() {
			t.Errorf("Get(%q) found %s", key, v.Get(key).Raw())
		}
	}
	if v.Len() != 8 {
		t.Errorf("Len = %d", v.Len())
	}
}

func TestIntOK(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"42", 42, true}, {"-42", -42, true},
		{"1700000000000000000", 1700000000000000000, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"1e3", 1000, true}, {"2.0", 2, true}, {"2.5", 0, false}, {`"1"`, 0, false},
	} {
		v, err := jsonlite.Parse([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := v.IntOK(); got != c.want || ok != c.ok {
			t.Errorf("IntOK(%s) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestWriterDocument(t *testing.T) {
	var w jsonlite.Writer
	w.BeginObject().Key("a").Int(1).Key("b").BeginArray().String("x").EndArray().EndObject()
	v, err := w.Document()
	if err != nil || v.Get("b").Len() != 1 || string(v.Raw()) != `{"a":1,"b":["x"]}` {
		t.Fatalf("%s %v", v.Raw(), err)
	}
	for name, write := range map[string]func(w *jsonlite.Writer){
		"nothing":         func(w *jsonlite.Writer) {},
		"no key":          func(w *jsonlite.Writer) { w.BeginObject().Int(1).EndObject() },
		"key in array":    func(w *jsonlite.Writer) { w.BeginArray().Key("k").Int(1).EndArray() },
		"dangling key":    func(w *jsonlite.Writer) { w.BeginObject().Key("k").EndObject() },
		"unclosed":        func(w *jsonlite.Writer) { w.BeginObject().Key("k").BeginArray() },
		"two values":      func(w *jsonlite.Writer) { w.Int(1).Int(2) },
		"mismatched":      func(w *jsonlite.Writer) { w.BeginObject().EndArray() },
		"extra close":     func(w *jsonlite.Writer) { w.BeginArray().EndArray().EndArray() },
		"bad raw":         func(w *jsonlite.Writer) { w.BeginArray().Raw([]byte(`{`)).EndArray() },
		"top-level key":   func(w *jsonlite.Writer) { w.Key("k").Int(1) },
		"two keys":        func(w *jsonlite.Writer) { w.BeginObject().Key("a").Key("b").Int(1).EndObject() },
		"deep (too deep)": func(w *jsonlite.Writer) { deep(w, 300) },
	} {
		w.Reset()
		write(&w)
		if _, err := w.Document(); err == nil {
			t.Errorf("%s: %s accepted", name, w.Bytes())
		}
	}
	w.Reset()
	w.BeginArray().Raw([]byte(` {"ok":true} `)).Raw(nil).EndArray()
	if v, err := w.Document(); err != nil || v.Len() != 2 {
		t.Fatalf("good raw: %s %v", w.Bytes(), err)
	}
	w.Reset()
	deep(&w, 100) // past what the writer tracks, within MaxDepth: parsed
	if _, err := w.Document(); err != nil {
		t.Fatalf("nesting of 100: %v", err)
	}
}

func deep(w *jsonlite.Writer, n int) {
	for i := 0; i < n; i++ {
		w.BeginObject().Key("k")
	}
	w.Null()
	for i := 0; i < n; i++ {
		w.EndObject()
	}
}

// FuzzWriterDocument drives a Writer with arbitrary calls, well formed or
// not: Document must accept exactly what Parse accepts, and vouch only for
// valid JSON.
func FuzzWriterDocument(f *testing.F) {
	f.Add([]byte{0, 4, 6, 4, 2, 5, 3, 1})
	f.Add([]byte{0, 4, 1})
	f.Add([]byte{2, 10, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var w jsonlite.Writer
		for i, op := range ops {
			switch op % 12 {
			case 0:
				w.BeginObject()
			case 1:
				w.EndObject()
			case 2:
				w.BeginArray()
			case 3:
				w.EndArray()
			case 4:
				w.Key(string(ops[i:min(i+3, len(ops))]))
			case 5:
				w.String(string(ops[i:min(i+4, len(ops))]))
			case 6:
				w.Int(int64(op) - 100)
			case 7:
				w.Float(float64(op) / 7)
			case 8:
				w.Bool(op&16 != 0)
			case 9:
				w.Null()
			case 10:
				w.Raw(ops[i+1 : min(i+3, len(ops))])
			case 11:
				w.Strings([]string{"a", string(ops[:i])})
			}
		}
		v, err := w.Document()
		_, perr := jsonlite.Parse(w.Bytes())
		if (err == nil) != (perr == nil) {
			t.Fatalf("Document err %v, Parse err %v for %q", err, perr, w.Bytes())
		}
		if err == nil && (!json.Valid(w.Bytes()) || string(v.Raw()) != string(bytes.TrimSpace(w.Bytes()))) {
			t.Fatalf("Document vouched for %q", w.Bytes())
		}
	})
}

// FuzzReadAgreesWithObject checks Get, Len and IntOK against Object and
// strconv on every document that parses.
func FuzzReadAgreesWithObject(f *testing.F) {
	f.Add([]byte(`{"a":1,"b\u0041":[1,{"c":2}],"a":3,"\ud83d\ude00":-12}`))
	f.Add([]byte(`{"n":9223372036854775808,"m":-9223372036854775808,"f":1.5e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := jsonlite.Parse(b)
		if err != nil || v.Kind() != jsonlite.Object {
			return
		}
		var x, y jsonlite.Index
		iv, err := x.Parse(b)
		if err != nil || string(iv.Raw()) != string(v.Raw()) {
			t.Fatalf("Index.Parse: %v, %s", err, iv.Raw())
		}
		av := y.Attach(v)
		seen := map[string]bool{}
		n := 0
		v.Object(func(k []byte, m jsonlite.Value) bool {
			n++
			if seen[string(k)] {
				return true
			}
			seen[string(k)] = true
			for _, doc := range []jsonlite.Value{v, iv, av} {
				if got := doc.Get(string(k)); string(got.Raw()) != string(m.Raw()) {
					t.Fatalf("Get(%q) = %s, Object has %s", k, got.Raw(), m.Raw())
				}
				// Members of nested objects, indexed lazily.
				doc.Get(string(k)).Object(func(k2 []byte, m2 jsonlite.Value) bool {
					if got := doc.Get(string(k)).Get(string(k2)); !got.Exists() {
						t.Fatalf("Get(%q).Get(%q) missing", k, k2)
					}
					return true
				})
				if doc.Get(string(k)).Get("\x00absent").Exists() {
					t.Fatal("found an absent nested key")
				}
			}
			if m.Kind() == jsonlite.Number {
				got, ok := m.IntOK()
				want, err := strconv.ParseInt(string(m.Raw()), 10, 64)
				if err == nil && (!ok || got != want) {
					t.Fatalf("IntOK(%s) = %d %v", m.Raw(), got, ok)
				}
			}
			return true
		})
		if v.Len() != n {
			t.Fatalf("Len %d, Object saw %d", v.Len(), n)
		}
		if v.Get("\x00absent").Exists() && !seen["\x00absent"] {
			t.Fatal("found an absent key")
		}
	})
}

func TestIndex(t *testing.T) {
	var x jsonlite.Index
	// "a" is long enough to be indexed on first Get, "c"'s element is not.
	doc := []byte(" \n{\"a\":{\"b\":1,\"c\":[{\"d\":2}],\"padding\":\"........................................\"},\"e\\u0066\":3, \"a\":4}\t")
	v, err := x.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	check := func(v jsonlite.Value) {
		t.Helper()
		if v.Get("a").Get("b").Int() != 1 || v.Get("ef").Int() != 3 || v.Get("a").Get("c").Len() != 1 ||
			v.Get("x").Exists() || v.Get("a").Get("x").Exists() || v.Get("a").Get("b").Get("b").Exists() {
			t.Fatalf("indexed reads of %s wrong", v.Raw())
		}
		v.Get("a").Get("c").Array(func(_ int, e jsonlite.Value) bool {
			if e.Get("d").Int() != 2 {
				t.Fatalf("d = %s", e.Get("d").Raw())
			}
			return true
		})
	}
	check(v)
	check(v) // from the index this time
	// The index moves on to another document; Values of the first still read
	// their own bytes.
	w, err := x.Parse([]byte(`{"ef":5,"a":{"b":6}}`))
	if err != nil || w.Get("ef").Int() != 5 || w.Get("a").Get("b").Int() != 6 {
		t.Fatalf("second document: %v", err)
	}
	check(v)
	if _, err := x.Parse([]byte(`{"a":`)); err == nil {
		t.Fatal("Index.Parse accepted a bad document")
	}
	check(v)
	// Many objects: past the ones the index records, Get scans.
	var wr jsonlite.Writer
	wr.BeginArray()
	for i := 0; i < 100; i++ {
		wr.BeginObject().Key("padding").String("long enough to be indexed on first Get").Key("i").Int(int64(i)).EndObject()
	}
	wr.EndArray()
	d, _ := wr.Document()
	d = x.Attach(d)
	for pass := 0; pass < 2; pass++ {
		d.Array(func(i int, e jsonlite.Value) bool {
			if e.Get("i").Int() != int64(i) {
				t.Fatalf("element %d: %s", i, e.Get("i").Raw())
			}
			return true
		})
	}
}
