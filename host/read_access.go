package host

import (
	"context"
	"errors"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// ReadAccess is what a read decision rests on, so that a reader deciding
// for many events of one resource (a live stream) can keep it for a while
// instead of asking again for each.
type ReadAccess struct {
	// ByRoles: the decision rests on the roles the caller holds on this one
	// aggregate, as its state at StateVersion names them (0: it has no
	// state), so it holds for the aggregate's events up to that version
	// only. Otherwise it rests on the caller's grants (or their absence) on
	// the resource and holds for every aggregate of it.
	ByRoles      bool
	StateVersion int64
}

// AuthorizeRead says whether caller may read an aggregate, by the rules
// State and Events apply: the domain serves the resource (404), the
// aggregate's auth_required (401), its read_policy granted to the caller in
// its tenant or through a role the caller holds on the aggregate (403).
// The aggregate need not exist. The error is the refusal those reads
// answer, or a failure to decide.
func (h *Host) AuthorizeRead(ctx context.Context, caller abi.Caller, domain, resource, id string) (ReadAccess, error) {
	p := h.Plugin(domain)
	if p == nil {
		return ReadAccess{}, errorf(KindNotFound, "unknown-domain", "no domain %q is loaded", domain)
	}
	agg := p.manifest.Aggregate(resource)
	if agg == nil {
		return ReadAccess{}, errorf(KindNotFound, "unknown-resource", "domain %s has no resource %q", domain, resource)
	}
	refused := h.authorize(caller, agg.AuthRequired, agg.ReadPolicy, actionRead, nil)
	if refused == nil || !isForbidden(refused) || len(agg.Roles) == 0 || caller.UserID == "" {
		return ReadAccess{}, refused
	}
	rec, err := h.cfg.Store.Executor().StateGet(ctx, &store.StateKey{Tenant: caller.Tenant, Domain: domain, Resource: resource, ID: id})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return ReadAccess{}, err
	}
	access := ReadAccess{ByRoles: true}
	if rec != nil {
		access.StateVersion = rec.Version
	}
	return access, h.authorizeHolder(caller, agg.Roles, rec, agg.ReadPolicy, actionRead, refused)
}

// AuthorizeReadResource says, before any aggregate is named, whether caller
// may read some aggregates of a resource (resource "": of a domain): nil
// when its grants let it read them all, or when it may hold a role on some
// that a policy grants read on; else the refusal every one of them would
// answer.
func (h *Host) AuthorizeReadResource(caller abi.Caller, domain, resource string) error {
	p := h.Plugin(domain)
	if p == nil {
		return errorf(KindNotFound, "unknown-domain", "no domain %q is loaded", domain)
	}
	if resource == "" {
		return nil
	}
	agg := p.manifest.Aggregate(resource)
	if agg == nil {
		return errorf(KindNotFound, "unknown-resource", "domain %s has no resource %q", domain, resource)
	}
	_, err := h.rowScope(caller, agg)
	return err
}
