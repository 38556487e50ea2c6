package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
)

// callState is what host functions know of the guest call they serve. It
// travels in the context passed to the guest export, which wazero hands to
// every host function the guest calls during that export.
type callState struct {
	plugin *Plugin
	// tenant is the one the call acts for: the only tenant whose state the
	// guest may read. readState is false where no read is allowed (folding
	// events must depend on the events alone).
	tenant    string
	caller    abi.Caller // whose command it is (zero while folding)
	readState bool
	// The aggregate decided on, for the roles its caller holds on it.
	resource string
	state    []byte
	pending  []byte // the response take_response hands over
	// Guest log volume in this call, and lines dropped past the caps.
	logLines, logBytes, logDropped int
	fuel                           int64 // burnt by the call (0 when unmetered)
}

type callKey struct{}

func stateOf(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

// Guest logging is capped so that no guest can flood the host's log: a line
// at 8 KiB, a call at 100 lines and 64 KiB, a plugin at a steady 100 lines
// a second (with bursts of 200). Lines past a cap are dropped and counted;
// the count is logged once at the end of the call.
const (
	maxLogBytes        = 8 << 10
	maxLogLinesPerCall = 100
	maxLogBytesPerCall = 64 << 10
	logLinesPerSecond  = 100
	logBurst           = 200
)

// logBucket is a plugin's token bucket for guest log lines.
type logBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *logBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = logBurst
	} else {
		b.tokens = min(logBurst, b.tokens+now.Sub(b.last).Seconds()*logLinesPerSecond)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// instantiateHostModules registers the host modules of the ABI (and WASI)
// with the runtime. Signatures come from abi.HostFunctions, so the table
// guests are checked against and the functions provided cannot disagree.
func (h *Host) instantiateHostModules(ctx context.Context) error {
	impls := map[string]map[string]api.GoModuleFunc{
		abi.ModuleCore:  {abi.FuncTakeResponse: takeResponse},
		abi.ModuleLog:   {abi.FuncLogWrite: h.logWrite},
		abi.ModuleState: {abi.FuncStateGet: h.stateGet},
		abi.ModuleAuthz: {abi.FuncCan: h.can},
		abi.ModuleQuery: {abi.FuncQueryList: h.queryList},
		abi.ModuleMedia: {abi.FuncMediaGet: h.mediaGet},
	}
	for module, sigs := range abi.HostFunctions {
		b := h.rt.NewHostModuleBuilder(module)
		for _, sig := range sigs {
			fn, ok := impls[module][sig.Name]
			if !ok {
				return errors.New("host: no implementation of " + module + "." + sig.Name)
			}
			b.NewFunctionBuilder().WithGoModuleFunction(fn, valueTypes(sig.Params), valueTypes(sig.Results)).Export(sig.Name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return err
		}
	}
	return nil
}

func valueTypes(ts []abi.ValueType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		if t == abi.I64 {
			out[i] = api.ValueTypeI64
		} else {
			out[i] = api.ValueTypeI32
		}
	}
	return out
}

func read(mod api.Module, ptr, n uint64) ([]byte, bool) {
	return mod.Memory().Read(uint32(ptr), uint32(n))
}

// takeResponse: (ptr, len) -> i32.
func takeResponse(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	if cs == nil || cs.pending == nil {
		stack[0] = api.EncodeI32(int32(abi.HostErrNoResponse))
		return
	}
	n := min(uint32(stack[1]), uint32(len(cs.pending)))
	if !mod.Memory().Write(uint32(stack[0]), cs.pending[:n]) {
		stack[0] = api.EncodeI32(int32(abi.HostErrBadRequest))
		return
	}
	cs.pending = nil
	stack[0] = api.EncodeI32(int32(n))
}

// logWrite: (level, ptr, len).
func (h *Host) logWrite(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	if cs == nil {
		return // logging from _initialize or the manifest: no call to count it against
	}
	// i32 arguments are read with DecodeU32: the upper half of a stack
	// slot is not guaranteed to be zero.
	n := min(uint64(api.DecodeU32(stack[2])), maxLogBytes)
	if cs.logLines >= maxLogLinesPerCall || cs.logBytes+int(n) > maxLogBytesPerCall || !cs.plugin.logs.take(time.Now()) {
		cs.logDropped++
		cs.plugin.logDropped.Add(1)
		return
	}
	msg, ok := read(mod, uint64(api.DecodeU32(stack[1])), n)
	if !ok {
		return
	}
	cs.logLines++
	cs.logBytes += int(n)
	h.cfg.Logger.Log(ctx, slog.Level(api.DecodeI32(stack[0])), string(msg), "source", "guest", "domain", cs.plugin.Domain())
}

// stateGet: (ptr, len) -> i64. Reads a committed state record of the
// calling guest's own domain, in the tenant of the command it decides.
func (h *Host) stateGet(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	in, ok := read(mod, uint64(api.DecodeU32(stack[0])), uint64(api.DecodeU32(stack[1])))
	var req abi.StateGetRequest
	if cs == nil || !ok || req.Decode(in) != nil || !cs.readState {
		stack[0] = api.EncodeI64(int64(abi.HostErrBadRequest))
		return
	}
	rctx, cancel := context.WithTimeout(ctx, h.cfg.GuestTimeout)
	defer cancel()
	rec, err := h.cfg.Store.Executor().StateGet(rctx, &store.StateKey{Tenant: cs.tenant, Domain: cs.plugin.Domain(), Resource: req.Resource, ID: req.ID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		stack[0] = api.EncodeI64(int64(abi.HostErrNotFound))
		return
	case err != nil:
		h.cfg.Logger.Warn("guest state read failed", "domain", cs.plugin.Domain(), "err", err)
		stack[0] = api.EncodeI64(int64(abi.HostErrUnavailable))
		return
	}
	var e abi.Encoder
	(&abi.StateRecord{Data: rec.Data, Version: rec.Version, ETag: rec.ETag, Tenant: rec.Tenant}).Encode(&e)
	cs.pending = e.Bytes()
	stack[0] = uint64(len(cs.pending))
}

// mediaGet: (ptr, len) -> i64. Reads an uploaded file's metadata, in the
// tenant of the call only (another tenant's id is not found).
func (h *Host) mediaGet(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	in, ok := read(mod, uint64(api.DecodeU32(stack[0])), uint64(api.DecodeU32(stack[1])))
	var req abi.MediaGetRequest
	if cs == nil || !ok || req.Decode(in) != nil || !cs.readState {
		stack[0] = api.EncodeI64(int64(abi.HostErrBadRequest))
		return
	}
	ms, ok := h.cfg.Store.(store.MediaStore)
	if !ok || len(req.ID) > maxIDBytes {
		stack[0] = api.EncodeI64(int64(abi.HostErrNotFound))
		return
	}
	rctx, cancel := context.WithTimeout(ctx, h.cfg.GuestTimeout)
	defer cancel()
	m, err := ms.MediaGet(rctx, cs.tenant, req.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		stack[0] = api.EncodeI64(int64(abi.HostErrNotFound))
		return
	case err != nil:
		h.cfg.Logger.Warn("guest media read failed", "domain", cs.plugin.Domain(), "err", err)
		stack[0] = api.EncodeI64(int64(abi.HostErrUnavailable))
		return
	}
	var e abi.Encoder
	(&abi.MediaInfo{ID: m.ID, Name: m.Name, Size: m.Size, ContentType: m.ContentType, SHA256: m.SHA256, Owner: m.Owner,
		CreatedAt: m.CreatedAt.UnixNano()}).Encode(&e)
	cs.pending = e.Bytes()
	stack[0] = uint64(len(cs.pending))
}

// newRuntimeConfig is the wazero configuration every plugin runs under.
func newRuntimeConfig(cfg Config, cache wazero.CompilationCache) wazero.RuntimeConfig {
	// No WithCloseOnContextDone: fuel stops guests, deterministically and
	// without the termination checks that made guest code 3-5x slower.
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.MemoryLimitPages)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	return rc
}

// can: (ptr, len) -> i32. Whether the caller of the command being decided
// holds a permission: 1 or 0. Folding has no caller (-2).
func (h *Host) can(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	in, ok := read(mod, uint64(api.DecodeU32(stack[0])), uint64(api.DecodeU32(stack[1])))
	var req abi.CanRequest
	if cs == nil || !ok || !cs.readState || req.Decode(in) != nil || req.Action == "" || req.Object == "" {
		stack[0] = api.EncodeI32(int32(abi.HostErrBadRequest))
		return
	}
	if h.cfg.Authorizer == nil {
		stack[0] = api.EncodeI32(1) // no authorizer: every permission is granted
		return
	}
	// The roles the caller holds on the aggregate being decided count, as
	// they do for the command itself.
	var held []string
	if agg := cs.plugin.manifest.Aggregate(cs.resource); agg != nil && len(agg.Roles) > 0 {
		held = heldRoles(agg.Roles, cs.state, cs.caller.UserID)
	}
	allowed, err := h.cfg.Authorizer.Allowed(cs.caller, held, req.Object, req.Action)
	switch {
	case err != nil:
		h.cfg.Logger.Warn("guest permission check failed", "domain", cs.plugin.Domain(), "err", err)
		stack[0] = api.EncodeI32(int32(abi.HostErrUnavailable))
	case allowed:
		stack[0] = api.EncodeI32(1)
	default:
		stack[0] = api.EncodeI32(0)
	}
}

// maxGuestQueryLimit bounds the records one guest query answers.
const maxGuestQueryLimit = 100

// queryList: (ptr, len) -> i64. A query over the read models of the
// guest's own domain, in the tenant of the command being decided.
func (h *Host) queryList(ctx context.Context, mod api.Module, stack []uint64) {
	cs := stateOf(ctx)
	in, ok := read(mod, uint64(api.DecodeU32(stack[0])), uint64(api.DecodeU32(stack[1])))
	var req abi.QueryRequest
	if cs == nil || !ok || req.Decode(in) != nil || !cs.readState {
		stack[0] = api.EncodeI64(int64(abi.HostErrBadRequest))
		return
	}
	answer := func(res *abi.QueryResult) {
		var e abi.Encoder
		res.Encode(&e)
		cs.pending = e.Bytes()
		stack[0] = uint64(len(cs.pending))
	}
	sq, ok := h.cfg.Store.(store.StateQuerier)
	res := cs.plugin.manifest.queries[req.Resource]
	if !ok || res == nil {
		answer(&abi.QueryResult{Error: fmt.Sprintf("domain %s has no resource %q to query", cs.plugin.Domain(), req.Resource)})
		return
	}
	if req.Limit > maxGuestQueryLimit {
		answer(&abi.QueryResult{Error: fmt.Sprintf("limit %d: at most %d records a query", req.Limit, maxGuestQueryLimit)})
		return
	}
	limit := ""
	if req.Limit > 0 {
		limit = strconv.FormatUint(req.Limit, 10)
	}
	plan, err := res.Parse(query.Request{Query: req.Filter, Sort: req.Sort, Limit: limit, Text: req.Text})
	if err != nil {
		answer(&abi.QueryResult{Error: err.Error()})
		return
	}
	plan.Query.Tenant = cs.tenant
	qctx, cancel := context.WithTimeout(ctx, h.cfg.GuestTimeout)
	defer cancel()
	out, err := sq.StateQuery(qctx, &plan.Query)
	if err != nil {
		h.cfg.Logger.Warn("guest query failed", "domain", cs.plugin.Domain(), "err", err)
		stack[0] = api.EncodeI64(int64(abi.HostErrUnavailable))
		return
	}
	result := abi.QueryResult{Total: out.Total, Records: make([]abi.StateRecord, len(out.Records))}
	for i, r := range out.Records {
		result.Records[i] = abi.StateRecord{Data: r.Data, Version: r.Version, ETag: r.ETag, Tenant: r.Tenant, ID: r.ID}
	}
	answer(&result)
}
