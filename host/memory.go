package host

import (
	"errors"
	"sync/atomic"
	"time"
)

// errMemoryBudget is returned when a new instance would take a plugin or
// the host past its memory budget.
var errMemoryBudget = errors.New("the memory budget of instances is spent")

// memBudget counts the linear memory (in 64 KiB pages) of live instances
// against a limit: one for each plugin, one for the host. The per-instance
// cap (Config.MemoryLimitPages) bounds one instance; these bound them all,
// idle ones included.
type memBudget struct {
	limit int64
	used  atomic.Int64
}

func (b *memBudget) over() bool { return b.used.Load() > b.limit }

// account brings an instance's counted pages up to date with its memory.
func (in *instance) account() {
	cur := int64(in.memoryPages())
	if d := cur - in.pages; d != 0 {
		in.pages = cur
		for _, b := range in.budgets {
			b.used.Add(d)
		}
	}
}

// unaccount gives an instance's pages back; it is closed or about to be.
func (in *instance) unaccount() {
	for _, b := range in.budgets {
		b.used.Add(-in.pages)
	}
	in.pages = 0
}

// overBudget reports whether the instance's plugin or the host has more
// memory counted than its budget allows.
func (in *instance) overBudget() bool {
	for _, b := range in.budgets {
		if b.over() {
			return true
		}
	}
	return false
}

// reapIdle closes the instances of every plugin that have been idle longer
// than Config.IdleTimeout, keeping one per plugin ready: memory a burst of
// traffic grew is given back when it has passed.
func (h *Host) reapIdle(stop <-chan struct{}) {
	defer h.reaper.Done()
	t := time.NewTicker(h.cfg.IdleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for _, p := range h.Plugins() {
				p.pool.reap(now.Add(-h.cfg.IdleTimeout), 1)
			}
		}
	}
}
