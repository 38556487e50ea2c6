package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"fluvius.dev/fluvius/store"
)

var _ store.MediaStore = (*Driver)(nil)

// Writes are transactions on the single writer, so a reuse of a blob and
// the deletion of its last other user never interleave.

const mediaColumns = `id, tenant, owner, name, size, content_type, sha256, blob_key, created_at`

func scanMedia(row interface{ Scan(...any) error }) (*store.Media, error) {
	var m store.Media
	var at int64
	if err := row.Scan(&m.ID, &m.Tenant, &m.Owner, &m.Name, &m.Size, &m.ContentType, &m.SHA256, &m.BlobKey, &at); err != nil {
		return nil, err
	}
	m.CreatedAt = fromNanos(at)
	return &m, nil
}

// MediaAdd implements store.MediaStore.
func (d *Driver) MediaAdd(ctx context.Context, m *store.Media, reuseBlobOf string) error {
	return d.pluginTx(ctx, "recording media "+m.ID, func(tx *sql.Tx) error {
		if reuseBlobOf != "" {
			var key string
			err := tx.QueryRowContext(ctx, `SELECT blob_key FROM media WHERE tenant = ? AND id = ?`, m.Tenant, reuseBlobOf).Scan(&key)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			m.BlobKey = key
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO media (`+mediaColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Tenant, m.Owner, m.Name, m.Size, m.ContentType, m.SHA256, m.BlobKey, nanos(m.CreatedAt))
		return err
	})
}

// MediaGet implements store.MediaStore.
func (d *Driver) MediaGet(ctx context.Context, tenant, id string) (*store.Media, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	m, err := scanMedia(d.reader.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE tenant = ? AND id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	m, err := scanMedia(d.reader.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media
		WHERE tenant = ? AND sha256 = ? ORDER BY created_at, id LIMIT 1`, tenant, sum))
	if errors.Is(err, sql.ErrNoRows) {
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
	err := d.pluginTx(ctx, "deleting media "+id, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT blob_key FROM media WHERE tenant = ? AND id = ?`, tenant, id).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var refs int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM media_refs WHERE media_id = ?`, id).Scan(&refs); err != nil {
			return err
		}
		if refs > 0 {
			return store.ErrInUse
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM media WHERE id = ?`, id); err != nil {
			return err
		}
		var others int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM media WHERE blob_key = ?`, key).Scan(&others); err != nil {
			return err
		}
		unused = others == 0
		return nil
	})
	return key, unused, err
}

// MediaRefsAdd implements store.MediaStore.
func (d *Driver) MediaRefsAdd(ctx context.Context, tenant string, ids []string, ref store.MediaRef) error {
	return d.pluginTx(ctx, "recording media references", func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `INSERT INTO media_refs (tenant, media_id, domain, resource, aggregate_id, created_at)
				SELECT tenant, id, ?, ?, ?, ? FROM media WHERE tenant = ? AND id = ?
				ON CONFLICT (media_id, domain, resource, aggregate_id) DO NOTHING`,
				ref.Domain, ref.Resource, ref.AggregateID, nanos(ref.CreatedAt), tenant, id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var exists int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM media WHERE tenant = ? AND id = ?`, tenant, id).Scan(&exists); err != nil {
					return err
				}
				if exists == 0 {
					return store.ErrNotFound
				}
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
	rows, err := d.reader.QueryContext(ctx, `SELECT domain, resource, aggregate_id, created_at FROM media_refs
		WHERE tenant = ? AND media_id = ? ORDER BY created_at, domain, resource, aggregate_id`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("reading media references: %w", translate(err))
	}
	defer rows.Close()
	var out []store.MediaRef
	for rows.Next() {
		var r store.MediaRef
		var at int64
		if err := rows.Scan(&r.Domain, &r.Resource, &r.AggregateID, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
