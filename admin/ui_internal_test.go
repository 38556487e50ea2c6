package admin

import (
	"strings"
	"testing"
)

// Two texts side by side: equal lines paired, the others against blanks,
// in order.
func TestSideBySide(t *testing.T) {
	a := strings.Split("{\n  a: 1\n  b: 2\n  c: 3\n}", "\n")
	b := strings.Split("{\n  a: 1\n  b: 5\n  c: 3\n  d: 4\n}", "\n")
	var got []string
	for _, l := range sideBySide(a, b) {
		mark := " "
		if l.Changed {
			mark = "*"
		}
		got = append(got, mark+l.A+"|"+l.B)
	}
	want := []string{" {|{", "   a: 1|  a: 1", "*|  b: 5", "*  b: 2|", "   c: 3|  c: 3", "*|  d: 4", " }|}"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows := sideBySide(nil, b); len(rows) != len(b) || !rows[0].Changed {
		t.Fatalf("against nothing: %+v", rows)
	}
}
