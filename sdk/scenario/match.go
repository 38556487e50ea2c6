package scenario

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
)

// match compares got against a subset expectation and returns one line per
// difference, each naming the path: "state.email: want "a", got "b"".
func match(path string, want, got json.RawMessage) []string {
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		return []string{fmt.Sprintf("%s: the scenario's expectation is not JSON: %v", path, err)}
	}
	if len(got) == 0 {
		return []string{fmt.Sprintf("%s: want %s, got nothing", path, compact(want))}
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return []string{fmt.Sprintf("%s: the plugin's value is not JSON: %v", path, err)}
	}
	var out []string
	subset(path, w, g, &out)
	return out
}

func subset(path string, w, g any, out *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an object, got %s", path, show(g)))
			return
		}
		keys := make([]string, 0, len(wv))
		for k := range wv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gk, ok := gv[k]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s.%s: want %s, got nothing", path, k, show(wv[k])))
				continue
			}
			subset(path+"."+k, wv[k], gk, out)
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, show(w), show(g)))
			return
		}
		for i := range wv {
			subset(path+"["+strconv.Itoa(i)+"]", wv[i], gv[i], out)
		}
	default:
		if !reflect.DeepEqual(w, g) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, show(w), show(g)))
		}
	}
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func compact(b json.RawMessage) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	return show(v)
}
