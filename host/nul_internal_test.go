package host

import "testing"

func TestHasNULEscape(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":"\u0000"}`:    true,
		`{"a":"x\u0000y"}`:  true,
		`{"a":"\\u0000"}`:   false, // a backslash, then u0000
		`{"a":"\\\u0000"}`:  true,  // a backslash, then NUL
		`{"u0000":1}`:       false,
		`{"a":"\u00001"}`:   true,
		`{"a":"\\\\u0000"}`: false,
		`{"a":"\u0001"}`:    false,
		`{"a":"\\x\u0000"}`: true,
		``:                  false,
	} {
		if got := hasNULEscape([]byte(in)); got != want {
			t.Errorf("hasNULEscape(%s) = %v, want %v", in, got, want)
		}
	}
}
