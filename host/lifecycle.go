package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
)

// The lifecycle of a plugin as the registry drives it: Prepare compiles a
// module, checks it and warms an instance without serving it; Activate
// swaps it in (commands already running finish on the plugin it replaces,
// whose instances close as they come back); Discard drops a prepared
// plugin that was not activated; Unload stops serving a domain.

// Prepare compiles and checks a module and warms its pool, without serving
// it. Refusals are *Error values saying what is wrong with the module
// (not-wasm, module-too-large, module-refused, module-invalid,
// abi-mismatch, plugin-init-failed, manifest-invalid).
func (h *Host) Prepare(ctx context.Context, source string, wasm []byte) (*Plugin, error) {
	return h.load(ctx, source, wasm)
}

// Activate makes a prepared plugin serve its domain, replacing the one
// that did.
func (h *Host) Activate(p *Plugin) error {
	if p.host != h {
		return errors.New("host: the plugin was prepared by another host")
	}
	if p.pool.closed.Load() {
		return errors.New("host: the plugin was discarded or replaced")
	}
	h.activate(p)
	h.cfg.Logger.Info("plugin activated", "domain", p.Domain(), "source", p.source, "bytes", p.size,
		"sha256", p.id[:12], "commands", len(p.manifest.Commands))
	return nil
}

// Discard releases a prepared plugin that is not serving.
func (h *Host) Discard(p *Plugin) {
	if h.Plugin(p.Domain()) == p {
		return // serving: Unload or a replacement retires it
	}
	p.retire()
}

// Unload stops serving a domain: new commands find no domain; those
// running finish. It reports whether the domain was served.
func (h *Host) Unload(domain string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.plugins.Load()
	prev, ok := old[domain]
	if !ok {
		return false
	}
	next := make(map[string]*Plugin, len(old))
	for k, v := range old {
		if k != domain {
			next[k] = v
		}
	}
	h.plugins.Store(&next)
	prev.retire()
	h.cfg.Logger.Info("plugin unloaded", "domain", domain, "sha256", prev.id[:12])
	return true
}

// SHA256 returns the module's SHA-256, hex encoded.
func (p *Plugin) SHA256() string { return p.id }

// Folds reports whether the plugin declares an applier for an event type.
func (p *Plugin) Folds(eventType string) bool { return p.manifest.events[eventType] }

// Rebuild replays an aggregate's stream up to a version through plugin p's
// appliers (p need not be serving) and returns the state and version it
// reaches: what shadow verification compares with the stored state of that
// version. A stream past the replay bounds is refused with KindTooLarge.
func (h *Host) Rebuild(ctx context.Context, p *Plugin, key store.StateKey, upTo int64) ([]byte, int64, error) {
	evs, err := h.cfg.Store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey:   store.StreamKey{Tenant: key.Tenant, Stream: Stream(key.Domain, key.Resource, key.ID)},
		UpToVersion: upTo, Limit: h.cfg.MaxReplayEvents + 1, MaxBytes: h.cfg.MaxReplayBytes + 1})
	if err != nil {
		return nil, 0, err
	}
	size := 0
	for _, ev := range evs {
		size += len(ev.Data)
	}
	if size > h.cfg.MaxReplayBytes || len(evs) > h.cfg.MaxReplayEvents {
		return nil, 0, errorf(KindTooLarge, "replay-too-large", "the stream has more than %d events or %d bytes of event data",
			h.cfg.MaxReplayEvents, h.cfg.MaxReplayBytes)
	}
	if len(evs) == 0 {
		return nil, 0, errorf(KindNotFound, "aggregate-not-found", "%s %s has no events", key.Resource, key.ID)
	}
	req := abi.ApplyRequest{Resource: key.Resource, AggregateID: key.ID, Events: make([]abi.Event, len(evs))}
	for i, ev := range evs {
		req.Events[i] = abi.Event{Type: ev.Type, Data: ev.Data, Version: ev.Version, Time: ev.CreatedAt.UnixNano()}
	}
	res, err := p.Apply(ctx, &req)
	if err != nil {
		return nil, 0, fmt.Errorf("replaying through the plugin: %w", err)
	}
	if res.Status != abi.StatusOK {
		return nil, 0, fmt.Errorf("the plugin refused to fold the events: %s: %s", res.Error.Code, res.Error.Message)
	}
	return res.State, evs[len(evs)-1].Version, nil
}

// Store returns the store the host writes to.
func (h *Host) Store() store.Driver { return h.cfg.Store }

// Precompile meters and compiles a module into the host's caches without
// loading it, so that preparing it later (an activation made on another
// host) skips the compile. Without a cache directory it does nothing.
func (h *Host) Precompile(ctx context.Context, wasm []byte) error {
	if h.cache == nil || len(wasm) > h.cfg.MaxModuleBytes {
		return nil
	}
	h.life.RLock()
	defer h.life.RUnlock()
	if h.closing.Load() {
		return errHostClosed
	}
	sum := sha256.Sum256(wasm)
	h.compileMu.Lock()
	defer h.compileMu.Unlock()
	if _, loaded := h.compiledBySHA[hex.EncodeToString(sum[:])]; loaded {
		return nil // compiled and in use already
	}
	code := wasm
	if !h.cfg.Unmetered {
		var err error
		if code, err = h.meterModule(wasm, sum); err != nil {
			return err
		}
	}
	cm, err := h.rt.CompileModule(ctx, code)
	if err != nil {
		return err
	}
	return cm.Close(ctx)
}

// SandboxConfig is the configuration of a throwaway host beside this one
// (the registry tests uploads in one): the same limits and compilation
// cache, one instance per plugin, no authorizer. Set its Store.
func (h *Host) SandboxConfig() Config {
	return Config{CacheDir: h.cfg.CacheDir, Fuel: h.cfg.Fuel, FuelByDomain: h.cfg.FuelByDomain, InitFuel: h.cfg.InitFuel,
		Unmetered: h.cfg.Unmetered, MaxModuleBytes: h.cfg.MaxModuleBytes, PluginMemoryPages: h.cfg.PluginMemoryPages,
		MaxInstances: 1, Committers: 1, Logger: h.cfg.Logger}
}

var errHostClosed = &Error{Kind: KindUnavailable, Code: "shutting-down", Message: "the host is shutting down"}

// QueryResource returns what a resource offers to lists, or nil.
func (p *Plugin) QueryResource(resource string) *query.Resource { return p.manifest.queries[resource] }

// sharedModule is a compiled module and how many plugins use it. wazero
// must not compile a module again while instances of it are being made
// (compiling writes what instantiating reads, a race the race detector
// found), so each module is compiled once per host and shared by every
// plugin made of it: a reload, a rollback to the same bytes.
type sharedModule struct {
	cm   wazero.CompiledModule
	refs int
}

// compile returns the module compiled, once per SHA-256 while in use.
func (h *Host) compile(ctx context.Context, sha string, code []byte) (wazero.CompiledModule, error) {
	h.compileMu.Lock()
	defer h.compileMu.Unlock()
	if m, ok := h.compiledBySHA[sha]; ok {
		m.refs++
		return m.cm, nil
	}
	cm, err := h.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, err
	}
	h.compiledBySHA[sha] = &sharedModule{cm: cm, refs: 1}
	return cm, nil
}

// releaseCompiled drops a plugin's hold on its compiled module, closing it
// with the last.
func (h *Host) releaseCompiled(sha string) {
	h.compileMu.Lock()
	defer h.compileMu.Unlock()
	m, ok := h.compiledBySHA[sha]
	if !ok {
		return
	}
	if m.refs--; m.refs == 0 {
		delete(h.compiledBySHA, sha)
		m.cm.Close(context.Background())
	}
}
