package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
)

// checkResource says whether a domain serves a resource and the caller may
// read aggregate id of it (the aggregate's AuthRequired and ReadPolicy, and
// the roles the caller holds on that aggregate).
func (h *Host) checkResource(ctx context.Context, caller abi.Caller, domain, resource, id string) (*Plugin, error) {
	p := h.Plugin(domain)
	if p == nil {
		return nil, errorf(KindNotFound, "unknown-domain", "no domain %q is loaded", domain)
	}
	agg := p.manifest.Aggregate(resource)
	if agg == nil {
		return nil, errorf(KindNotFound, "unknown-resource", "domain %s has no resource %q", domain, resource)
	}
	err := h.authorize(caller, agg.AuthRequired, agg.ReadPolicy, actionRead, nil)
	if err == nil || !isForbidden(err) || len(agg.Roles) == 0 || caller.UserID == "" {
		return p, err
	}
	// The caller may hold a role on this aggregate: its state says.
	rec, gerr := h.cfg.Store.Executor().StateGet(ctx, &store.StateKey{Tenant: caller.Tenant, Domain: domain, Resource: resource, ID: id})
	if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
		return nil, gerr
	}
	if err := h.authorizeHolder(caller, agg.Roles, rec, agg.ReadPolicy, actionRead, err); err != nil {
		return nil, err
	}
	return p, nil
}

// Reads are made for a caller and see only the caller's tenant: an
// aggregate of another tenant is not found, exactly as one that does not
// exist.

// State returns an aggregate's current state record (from the read
// replica, when there is one).
func (h *Host) State(ctx context.Context, caller abi.Caller, domain, resource, id string) (*store.StateRecord, error) {
	return h.StateAtLeast(ctx, caller, domain, resource, id, 0)
}

// StateAtLeast is State for a client that has seen the aggregate at
// minVersion (its own write's answer, say): read-your-writes. A replica
// behind that version is waited for (up to Config.ReplicaWait), then the
// primary is read; without a replica the primary always is.
func (h *Host) StateAtLeast(ctx context.Context, caller abi.Caller, domain, resource, id string, minVersion int64) (*store.StateRecord, error) {
	p, err := h.checkResource(ctx, caller, domain, resource, id)
	if err != nil {
		return nil, err
	}
	key := &store.StateKey{Tenant: caller.Tenant, Domain: domain, Resource: resource, ID: id}
	rec, err := h.readState(ctx, key, minVersion)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(KindNotFound, "aggregate-not-found", "%s %s does not exist", resource, id)
	}
	if err != nil {
		return nil, err
	}
	// Hidden properties are never answered.
	if rec.Data, err = p.manifest.queries[resource].Project(rec.Data); err != nil {
		return nil, err
	}
	return rec, nil
}

// Events returns an aggregate's events after a version, oldest first: at
// most limit of them, and no more once their data reaches maxBytes (0: no
// byte bound; the first event comes whatever its size).
func (h *Host) Events(ctx context.Context, caller abi.Caller, domain, resource, id string, after int64, limit, maxBytes int) ([]*store.Event, error) {
	if _, err := h.checkResource(ctx, caller, domain, resource, id); err != nil {
		return nil, err
	}
	evs, err := h.cfg.Store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey:    store.StreamKey{Tenant: caller.Tenant, Stream: Stream(domain, resource, id)},
		AfterVersion: after, Limit: limit, MaxBytes: maxBytes})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 && after == 0 {
		return nil, errorf(KindNotFound, "aggregate-not-found", "%s %s has no events", resource, id)
	}
	return evs, nil
}

// StateAt rebuilds an aggregate's state as it was at a version by replaying
// its events through the active plugin's appliers: time travel, and a check
// that the stored state is what the events say. The current version is
// served from the state record without a replay. A replay is bounded by
// MaxReplayEvents and MaxReplayBytes: a longer one is refused before any
// guest sees it, whatever the stream holds.
func (h *Host) StateAt(ctx context.Context, caller abi.Caller, domain, resource, id string, version int64) ([]byte, error) {
	p, err := h.checkResource(ctx, caller, domain, resource, id)
	if err != nil {
		return nil, err
	}
	rec, err := h.cfg.Store.Executor().StateGet(ctx, &store.StateKey{Tenant: caller.Tenant, Domain: domain, Resource: resource, ID: id})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if rec != nil && rec.Version == version {
		return p.manifest.queries[resource].Project(rec.Data)
	}
	if rec != nil && version > rec.Version {
		return nil, errorf(KindNotFound, "version-not-found", "%s %s has no version %d (it is at %d)",
			resource, id, version, rec.Version)
	}
	tooLarge := errorf(KindTooLarge, "replay-too-large",
		"replaying %s %s to version %d would take more than %d events or %d bytes of event data, the bounds of one read",
		resource, id, version, h.cfg.MaxReplayEvents, h.cfg.MaxReplayBytes)
	target := version
	if target == 0 && rec != nil {
		target = rec.Version
	}
	if target > int64(h.cfg.MaxReplayEvents) {
		return nil, tooLarge
	}
	evs, err := h.cfg.Store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
		StreamKey: store.StreamKey{Tenant: caller.Tenant, Stream: Stream(domain, resource, id)}, UpToVersion: version,
		Limit: h.cfg.MaxReplayEvents + 1, MaxBytes: h.cfg.MaxReplayBytes + 1})
	if err != nil {
		return nil, err
	}
	size := 0
	for _, ev := range evs {
		size += len(ev.Data)
	}
	if size > h.cfg.MaxReplayBytes || len(evs) > h.cfg.MaxReplayEvents {
		return nil, tooLarge
	}
	if len(evs) == 0 {
		return nil, errorf(KindNotFound, "aggregate-not-found", "%s %s has no events", resource, id)
	}
	if version > 0 && evs[len(evs)-1].Version < version {
		return nil, errorf(KindNotFound, "version-not-found", "%s %s has no version %d (it is at %d)",
			resource, id, version, evs[len(evs)-1].Version)
	}
	req := abi.ApplyRequest{Resource: resource, AggregateID: id, Events: make([]abi.Event, len(evs))}
	for i, ev := range evs {
		req.Events[i] = abi.Event{Type: ev.Type, Data: ev.Data, Version: ev.Version, Time: ev.CreatedAt.UnixNano()}
	}
	res, err := p.Apply(ctx, &req)
	if err != nil {
		return nil, h.guestFailure(p, "apply", caller, err)
	}
	if res.Status != abi.StatusOK {
		return nil, h.guestFailure(p, "apply", caller, fmt.Errorf("%s: %s", res.Error.Code, res.Error.Message))
	}
	return p.manifest.queries[resource].Project(res.State)
}

// ListResult is one page of a list.
type ListResult struct {
	Records []*store.StateRecord // data projected as the request asked
	Total   int64
	Limit   int
	Offset  int
	Page    int    // 0 when the page continued a cursor
	Next    string // the cursor of the following page; "" on the last
	Include map[string]bool
}

// List lists a resource's states for a caller: those of its tenant it may
// read (all of them with the read permission, or those it holds a granted
// role on), filtered, sorted and paged as the request says.
func (h *Host) List(ctx context.Context, caller abi.Caller, domain, resource string, req query.Request) (*ListResult, error) {
	p := h.Plugin(domain)
	if p == nil {
		return nil, errorf(KindNotFound, "unknown-domain", "no domain %q is loaded", domain)
	}
	agg := p.manifest.Aggregate(resource)
	if agg == nil {
		return nil, errorf(KindNotFound, "unknown-resource", "domain %s has no resource %q", domain, resource)
	}
	sq, ok := h.reader().(store.StateQuerier)
	if !ok {
		return nil, errorf(KindInternal, "lists-unsupported", "this host's store lists no states")
	}
	plan, err := p.manifest.queries[resource].Parse(req)
	var qe *query.Error
	if errors.As(err, &qe) {
		return nil, &Error{Kind: KindInvalid, Code: "invalid-query", Message: qe.Error(), Details: qe}
	}
	if err != nil {
		return nil, err
	}
	scope, err := h.rowScope(caller, agg)
	if err != nil {
		return nil, err
	}
	q := &plan.Query
	q.Tenant = caller.Tenant
	if scope != nil {
		if q.Where == nil {
			q.Where = scope
		} else {
			q.Where = store.And{scope, q.Where}
		}
	}
	res, err := sq.StateQuery(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &ListResult{Records: res.Records, Total: res.Total, Limit: q.Limit, Offset: q.Offset, Page: plan.Page, Include: plan.Include}
	for _, r := range res.Records {
		if r.Data, err = plan.Project(r.Data); err != nil {
			return nil, fmt.Errorf("projecting %s %s: %w", resource, r.ID, err)
		}
	}
	if len(res.Records) == q.Limit {
		out.Next = plan.Cursor(res.Keys[len(res.Keys)-1])
	}
	return out, nil
}

// rowScope is the filter that keeps a list to what the caller may read:
// nothing more with the read permission (or none declared); else the
// records whose state names the caller in a role a policy grants read on;
// a 403 when no role would.
func (h *Host) rowScope(caller abi.Caller, agg *abi.AggregateSpec) (store.Node, error) {
	err := h.authorize(caller, agg.AuthRequired, agg.ReadPolicy, actionRead, nil)
	if err == nil || !isForbidden(err) || len(agg.Roles) == 0 || caller.UserID == "" {
		return nil, err
	}
	roles := make([]string, 0, len(agg.Roles))
	for role := range agg.Roles {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	var scope store.Or
	for _, role := range roles {
		ok, aerr := h.cfg.Authorizer.Allowed(caller, []string{role}, agg.ReadPolicy, actionRead)
		if aerr != nil {
			return nil, fmt.Errorf("checking permission read on %s: %w", agg.ReadPolicy, aerr)
		}
		if !ok {
			continue
		}
		prop := agg.Roles[role]
		// The property holds one user id or a list of them: a record
		// matches either way (each comparison is typed, so the other is
		// simply false).
		scope = append(scope,
			store.Cond{Field: store.Field{Name: prop, Type: store.TypeString}, Op: store.OpEq, Value: caller.UserID},
			store.Cond{Field: store.Field{Name: prop, Type: store.TypeStrings}, Op: store.OpContains, Value: []any{caller.UserID}})
	}
	if len(scope) == 0 {
		return nil, err
	}
	return scope, nil
}

// StateAtTime is time travel by time: the aggregate's state as it was at a
// moment, from its events up to then replayed through the active plugin's
// appliers, and the version that state had. An aggregate with no event by
// then did not exist yet (404).
func (h *Host) StateAtTime(ctx context.Context, caller abi.Caller, domain, resource, id string, at time.Time) ([]byte, int64, error) {
	if _, err := h.checkResource(ctx, caller, domain, resource, id); err != nil {
		return nil, 0, err
	}
	// Versions grow with time: the version at a moment is that of the last
	// event written by then. Pages of event headers are read until one
	// passes the moment; the replay's own bounds apply after.
	var version int64
	for after := int64(0); ; {
		evs, err := h.cfg.Store.Executor().EventsReadStream(ctx, &store.EventsReadStreamParams{
			StreamKey:    store.StreamKey{Tenant: caller.Tenant, Stream: Stream(domain, resource, id)},
			AfterVersion: after, Limit: 1000, MaxBytes: 1 << 20})
		if err != nil {
			return nil, 0, err
		}
		for _, ev := range evs {
			if ev.CreatedAt.After(at) {
				goto found
			}
			version = ev.Version
		}
		if len(evs) == 0 {
			break
		}
		after = evs[len(evs)-1].Version
	}
found:
	if version == 0 {
		return nil, 0, errorf(KindNotFound, "aggregate-not-found", "%s %s did not exist at %s", resource, id, at.UTC().Format(time.RFC3339Nano))
	}
	data, err := h.StateAt(ctx, caller, domain, resource, id, version)
	return data, version, err
}

// reader is the store clients' reads are served from: the replica, if any.
func (h *Host) reader() store.Driver {
	if h.cfg.Replica != nil {
		return h.cfg.Replica
	}
	return h.cfg.Store
}

// readState reads a state from the replica, waiting for it to reach
// minVersion (polling: a replica replays the primary's WAL within
// milliseconds when it keeps up), and reads the primary once the wait is
// over. A replica that fails is not fatal either: the primary answers.
func (h *Host) readState(ctx context.Context, key *store.StateKey, minVersion int64) (*store.StateRecord, error) {
	if h.cfg.Replica == nil {
		return h.cfg.Store.Executor().StateGet(ctx, key)
	}
	fresh := func(rec *store.StateRecord, err error) bool {
		if err != nil {
			return errors.Is(err, store.ErrNotFound) && minVersion <= 0
		}
		return rec.Version >= minVersion
	}
	rec, err := h.cfg.Replica.Executor().StateGet(ctx, key)
	if fresh(rec, err) {
		return rec, err
	}
	if minVersion > 0 && (err == nil || errors.Is(err, store.ErrNotFound)) {
		deadline := time.Now().Add(h.cfg.ReplicaWait)
		for wait := time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 50*time.Millisecond) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			if rec, err = h.cfg.Replica.Executor().StateGet(ctx, key); fresh(rec, err) {
				return rec, err
			}
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.cfg.Logger.Warn("the read replica failed a read; reading the primary", "err", err)
	}
	return h.cfg.Store.Executor().StateGet(ctx, key)
}
