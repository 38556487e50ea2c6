package host

import (
	"container/list"
	"sync"

	"fluvius.dev/fluvius/store"
)

// stateCache keeps the state records this host last wrote, so the next
// command on a hot aggregate is decided without reading the store. It is
// safe because a command never trusts it for more than a guess: the write
// is conditional on the version the state was read at, so a record made
// stale by another host fails the write with a version conflict, the entry
// is dropped and the command is decided again on the stored state.
// Commands with If-Match read the store (a stale guess would turn a valid
// precondition into a 412). It is bounded in entries and bytes, least
// recently used first out.
type stateCache struct {
	mu       sync.Mutex
	maxItems int
	maxBytes int
	bytes    int
	order    *list.List // of *cachedState, most recent first
	items    map[string]*list.Element
}

type cachedState struct {
	key string
	rec *store.StateRecord
}

func newStateCache(maxItems, maxBytes int) *stateCache {
	return &stateCache{maxItems: maxItems, maxBytes: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func (c *stateCache) get(key string) *store.StateRecord {
	if c.maxItems <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedState).rec
}

func (c *stateCache) put(key string, rec *store.StateRecord) {
	if c.maxItems <= 0 || len(rec.Data) > c.maxBytes/16 {
		c.drop(key) // no room for a record this large: never keep an older one
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		old := e.Value.(*cachedState)
		c.bytes += len(rec.Data) - len(old.rec.Data)
		old.rec = rec
		c.order.MoveToFront(e)
	} else {
		c.items[key] = c.order.PushFront(&cachedState{key: key, rec: rec})
		c.bytes += len(rec.Data)
	}
	for c.order.Len() > c.maxItems || c.bytes > c.maxBytes {
		last := c.order.Back()
		s := last.Value.(*cachedState)
		c.order.Remove(last)
		delete(c.items, s.key)
		c.bytes -= len(s.rec.Data)
	}
}

func (c *stateCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.bytes -= len(e.Value.(*cachedState).rec.Data)
		c.order.Remove(e)
		delete(c.items, key)
	}
}

func (c *stateCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
