package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
)

// Plugin is one loaded module serving one domain.
type Plugin struct {
	host     *Host
	id       string // sha256 of the module, hex
	source   string // where it came from, for logs
	size     int
	loadedAt time.Time
	compiled wazero.CompiledModule
	manifest *compiledManifest
	rawMan   []byte
	pool     *pool
	budget   int64 // fuel per call
	mem      memBudget
	// Guest calls made: exports that decide or fold, and fluvius_buffer
	// calls for requests that did not fit the instance's buffer.
	calls, bufferCalls atomic.Int64
	logs               logBucket
	logDropped         atomic.Int64
}

// LogLinesDropped counts the guest log lines dropped past the caps.
func (p *Plugin) LogLinesDropped() int64 { return p.logDropped.Load() }

// CallStats counts the plugin's guest calls: requests decided or folded,
// and the fluvius_buffer calls made for requests larger than the buffer an
// instance had (ideally one per instance).
func (p *Plugin) CallStats() (requests, bufferCalls int64) {
	return p.calls.Load(), p.bufferCalls.Load()
}

// Domain returns the plugin's domain name.
func (p *Plugin) Domain() string { return p.manifest.Domain }

// ID returns the content address of the module (sha256, hex).
func (p *Plugin) ID() string { return p.id }

// Source says where the module was loaded from.
func (p *Plugin) Source() string { return p.source }

// Size returns the module's size in bytes.
func (p *Plugin) Size() int { return p.size }

// LoadedAt returns when the plugin was loaded.
func (p *Plugin) LoadedAt() time.Time { return p.loadedAt }

// Manifest returns the plugin's checked manifest.
func (p *Plugin) Manifest() abi.Manifest { return p.manifest.Manifest }

// ManifestJSON returns the manifest as the guest wrote it.
func (p *Plugin) ManifestJSON() []byte { return p.rawMan }

// Instances returns how many instances the plugin has now.
func (p *Plugin) Instances() int { return p.pool.size() }

// InstancesBusy returns how many of its instances are serving a call now.
func (p *Plugin) InstancesBusy() int { return max(0, p.pool.size()-len(p.pool.idle)) }

// CallsWaiting returns how many calls are waiting for an instance now.
func (p *Plugin) CallsWaiting() int { return int(p.pool.waiting.Load()) }

// MemoryPages returns the linear memory its instances hold, in 64 KiB
// pages, as counted against its budget.
func (p *Plugin) MemoryPages() int64 { return p.mem.used.Load() }

// load compiles and checks a module, instantiates one instance (which runs
// its initialisation and proves it works) and reads its manifest. On any
// failure everything built so far is released.
func (h *Host) load(ctx context.Context, source string, wasm []byte) (_ *Plugin, err error) {
	h.life.RLock()
	defer h.life.RUnlock()
	if h.closing.Load() {
		return nil, errHostClosed
	}
	if len(wasm) > h.cfg.MaxModuleBytes {
		return nil, &Error{Kind: KindTooLarge, Code: "module-too-large",
			Message: fmt.Sprintf("the module is %d bytes, more than the limit of %d", len(wasm), h.cfg.MaxModuleBytes)}
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errorf(KindInvalid, "not-wasm", "not a WebAssembly module (it does not start with \\0asm)")
	}
	sum := sha256.Sum256(wasm)
	p := &Plugin{host: h, id: hex.EncodeToString(sum[:]), source: source, size: len(wasm), loadedAt: h.cfg.Now(),
		mem: memBudget{limit: int64(h.cfg.PluginMemoryPages)}}
	code := wasm
	if !h.cfg.Unmetered {
		if code, err = h.meterModule(wasm, sum); err != nil {
			return nil, &Error{Kind: KindInvalid, Code: "module-refused", Message: err.Error(), Err: err}
		}
	}
	p.compiled, err = h.compile(ctx, p.id, code)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "module-invalid", Message: "compiling: " + err.Error(), Err: err}
	}
	defer func() {
		if err != nil {
			h.releaseCompiled(p.id)
		}
	}()
	if err := checkModule(p.compiled); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "abi-mismatch", Message: err.Error(), Err: err}
	}
	p.pool = newPool(h.cfg.MaxInstances, h.cfg.MaxWaitingPerPlugin, p.newInstance)
	in, err := p.pool.get(ctx)
	if err != nil {
		if errors.Is(err, errMemoryBudget) {
			return nil, err
		}
		return nil, &Error{Kind: KindInvalid, Code: "plugin-init-failed", Message: err.Error(), Err: err}
	}
	raw, err := in.manifest(ctx, h.cfg.InitFuel)
	if err != nil {
		p.pool.discard(in)
		return nil, &Error{Kind: KindInvalid, Code: "manifest-invalid", Message: "reading the manifest: " + err.Error(), Err: err}
	}
	p.pool.put(in)
	if p.manifest, err = decodeManifest(raw); err != nil {
		p.pool.close(nil)
		return nil, err
	}
	m := p.manifest.Manifest
	for _, need := range []struct {
		declared bool
		what     string
		sig      abi.FuncSig
	}{{len(m.Handlers) > 0, "handlers", abi.OnEventExport}, {len(m.Jobs) > 0, "jobs", abi.RunJobExport}} {
		if !need.declared {
			continue
		}
		f, ok := p.compiled.ExportedFunctions()[need.sig.Name]
		if !ok || signature(f) != sigString(need.sig) {
			p.pool.close(nil)
			msg := fmt.Sprintf("the manifest declares %s but the module does not export %s %s", need.what, need.sig.Name, sigString(need.sig))
			return nil, &Error{Kind: KindInvalid, Code: "abi-mismatch", Message: msg}
		}
	}
	p.rawMan = raw
	p.budget = p.fuel()
	return p, nil
}

// decodeManifest reads and checks the manifest a guest returned: bytes
// of the guest's choosing, so any of them is a manifest or an error.
func decodeManifest(raw []byte) (*compiledManifest, error) {
	// A name given twice (a role, a schema property) would be read as
	// encoding/json reads it, the last copy winning: refused instead.
	if _, err := (*schema.Validator)(nil).Validate(raw); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "manifest-invalid", Message: "decoding the manifest: " + err.Error(), Err: err}
	}
	// What the plugin requires is read first: a plugin newer than this
	// host is refused by naming the features it lacks, not by the first
	// field it does not know.
	var pre struct {
		Requires map[string]int `json:"requires"`
	}
	if json.Unmarshal(raw, &pre) == nil {
		if err := checkRequires(pre.Requires); err != nil {
			return nil, &Error{Kind: KindInvalid, Code: "manifest-invalid", Message: err.Error()}
		}
	}
	var m abi.Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a manifest asking for what this host does not know is refused, not half-served
	if err := dec.Decode(&m); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "manifest-invalid", Message: "decoding the manifest: " + err.Error(), Err: err}
	}
	cm, err := checkManifest(m)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "manifest-invalid", Message: "checking the manifest: " + err.Error(), Err: err}
	}
	return cm, nil
}

// fuel is the budget of one call to this plugin: its domain's, or the
// host's default.
func (p *Plugin) fuel() int64 {
	if f := p.host.cfg.FuelByDomain[p.Domain()]; f > 0 {
		return f
	}
	return p.host.cfg.Fuel
}

// retire stops lending instances; the compiled module is released once the
// last lent instance comes back.
func (p *Plugin) retire() {
	p.pool.close(func() { p.host.releaseCompiled(p.id) })
}

// lend runs fn with an instance and returns the instance to the pool, or
// discards it if fn failed in the guest (a trap, an exit, a deadline) or the
// instance grew past the recycling size.
func (p *Plugin) lend(ctx context.Context, fn func(in *instance) error) error {
	in, err := p.pool.get(ctx)
	if err != nil {
		return err
	}
	if err := fn(in); err != nil {
		p.pool.discard(in)
		return err
	}
	// An instance that grew past the recycling size, or whose plugin or
	// host is over its memory budget, is let go rather than kept idle.
	in.account()
	if in.memoryPages() > p.host.cfg.RecyclePages || in.overBudget() {
		p.pool.discard(in)
		return nil
	}
	p.pool.put(in)
	return nil
}

// guestError marks an error raised by the guest call itself.
type guestError struct {
	msg string
	err error
}

func (e *guestError) Error() string { return e.msg }
func (e *guestError) Unwrap() error { return e.err }

// call invokes a guest export with the request encode writes and returns
// the answer.
func (p *Plugin) call(ctx context.Context, export string, cs *callState, encode func(*abi.Encoder)) ([]byte, error) {
	cs.plugin = p
	// Fuel bounds the guest's own code; the context bounds what host
	// functions do for it (wazero does not watch it: no goroutine, no timer
	// per call).
	gctx := context.WithValue(ctx, callKey{}, cs)
	var out []byte
	defer func() {
		if cs.logDropped > 0 {
			p.host.cfg.Logger.Warn("guest log lines dropped", "domain", p.Domain(), "dropped", cs.logDropped,
				"kept", cs.logLines, "sha256", p.id[:12])
		}
	}()
	err := p.lend(ctx, func(in *instance) error {
		fn := in.handle
		switch export {
		case abi.ExportApply:
			fn = in.apply
		case abi.ExportOnEvent:
			fn = in.onEvent
		case abi.ExportRunJob:
			fn = in.runJob
		}
		var err error
		var grew bool
		in.budget, in.used = p.budget, 0
		out, grew, err = in.invoke(gctx, fn, encode)
		cs.fuel = in.used
		p.calls.Add(1)
		if grew {
			p.bufferCalls.Add(1)
		}
		if err != nil {
			return &guestError{msg: in.describeFailure(err), err: err}
		}
		return nil
	})
	return out, err
}

// Handle lets the plugin decide one command envelope. It is what the
// dispatcher runs and what a test harness can drive directly. A trap, exit or
// deadline is returned as an error (and costs the instance); a refusal by
// the guest is a Result with a non-OK status.
func (p *Plugin) Handle(ctx context.Context, cmd *abi.Command) (*abi.Result, error) {
	res, _, err := p.decide(ctx, cmd)
	return res, err
}

// decide is Handle, also saying how much fuel the guest burnt.
func (p *Plugin) decide(ctx context.Context, cmd *abi.Command) (*abi.Result, int64, error) {
	cs := &callState{tenant: cmd.Caller.Tenant, caller: cmd.Caller, readState: true, resource: cmd.Resource, state: cmd.State}
	out, err := p.call(ctx, abi.ExportHandle, cs, cmd.Encode)
	if err != nil {
		return nil, cs.fuel, err
	}
	var res abi.Result
	if err := res.Decode(out); err != nil {
		return nil, cs.fuel, fmt.Errorf("decoding the guest's result: %w", err)
	}
	return &res, cs.fuel, nil
}

// OnEvent runs one of the plugin's event handlers on one delivery, in the
// event's tenant and as the handler's caller (for state reads, queries and
// Call.Can). A trap, exit or fuel run out is an error; a refusal by the
// guest is a HandlerResult with a non-OK status.
func (p *Plugin) OnEvent(ctx context.Context, d *abi.EventDelivery, as abi.Caller) (*abi.HandlerResult, error) {
	if p.manifest.handlers[d.Handler] == nil {
		return nil, errorf(KindNotFound, "unknown-handler", "domain %s has no handler %q", p.Domain(), d.Handler)
	}
	out, err := p.call(ctx, abi.ExportOnEvent, &callState{tenant: as.Tenant, caller: as, readState: true}, d.Encode)
	if err != nil {
		return nil, err
	}
	var res abi.HandlerResult
	if err := res.Decode(out); err != nil {
		return nil, fmt.Errorf("decoding the guest's handler result: %w", err)
	}
	return &res, nil
}

// RunJob runs one of the plugin's jobs, in the tenant of as and as its
// caller. A trap, exit or fuel run out is an error; a refusal by the guest
// is a HandlerResult with a non-OK status.
func (p *Plugin) RunJob(ctx context.Context, req *abi.JobRequest, as abi.Caller) (*abi.HandlerResult, error) {
	if p.manifest.jobs[req.Job] == nil {
		return nil, errorf(KindNotFound, "unknown-job", "domain %s has no job %q", p.Domain(), req.Job)
	}
	out, err := p.call(ctx, abi.ExportRunJob, &callState{tenant: as.Tenant, caller: as, readState: true}, req.Encode)
	if err != nil {
		return nil, err
	}
	var res abi.HandlerResult
	if err := res.Decode(out); err != nil {
		return nil, fmt.Errorf("decoding the guest's job result: %w", err)
	}
	return &res, nil
}

// Jobs returns the plugin's jobs as its manifest declares them.
func (p *Plugin) Jobs() []abi.JobSpec { return p.manifest.Jobs }

// Handlers returns the plugin's event handlers as its manifest declares
// them.
func (p *Plugin) Handlers() []abi.HandlerSpec { return p.manifest.Handlers }

// Apply folds events into a state through the plugin's appliers.
func (p *Plugin) Apply(ctx context.Context, req *abi.ApplyRequest) (*abi.ApplyResult, error) {
	out, err := p.call(ctx, abi.ExportApply, &callState{}, req.Encode)
	if err != nil {
		return nil, err
	}
	var res abi.ApplyResult
	if err := res.Decode(out); err != nil {
		return nil, fmt.Errorf("decoding the guest's apply result: %w", err)
	}
	return &res, nil
}
