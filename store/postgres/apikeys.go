package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
)

var _ store.APIKeyStore = (*Driver)(nil)

const apiKeyColumns = `id, name, tenant, roles, hash, created_at, created_by, revoked_at`

// APIKeyCreate implements store.APIKeyStore.
func (d *Driver) APIKeyCreate(ctx context.Context, k *store.APIKey) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	roles := k.Roles
	if roles == nil {
		roles = []string{}
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
		k.ID, k.Name, k.Tenant, roles, k.Hash, timeOr(k.CreatedAt), k.CreatedBy)
	if err != nil {
		return fmt.Errorf("creating API key %s: %w", k.ID, translate(err))
	}
	return nil
}

func scanAPIKey(row pgx.Row) (*store.APIKey, error) {
	k := &store.APIKey{}
	if err := row.Scan(&k.ID, &k.Name, &k.Tenant, &k.Roles, &k.Hash, &k.CreatedAt, &k.CreatedBy, &k.RevokedAt); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k, nil
}

// APIKeyGet implements store.APIKeyStore.
func (d *Driver) APIKeyGet(ctx context.Context, id string) (*store.APIKey, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	k, err := scanAPIKey(d.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := d.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing API keys: %w", translate(err))
	}
	defer rows.Close()
	var out []*store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
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
	tag, err := d.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, at, id)
	if err != nil {
		return fmt.Errorf("revoking API key %s: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoking API key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
