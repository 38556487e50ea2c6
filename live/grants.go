package live

import (
	"context"
	"time"

	"fluvius.dev/fluvius/abi"
)

// Access decides whether a caller may read an aggregate, and so its
// events. An error is a failure to decide (the subscription ends with it),
// never a refusal: a refusal is a Grant that does not allow.
type Access func(ctx context.Context, caller abi.Caller, domain, resource, id string) (Grant, error)

// Grant is a read decision and what it rests on.
type Grant struct {
	Allowed bool
	// ByRoles: the decision rests on the roles the caller holds in the
	// aggregate's state at Version, and holds for the aggregate's events up
	// to that version only (roles change with the state). Otherwise it
	// holds for every aggregate of the resource.
	ByRoles bool
	Version int64
}

// grants are a subscriber's read decisions, each kept for a while: a busy
// stream asks once a second per resource, or per aggregate and new state
// for decisions resting on roles, rather than once per event.
type grants struct {
	ttl        time.Duration
	resources  map[resourceKey]grant
	aggregates map[string]grant // by stream
}

type resourceKey struct{ domain, resource string }

type grant struct {
	allowed bool
	version int64
	until   time.Time
}

// maxAggregateGrants bounds the decisions a subscriber keeps per aggregate
// (a resource's stream may span many aggregates): past it they are
// forgotten all at once.
const maxAggregateGrants = 1024

func newGrants(ttl time.Duration) grants {
	return grants{ttl: ttl, resources: map[resourceKey]grant{}, aggregates: map[string]grant{}}
}

// allowed says whether the subscriber may read ev, from a decision kept or
// a new one.
func (s *Subscription) allowed(ev *Event) (bool, error) {
	if s.hub.access == nil {
		return true, nil
	}
	now := time.Now()
	key := resourceKey{ev.Domain, ev.Resource}
	if g, ok := s.grants.resources[key]; ok && now.Before(g.until) {
		return g.allowed, nil
	}
	if g, ok := s.grants.aggregates[ev.Stream]; ok && now.Before(g.until) && ev.Version <= g.version {
		return g.allowed, nil
	}
	d, err := s.hub.access(s.ctx, s.caller, ev.Domain, ev.Resource, ev.AggregateID)
	if err != nil {
		return false, err
	}
	g := grant{allowed: d.Allowed, version: d.Version, until: now.Add(s.grants.ttl)}
	if !d.ByRoles {
		s.grants.resources[key] = g
		return d.Allowed, nil
	}
	if len(s.grants.aggregates) >= maxAggregateGrants {
		clear(s.grants.aggregates)
	}
	s.grants.aggregates[ev.Stream] = g
	return d.Allowed, nil
}
