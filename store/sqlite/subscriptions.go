package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

var _ store.SubscriptionStore = (*Driver)(nil)

const subscriptionColumns = `name, tx_id, position, owner, lease_until, delivered, created_at, updated_at`

func scanSubscription(row interface{ Scan(...any) error }, extra ...any) (*store.Subscription, error) {
	var s store.Subscription
	var tx, until, created, updated int64
	dest := append([]any{&s.Name, &tx, &s.Cursor.Position, &s.Owner, &until, &s.Delivered, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	s.Cursor.TxID = uint64(tx)
	if until > 0 {
		s.LeaseUntil = fromNanos(until)
	}
	s.CreatedAt, s.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &s, nil
}

// SubscriptionClaim implements store.SubscriptionStore. SQLite serves one
// machine, so its clock is the host's.
func (d *Driver) SubscriptionClaim(ctx context.Context, name, owner string, ttl time.Duration) (*store.Subscription, error) {
	var out *store.Subscription
	err := d.pluginTx(ctx, "claiming subscription "+name, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		// A new subscription starts after the last event written.
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (name, position, created_at, updated_at)
			VALUES (?, (SELECT coalesce(max(position), 0) FROM events), ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, nanos(now), nanos(now)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET owner = ?, lease_until = ?
			WHERE name = ? AND (owner = ? OR owner = '' OR lease_until < ?)`,
			owner, nanos(now.Add(ttl)), name, owner, nanos(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrLeaseHeld
		}
		out, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE name = ?`, name))
		return err
	})
	return out, err
}

// SubscriptionAdvance implements store.SubscriptionStore.
func (d *Driver) SubscriptionAdvance(ctx context.Context, p *store.SubscriptionAdvance) error {
	return d.pluginTx(ctx, "advancing subscription "+p.Name, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET tx_id = ?, position = ?, delivered = delivered + ?, updated_at = ?
			WHERE name = ? AND owner = ? AND lease_until >= ?`,
			int64(p.Cursor.TxID), p.Cursor.Position, p.Delivered, nanos(now), p.Name, p.Owner, nanos(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrLeaseLost
		}
		for _, dl := range p.Dead {
			if dl.FailedAt.IsZero() {
				dl.FailedAt = now
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (subscription, event_id, tenant, stream, version, type, tx_id, position,
				code, message, attempts, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subscription, event_id) DO NOTHING`,
				p.Name, dl.EventID, dl.Tenant, dl.Stream, dl.Version, dl.Type, int64(dl.Cursor.TxID), dl.Cursor.Position,
				dl.Code, dl.Message, dl.Attempts, nanos(dl.FailedAt))
			if err != nil {
				return err
			}
			dl.Subscription = p.Name
			dl.ID, _ = res.LastInsertId()
		}
		return nil
	})
}

// SubscriptionRelease implements store.SubscriptionStore.
func (d *Driver) SubscriptionRelease(ctx context.Context, name, owner string) error {
	return d.pluginTx(ctx, "releasing subscription "+name, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE subscriptions SET owner = '', lease_until = 0 WHERE name = ? AND owner = ?`, name, owner)
		return err
	})
}

// SubscriptionList implements store.SubscriptionStore.
func (d *Driver) SubscriptionList(ctx context.Context) ([]*store.Subscription, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+subscriptionColumns+`,
		(SELECT count(*) FROM events e WHERE e.position > s.position),
		(SELECT count(*) FROM dead_letters l WHERE l.subscription = s.name AND l.resolution = '')
		FROM subscriptions s ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing subscriptions: %w", translate(err))
	}
	defer rows.Close()
	var out []*store.Subscription
	for rows.Next() {
		var lag, dead int64
		s, err := scanSubscription(rows, &lag, &dead)
		if err != nil {
			return nil, err
		}
		s.Lag, s.DeadLetters = lag, dead
		out = append(out, s)
	}
	return out, rows.Err()
}

const deadLetterColumns = `id, subscription, event_id, tenant, stream, version, type, tx_id, position, code, message, attempts,
	failed_at, resolution, resolved_by, resolved_at`

func scanDeadLetter(row interface{ Scan(...any) error }) (*store.DeadLetter, error) {
	var l store.DeadLetter
	var tx, failed, resolved int64
	if err := row.Scan(&l.ID, &l.Subscription, &l.EventID, &l.Tenant, &l.Stream, &l.Version, &l.Type, &tx, &l.Cursor.Position,
		&l.Code, &l.Message, &l.Attempts, &failed, &l.Resolution, &l.ResolvedBy, &resolved); err != nil {
		return nil, err
	}
	l.Cursor.TxID = uint64(tx)
	l.FailedAt = fromNanos(failed)
	if resolved > 0 {
		l.ResolvedAt = fromNanos(resolved)
	}
	return &l, nil
}

// DeadLetterList implements store.SubscriptionStore.
func (d *Driver) DeadLetterList(ctx context.Context, subscription string, resolved bool, limit int) ([]*store.DeadLetter, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE subscription = ? AND (? OR resolution = '') ORDER BY id LIMIT ?`, subscription, resolved, limit)
	if err != nil {
		return nil, fmt.Errorf("listing dead letters: %w", translate(err))
	}
	defer rows.Close()
	var out []*store.DeadLetter
	for rows.Next() {
		l, err := scanDeadLetter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeadLetterGet implements store.SubscriptionStore.
func (d *Driver) DeadLetterGet(ctx context.Context, id int64) (*store.DeadLetter, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	l, err := scanDeadLetter(d.reader.QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading dead letter %d: %w", id, translate(err))
	}
	return l, nil
}

// DeadLetterUpdate implements store.SubscriptionStore.
func (d *Driver) DeadLetterUpdate(ctx context.Context, u *store.DeadLetterUpdate) error {
	return d.pluginTx(ctx, fmt.Sprintf("updating dead letter %d", u.ID), func(tx *sql.Tx) error {
		now := nanos(time.Now().UTC())
		var res sql.Result
		var err error
		if u.Resolution != "" {
			res, err = tx.ExecContext(ctx, `UPDATE dead_letters SET resolution = ?, resolved_by = ?, resolved_at = ?
				WHERE id = ? AND resolution = ''`, u.Resolution, u.By, now, u.ID)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE dead_letters SET attempts = attempts + 1, code = ?, message = ?, failed_at = ?
				WHERE id = ? AND resolution = ''`, u.Code, u.Message, now, u.ID)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
