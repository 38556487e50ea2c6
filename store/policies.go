package store

import (
	"context"
	"fmt"
)

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

// Row returns the rule as the seven columns drivers store it in: the type,
// then six values, unused ones empty.
func (r PolicyRule) Row() ([]any, error) {
	if r.Type == "" || len(r.Values) > 6 {
		return nil, fmt.Errorf("a policy rule has a type and at most 6 values, not %q %q", r.Type, r.Values)
	}
	row := []any{r.Type, "", "", "", "", "", ""}
	for i, v := range r.Values {
		row[i+1] = v
	}
	return row, nil
}
