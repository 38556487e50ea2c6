package sqlite

import (
	"context"
	"fmt"
	"strings"

	"fluvius.dev/fluvius/store"
)

var _ store.PolicyStore = (*Driver)(nil)

const policyWhere = `ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?`

// PolicyList implements store.PolicyStore.
func (d *Driver) PolicyList(ctx context.Context) ([]store.PolicyRule, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT ptype, v0, v1, v2, v3, v4, v5 FROM policies ORDER BY ptype, v0, v1, v2, v3, v4, v5`)
	if err != nil {
		return nil, fmt.Errorf("listing policies: %w", translate(err))
	}
	defer rows.Close()
	var out []store.PolicyRule
	for rows.Next() {
		var t string
		v := make([]string, 6)
		if err := rows.Scan(&t, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			return nil, err
		}
		out = append(out, store.PolicyRule{Type: t, Values: trimEmpty(v)})
	}
	return out, rows.Err()
}

func trimEmpty(v []string) []string {
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return v
}

// PolicyAdd implements store.PolicyStore.
func (d *Driver) PolicyAdd(ctx context.Context, r store.PolicyRule) error {
	return d.policyChange(ctx, r, `INSERT INTO policies (ptype, v0, v1, v2, v3, v4, v5) VALUES (?, ?, ?, ?, ?, ?, ?)`)
}

// PolicyRemove implements store.PolicyStore.
func (d *Driver) PolicyRemove(ctx context.Context, r store.PolicyRule) error {
	return d.policyChange(ctx, r, `DELETE FROM policies WHERE `+policyWhere)
}

func (d *Driver) policyChange(ctx context.Context, r store.PolicyRule, query string) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	args, err := r.Row()
	if err != nil {
		return err
	}
	what := "changing policy " + r.Type + ", " + strings.Join(r.Values, ", ")
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE policy_version SET version = version + 1`); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	return translate(tx.Commit())
}

// PolicyVersion implements store.PolicyStore.
func (d *Driver) PolicyVersion(ctx context.Context) (int64, error) {
	if d.closed.Load() {
		return 0, store.ErrClosed
	}
	var v int64
	if err := d.reader.QueryRowContext(ctx, `SELECT version FROM policy_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the policy version: %w", translate(err))
	}
	return v, nil
}
