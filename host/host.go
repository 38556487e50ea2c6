package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"fluvius.dev/fluvius/store"
)

// Host runs plugins and dispatches commands to them.
type Host struct {
	cfg        Config
	rt         wazero.Runtime
	cache      wazero.CompilationCache
	committers []*committer
	lanes      *lanes
	states     *stateCache
	nextCommit atomic.Uint64
	mu         sync.Mutex // serialises loads
	closed     bool       // under mu
	// life is held (read) by every compile and load, and (write) by Close
	// before it closes the runtime: nothing compiles on a closed runtime.
	life    sync.RWMutex
	closing atomic.Bool
	// Indexes for query resources are built in the background as plugins
	// activate; Close cancels and waits for them.
	indexing   sync.WaitGroup
	stopIndex  context.CancelFunc
	indexCtx   context.Context
	indexedFor sync.Map // plugin sha256 -> true: its indexes were asked for
	counts     sync.Map // domain -> *domainCounters
	// compiledBySHA holds each module compiled once while plugins use it.
	compileMu     sync.Mutex
	compiledBySHA map[string]*sharedModule
	mem           memBudget // instance memory of all plugins
	stopReaper    chan struct{}
	reaper        sync.WaitGroup
	plugins       atomic.Pointer[map[string]*Plugin] // by domain; replaced whole, read lock-free
	jobs          atomic.Pointer[JobQueue]           // where handlers' and jobs' jobs go (SetJobQueue)
}

// New starts a host: a wazero runtime with the host modules of the ABI.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Store == nil {
		return nil, errors.New("host: Config.Store is required")
	}
	cfg = cfg.withDefaults()
	h := &Host{cfg: cfg, lanes: newLanes(cfg.MaxQueuePerAggregate), states: newStateCache(cfg.StateCacheItems, cfg.StateCacheBytes), mem: memBudget{limit: int64(cfg.HostMemoryPages)},
		stopReaper: make(chan struct{})}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating compilation cache dir: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("opening compilation cache: %w", err)
		}
		h.cache = cache
	}
	h.rt = wazero.NewRuntimeWithConfig(ctx, newRuntimeConfig(cfg, h.cache))
	// WASI is there for the toolchains' runtimes: no files, no network, no
	// environment, and wazero's fake clock and deterministic randomness.
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		h.rt.Close(ctx)
		return nil, fmt.Errorf("instantiating WASI: %w", err)
	}
	if err := h.instantiateHostModules(ctx); err != nil {
		h.rt.Close(ctx)
		return nil, fmt.Errorf("instantiating host modules: %w", err)
	}
	empty := map[string]*Plugin{}
	h.plugins.Store(&empty)
	h.indexCtx, h.stopIndex = context.WithCancel(context.Background())
	h.compiledBySHA = map[string]*sharedModule{}
	for i := 0; i < cfg.Committers; i++ {
		h.committers = append(h.committers, newCommitter(cfg.Store, cfg.MaxBatch, cfg.CommitTimeout, cfg.Observer))
	}
	h.reaper.Add(1)
	go h.reapIdle(h.stopReaper)
	return h, nil
}

// Load compiles, checks and activates a module. A plugin for the same domain
// is replaced: commands already running finish on the old one. On failure
// the old plugin keeps serving.
func (h *Host) Load(ctx context.Context, source string, wasm []byte) (*Plugin, error) {
	p, err := h.load(ctx, source, wasm)
	if err != nil {
		return nil, fmt.Errorf("loading plugin %s: %w", source, err)
	}
	h.activate(p)
	h.cfg.Logger.Info("plugin loaded", "domain", p.Domain(), "source", source, "bytes", p.size,
		"sha256", p.id[:12], "commands", len(p.manifest.Commands))
	return p, nil
}

func (h *Host) activate(p *Plugin) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.plugins.Load()
	next := make(map[string]*Plugin, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	prev := next[p.Domain()]
	next[p.Domain()] = p
	h.plugins.Store(&next)
	if prev != nil {
		prev.retire()
	}
	h.buildIndexes(p)
}

// buildIndexes asks the store, in the background, for the indexes the
// plugin's query resources need (once per module).
func (h *Host) buildIndexes(p *Plugin) {
	ix, ok := h.cfg.Store.(store.StateIndexer)
	if !ok || h.closing.Load() {
		return
	}
	if _, done := h.indexedFor.LoadOrStore(p.id, true); done {
		return
	}
	h.indexing.Add(1)
	go func() {
		defer h.indexing.Done()
		for _, r := range p.manifest.Aggregates {
			for _, res := range r.Resources {
				q := p.manifest.queries[res]
				spec := store.IndexSpec{Text: q.Text}
				for _, name := range q.FieldNames() {
					if f := q.Fields[name]; f.Column == "" {
						spec.Fields = append(spec.Fields, f)
					}
				}
				if len(spec.Fields) == 0 && len(spec.Text) == 0 {
					continue
				}
				ctx, cancel := context.WithTimeout(h.indexCtx, 30*time.Minute)
				start := time.Now()
				err := ix.StateIndexes(ctx, spec)
				cancel()
				if err != nil {
					if h.indexCtx.Err() == nil {
						h.cfg.Logger.Warn("building the indexes of a query resource failed; lists work, slower", "domain", p.Domain(),
							"resource", res, "err", err)
						h.indexedFor.Delete(p.id)
					}
					return
				}
				h.cfg.Logger.Debug("query indexes ready", "domain", p.Domain(), "resource", res, "took", time.Since(start).Round(time.Millisecond))
			}
		}
	}()
}

// WaitIndexes waits until the indexes asked for so far are built.
func (h *Host) WaitIndexes() { h.indexing.Wait() }

// LoadFile loads a module from a file.
func (h *Host) LoadFile(ctx context.Context, path string) (*Plugin, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading plugin: %w", err)
	}
	return h.Load(ctx, filepath.Base(path), wasm)
}

// LoadDir loads every .wasm file of dir and activates those that load. A
// file that fails is logged and skipped, so one bad plugin never keeps the
// others from serving; the returned error joins what was skipped and why.
// Two files serving the same domain are both skipped: which one won must
// not depend on file names.
func (h *Host) LoadDir(ctx context.Context, dir string) ([]*Plugin, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var skipped []error
	skip := func(err error) {
		h.cfg.Logger.Error("plugin skipped", "err", err)
		skipped = append(skipped, err)
	}
	byDomain := map[string][]*Plugin{}
	var domains []string
	for _, path := range paths {
		name := filepath.Base(path)
		wasm, err := os.ReadFile(path)
		if err != nil {
			skip(fmt.Errorf("loading plugin %s: %w", name, err))
			continue
		}
		p, err := h.load(ctx, name, wasm)
		if err != nil {
			skip(fmt.Errorf("loading plugin %s: %w", name, err))
			continue
		}
		if byDomain[p.Domain()] == nil {
			domains = append(domains, p.Domain())
		}
		byDomain[p.Domain()] = append(byDomain[p.Domain()], p)
	}
	var loaded []*Plugin
	for _, d := range domains {
		ps := byDomain[d]
		if len(ps) > 1 {
			names := make([]string, len(ps))
			for i, p := range ps {
				names[i] = p.source
				p.retire()
			}
			skip(fmt.Errorf("domain %s is served by %v: none of them is loaded", d, names))
			continue
		}
		loaded = append(loaded, ps[0])
	}
	for _, p := range loaded {
		h.activate(p)
		h.cfg.Logger.Info("plugin loaded", "domain", p.Domain(), "source", p.source, "bytes", p.size,
			"sha256", p.id[:12], "commands", len(p.manifest.Commands))
	}
	return loaded, errors.Join(skipped...)
}

// Plugin returns the active plugin of a domain, or nil.
func (h *Host) Plugin(domain string) *Plugin { return (*h.plugins.Load())[domain] }

// Plugins returns the active plugins by domain name.
func (h *Host) Plugins() []*Plugin {
	m := *h.plugins.Load()
	out := make([]*Plugin, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain() < out[j].Domain() })
	return out
}

// Close retires every plugin and closes the runtime. Call it after the HTTP
// server has stopped taking requests. Commands still waiting on the store
// are failed (shutting-down); a second Close does nothing.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.closing.Store(true)
	h.stopIndex()
	h.indexing.Wait()
	h.life.Lock() // compiles and loads in flight finish first
	defer h.life.Unlock()
	close(h.stopReaper)
	h.reaper.Wait()
	for _, p := range *h.plugins.Load() {
		p.retire()
	}
	empty := map[string]*Plugin{}
	h.plugins.Store(&empty)
	for _, c := range h.committers {
		c.close()
	}
	err := h.rt.Close(ctx)
	if h.cache != nil {
		err = errors.Join(err, h.cache.Close(ctx))
	}
	return err
}
