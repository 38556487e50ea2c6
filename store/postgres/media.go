package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
)

var _ store.MediaStore = (*Driver)(nil)

// A media reusing another's blob locks that media's row (FOR UPDATE), and
// a deletion locks the rows sharing its blob: a reuse racing the deletion
// of its blob's last other user either sees that user gone (ErrNotFound,
// and keeps its own blob) or makes the deletion see it (the blob stays).

const mediaColumns = `id, tenant, owner, name, size, content_type, sha256, blob_key, created_at`

func scanMedia(row pgx.Row) (*store.Media, error) {
	var m store.Media
	if err := row.Scan(&m.ID, &m.Tenant, &m.Owner, &m.Name, &m.Size, &m.ContentType, &m.SHA256, &m.BlobKey, &m.CreatedAt); err != nil {
		return nil, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// MediaAdd implements store.MediaStore.
func (d *Driver) MediaAdd(ctx context.Context, m *store.Media, reuseBlobOf string) error {
	return d.pluginTx(ctx, "recording media "+m.ID, func(tx pgx.Tx) error {
		if reuseBlobOf != "" {
			err := tx.QueryRow(ctx, `SELECT blob_key FROM media WHERE tenant = $1 AND id = $2 FOR UPDATE`, m.Tenant, reuseBlobOf).Scan(&m.BlobKey)
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO media (`+mediaColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			m.ID, m.Tenant, m.Owner, m.Name, m.Size, m.ContentType, m.SHA256, m.BlobKey, m.CreatedAt)
		return err
	})
}

// MediaGet implements store.MediaStore.
func (d *Driver) MediaGet(ctx context.Context, tenant, id string) (*store.Media, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	m, err := scanMedia(d.pool.QueryRow(ctx, `SELECT `+mediaColumns+` FROM media WHERE tenant = $1 AND id = $2`, tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading media %s: %w", id, translate(err))
	}
	return m, nil
}

// MediaBySHA256 implements store.MediaStore.
func (d *Driver) MediaBySHA256(ctx context.Context, tenant, sum string) (*store.Media, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	m, err := scanMedia(d.pool.QueryRow(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE tenant = $1 AND sha256 = $2 ORDER BY created_at, id LIMIT 1`, tenant, sum))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("finding media by content: %w", translate(err))
	}
	return m, nil
}

// MediaDelete implements store.MediaStore.
func (d *Driver) MediaDelete(ctx context.Context, tenant, id string) (string, bool, error) {
	var key string
	var unused bool
	err := d.pluginTx(ctx, "deleting media "+id, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT blob_key FROM media WHERE tenant = $1 AND id = $2 FOR UPDATE`, tenant, id).Scan(&key)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var refs int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM media_refs WHERE media_id = $1`, id).Scan(&refs); err != nil {
			return err
		}
		if refs > 0 {
			return store.ErrInUse
		}
		if _, err := tx.Exec(ctx, `DELETE FROM media WHERE id = $1`, id); err != nil {
			return err
		}
		var others int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM media WHERE blob_key = $1 FOR UPDATE) o`, key).Scan(&others); err != nil {
			return err
		}
		unused = others == 0
		return nil
	})
	return key, unused, err
}

// MediaRefsAdd implements store.MediaStore.
func (d *Driver) MediaRefsAdd(ctx context.Context, tenant string, ids []string, ref store.MediaRef) error {
	return d.pluginTx(ctx, "recording media references", func(tx pgx.Tx) error {
		for _, id := range ids {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM media WHERE tenant = $1 AND id = $2 FOR SHARE)`, tenant, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return store.ErrNotFound
			}
			if _, err := tx.Exec(ctx, `INSERT INTO media_refs (tenant, media_id, domain, resource, aggregate_id, created_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (media_id, domain, resource, aggregate_id) DO NOTHING`,
				tenant, id, ref.Domain, ref.Resource, ref.AggregateID, ref.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// MediaRefs implements store.MediaStore.
func (d *Driver) MediaRefs(ctx context.Context, tenant, id string) ([]store.MediaRef, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.pool.Query(ctx, `SELECT domain, resource, aggregate_id, created_at FROM media_refs
		WHERE tenant = $1 AND media_id = $2 ORDER BY created_at, domain, resource, aggregate_id`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("reading media references: %w", translate(err))
	}
	defer rows.Close()
	var out []store.MediaRef
	for rows.Next() {
		var r store.MediaRef
		if err := rows.Scan(&r.Domain, &r.Resource, &r.AggregateID, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
