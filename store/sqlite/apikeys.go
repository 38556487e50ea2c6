package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

var _ store.APIKeyStore = (*Driver)(nil)

const apiKeyColumns = `id, name, tenant, roles, hash, created_at, created_by, revoked_at`

// APIKeyCreate implements store.APIKeyStore.
func (d *Driver) APIKeyCreate(ctx context.Context, k *store.APIKey) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	roles, err := json.Marshal(nonNil(k.Roles))
	if err != nil {
		return err
	}
	_, err = d.writer.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
		k.ID, k.Name, k.Tenant, string(roles), k.Hash, nanos(k.CreatedAt), k.CreatedBy)
	if err != nil {
		return fmt.Errorf("creating API key %s: %w", k.ID, translate(err))
	}
	return nil
}

func scanAPIKey(scan func(...any) error) (*store.APIKey, error) {
	k := &store.APIKey{}
	var roles string
	var created int64
	var revoked sql.NullInt64
	if err := scan(&k.ID, &k.Name, &k.Tenant, &roles, &k.Hash, &created, &k.CreatedBy, &revoked); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &k.Roles); err != nil {
		return nil, fmt.Errorf("API key %s: roles: %w", k.ID, err)
	}
	k.CreatedAt = fromNanos(created)
	if revoked.Valid {
		t := fromNanos(revoked.Int64)
		k.RevokedAt = &t
	}
	return k, nil
}

// APIKeyGet implements store.APIKeyStore.
func (d *Driver) APIKeyGet(ctx context.Context, id string) (*store.APIKey, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	k, err := scanAPIKey(d.reader.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading API key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading API key %s: %w", id, translate(err))
	}
	return k, nil
}

// APIKeyList implements store.APIKeyStore.
func (d *Driver) APIKeyList(ctx context.Context) ([]*store.APIKey, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing API keys: %w", translate(err))
	}
	defer rows.Close()
	var out []*store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// APIKeyRevoke implements store.APIKeyStore.
func (d *Driver) APIKeyRevoke(ctx context.Context, id string, at time.Time) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	res, err := d.writer.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoking API key %s: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoking API key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
