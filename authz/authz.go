package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Actions the host checks.
const (
	ActionRun  = "run"  // a command
	ActionRead = "read" // a state or event read
)

// modelText is RBAC with tenants: a subject matches a rule as itself or by
// a role it holds in the request's tenant; "*" as a rule's tenant or action
// matches any.
const modelText = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (r.sub == p.sub || g(r.sub, p.sub, r.dom)) && (p.dom == "*" || r.dom == p.dom) && keyMatch(r.obj, p.obj) && (p.act == "*" || r.act == p.act)
`

// PollInterval is how often a host checks the store for policy changes.
const PollInterval = 500 * time.Millisecond

// Authorizer answers permission questions against the rules in the store.
type Authorizer struct {
	store   store.PolicyStore
	log     *slog.Logger
	rules   atomic.Pointer[partition] // replaced whole on reload
	mu      sync.Mutex                // serialises reloads
	version int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New loads the rules and starts watching the store for changes.
func New(ctx context.Context, s store.PolicyStore, log *slog.Logger) (*Authorizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Authorizer{store: s, log: log, stop: make(chan struct{})}
	if err := a.reload(ctx); err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go a.watch()
	return a, nil
}

// Close stops watching the store.
func (a *Authorizer) Close() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.wg.Wait()
}

func (a *Authorizer) watch() {
	defer a.wg.Done()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			v, err := a.store.PolicyVersion(ctx)
			if err == nil && v != a.loadedVersion() {
				err = a.reload(ctx)
			}
			cancel()
			if err != nil && !errors.Is(err, store.ErrClosed) {
				a.log.Warn("authz: reloading policies failed; the last ones stay in force", "err", err)
			}
		}
	}
}

func (a *Authorizer) loadedVersion() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version
}

// reload replaces the enforcer's rules with the store's. The version is
// read first: a change that lands during the read is picked up next time.
func (a *Authorizer) reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, err := a.store.PolicyVersion(ctx)
	if err != nil {
		return err
	}
	rules, err := a.store.PolicyList(ctx)
	if err != nil {
		return err
	}
	// Casbin scans every rule on a check it has not cached (1.4-7 ms at
	// 10,000 rules), so the rules are split by tenant: each tenant's
	// enforcer holds its own rules and those for every tenant ("*").
	byTenant := map[string][]store.PolicyRule{}
	var everywhere []store.PolicyRule
	for _, r := range rules {
		switch {
		case r.Type == "p" && len(r.Values) == 4:
			if r.Values[1] == "*" {
				everywhere = append(everywhere, r)
			} else {
				byTenant[r.Values[1]] = append(byTenant[r.Values[1]], r)
			}
		case r.Type == "g" && len(r.Values) == 3:
			byTenant[r.Values[2]] = append(byTenant[r.Values[2]], r)
		default:
			a.log.Warn("authz: ignoring a malformed rule", "type", r.Type, "values", r.Values)
		}
	}
	// New enforcers are built and swapped in whole: concurrent checks see
	// the old rules or the new, never half, and never wait for a reload.
	part := &partition{tenants: make(map[string]*casbin.SyncedCachedEnforcer, len(byTenant))}
	if part.shared, err = enforcer(everywhere); err != nil {
		return err
	}
	for tenant, rs := range byTenant {
		if part.tenants[tenant], err = enforcer(append(rs, everywhere...)); err != nil {
			return err
		}
	}
	a.rules.Store(part)
	a.version = v
	return nil
}

// partition is the rules as enforcers: one per tenant with rules of its
// own, and one with the rules for every tenant alone.
type partition struct {
	tenants map[string]*casbin.SyncedCachedEnforcer
	shared  *casbin.SyncedCachedEnforcer
}

func (p *partition) of(tenant string) *casbin.SyncedCachedEnforcer {
	if e, ok := p.tenants[tenant]; ok {
		return e
	}
	return p.shared
}

func enforcer(rules []store.PolicyRule) (*casbin.SyncedCachedEnforcer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if err := m.AddPolicy(r.Type, r.Type, r.Values); err != nil {
			return nil, err
		}
	}
	e, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		return nil, err
	}
	return e, e.BuildRoleLinks()
}

// Allowed reports whether caller may do action on object in its tenant:
// granted to the user, to a role the user holds there, to a role its
// credentials carry, or to a role it holds on the aggregate addressed
// (held: "owner" asks for the rules of subject "aggregate:owner").
func (a *Authorizer) Allowed(caller abi.Caller, held []string, object, action string) (bool, error) {
	enf := a.rules.Load().of(caller.Tenant)
	// The roles the credentials carry first: their results are cached per
	// role, shared by every user holding it; the user's own check (direct
	// grants, roles given by "g" rules) is cached per user.
	for _, r := range caller.Roles {
		ok, err := enf.Enforce(RoleSubject(r), caller.Tenant, object, action)
		if ok || err != nil {
			return ok, err
		}
	}
	if caller.UserID != "" {
		if ok, err := enf.Enforce(caller.UserID, caller.Tenant, object, action); ok || err != nil {
			return ok, err
		}
	}
	for _, r := range held {
		ok, err := enf.Enforce(AggregateRoleSubject(r), caller.Tenant, object, action)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// RoleSubject is the policy subject of a role held in a tenant.
func RoleSubject(role string) string { return "role:" + role }

// AggregateRoleSubject is the policy subject of a role held on one
// aggregate (an aggregate's manifest says which of its state's properties
// names the holders).
func AggregateRoleSubject(role string) string { return "aggregate:" + role }

// Rules returns every rule.
func (a *Authorizer) Rules(ctx context.Context) ([]store.PolicyRule, error) {
	return a.store.PolicyList(ctx)
}

// Add stores a rule and enforces it on this host at once (other hosts
// within PollInterval).
func (a *Authorizer) Add(ctx context.Context, r store.PolicyRule) error {
	if err := check(r); err != nil {
		return err
	}
	if err := a.store.PolicyAdd(ctx, r); err != nil {
		return err
	}
	return a.reload(ctx)
}

// Remove deletes a rule, on this host at once.
func (a *Authorizer) Remove(ctx context.Context, r store.PolicyRule) error {
	if err := a.store.PolicyRemove(ctx, r); err != nil {
		return err
	}
	return a.reload(ctx)
}

// ErrBadRule is wrapped by the error for a rule of the wrong shape.
var ErrBadRule = errors.New("bad policy rule")

func check(r store.PolicyRule) error {
	switch {
	case r.Type == "p" && len(r.Values) == 4:
	case r.Type == "g" && len(r.Values) == 3:
	default:
		return fmt.Errorf(`%w: "p" takes subject, tenant, object, action; "g" takes user, role, tenant`, ErrBadRule)
	}
	for _, v := range r.Values {
		if v == "" || len(v) > 200 {
			return fmt.Errorf("%w: every value is 1 to 200 bytes", ErrBadRule)
		}
	}
	return nil
}
