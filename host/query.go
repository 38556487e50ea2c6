package host

import (
	"context"
	"errors"
	"fmt"

	"fluvius.dev/fluvius/abi"
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

// State returns an aggregate's current state record.
func (h *Host) State(ctx context.Context, caller abi.Caller, domain, resource, id string) (*store.StateRecord, error) {
	if _, err := h.checkResource(ctx, caller, domain, resource, id); err != nil {
		return nil, err
	}
	rec, err := h.cfg.Store.Executor().StateGet(ctx, &store.StateKey{Tenant: caller.Tenant, Domain: domain, Resource: resource, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(KindNotFound, "aggregate-not-found", "%s %s does not exist", resource, id)
	}
	return rec, err
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
		return rec.Data, nil
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
	return res.State, nil
}
