package store

import "context"

// PolicyRule is one authorization rule as Casbin writes it: a type ("p" for
// a permission, "g" for a role assignment) and its values.
type PolicyRule struct {
	Type   string
	Values []string // at most 6
}

// PolicyStore keeps authorization rules shared by every host. Each change
// bumps a version that hosts poll to reload (DO NOT IMPLEMENT outside this
// repository; it may grow).
type PolicyStore interface {
	// PolicyList returns every rule.
	PolicyList(ctx context.Context) ([]PolicyRule, error)
	// PolicyAdd adds a rule; ErrDuplicate if it is there already.
	PolicyAdd(ctx context.Context, r PolicyRule) error
	// PolicyRemove removes a rule; ErrNotFound if it is not there.
	PolicyRemove(ctx context.Context, r PolicyRule) error
	// PolicyVersion changes whenever the rules change.
	PolicyVersion(ctx context.Context) (int64, error)
}
