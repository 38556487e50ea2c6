package host

import (
	"strconv"
	"strings"
	"testing"

	"fluvius.dev/fluvius/store"
)

func TestStateCacheBounds(t *testing.T) {
	c := newStateCache(3, 1600)
	rec := func(n int) *store.StateRecord {
		return &store.StateRecord{Data: []byte(strings.Repeat("x", n)), Version: int64(n)}
	}
	for i := 1; i <= 4; i++ {
		c.put(strconv.Itoa(i), rec(10))
	}
	if c.len() != 3 || c.get("1") != nil || c.get("4") == nil {
		t.Fatalf("items bound: %d entries, 1 kept %v", c.len(), c.get("1") != nil)
	}
	c.get("2") // now most recent: "3" goes first
	c.put("5", rec(10))
	if c.get("3") != nil || c.get("2") == nil {
		t.Fatal("not least recently used first")
	}
	c.put("2", rec(90))    // replaces
	c.put("big", rec(101)) // over maxBytes/16: not kept
	if c.get("big") != nil || c.get("2").Version != 90 {
		t.Fatal("a record over a sixteenth of the cache was kept, or a replacement lost")
	}
	c.put("2", rec(101)) // too large now: the older entry goes too
	if c.get("2") != nil {
		t.Fatal("a stale smaller record was kept when the new one was too large")
	}
	c.drop("5")
	if c.get("5") != nil {
		t.Fatal("dropped entry kept")
	}
	off := newStateCache(-1, 100)
	off.put("a", rec(1))
	if off.get("a") != nil {
		t.Fatal("a disabled cache keeps records")
	}
}
