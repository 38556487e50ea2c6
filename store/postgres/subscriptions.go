package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
)

var _ store.SubscriptionStore = (*Driver)(nil)

// Leases are timed by the database's clock (clock_timestamp()), so hosts
// whose clocks disagree still agree on who holds one. tx_id is read as text
// (pgx has no xid8 type).
const subscriptionColumns = `name, tx_id::text, position, owner, lease_until, delivered, created_at, updated_at`

func scanSubscription(row pgx.Row, extra ...any) (*store.Subscription, error) {
	var s store.Subscription
	var tx string
	dest := append([]any{&s.Name, &tx, &s.Cursor.Position, &s.Owner, &s.LeaseUntil, &s.Delivered, &s.CreatedAt, &s.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	s.Cursor.TxID, _ = strconv.ParseUint(tx, 10, 64)
	if s.Owner == "" {
		s.LeaseUntil = time.Time{}
	}
	s.LeaseUntil, s.CreatedAt, s.UpdatedAt = s.LeaseUntil.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return &s, nil
}

// SubscriptionClaim implements store.SubscriptionStore.
func (d *Driver) SubscriptionClaim(ctx context.Context, name, owner string, ttl time.Duration) (*store.Subscription, error) {
	var out *store.Subscription
	err := d.pluginTx(ctx, "claiming subscription "+name, func(tx pgx.Tx) error {
		// A new subscription starts after the last event a follower can
		// read now: a transaction still running sorts after it.
		if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (name, tx_id, position, created_at, updated_at)
			SELECT $1, coalesce(h.tx_id, '0'::xid8), coalesce(h.position, 0), clock_timestamp(), clock_timestamp()
			FROM (SELECT 1) one LEFT JOIN (SELECT tx_id, position FROM events
				WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
				ORDER BY tx_id DESC, position DESC LIMIT 1) h ON true
			ON CONFLICT (name) DO NOTHING`, name); err != nil {
			return err
		}
		s, err := scanSubscription(tx.QueryRow(ctx, `UPDATE subscriptions
			SET owner = $2, lease_until = clock_timestamp() + $3 * interval '1 microsecond'
			WHERE name = $1 AND (owner = $2 OR owner = '' OR lease_until < clock_timestamp())
			RETURNING `+subscriptionColumns, name, owner, ttl.Microseconds()))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrLeaseHeld
		}
		out = s
		return err
	})
	return out, err
}

// SubscriptionAdvance implements store.SubscriptionStore.
func (d *Driver) SubscriptionAdvance(ctx context.Context, p *store.SubscriptionAdvance) error {
	return d.pluginTx(ctx, "advancing subscription "+p.Name, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE subscriptions SET tx_id = $3::text::xid8, position = $4, delivered = delivered + $5,
			updated_at = clock_timestamp()
			WHERE name = $1 AND owner = $2 AND lease_until >= clock_timestamp()`,
			p.Name, p.Owner, strconv.FormatUint(p.Cursor.TxID, 10), p.Cursor.Position, p.Delivered)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLeaseLost
		}
		for _, dl := range p.Dead {
			if dl.FailedAt.IsZero() {
				dl.FailedAt = nowMicro()
			}
			err := tx.QueryRow(ctx, `INSERT INTO dead_letters (subscription, event_id, tenant, stream, version, type, tx_id, position,
				code, message, attempts, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7::text::xid8, $8, $9, $10, $11, $12)
				ON CONFLICT (subscription, event_id) DO NOTHING RETURNING id`,
				p.Name, dl.EventID, dl.Tenant, dl.Stream, dl.Version, dl.Type, strconv.FormatUint(dl.Cursor.TxID, 10), dl.Cursor.Position,
				dl.Code, dl.Message, dl.Attempts, dl.FailedAt).Scan(&dl.ID)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			dl.Subscription = p.Name
		}
		return nil
	})
}

// SubscriptionRelease implements store.SubscriptionStore.
func (d *Driver) SubscriptionRelease(ctx context.Context, name, owner string) error {
	return d.pluginTx(ctx, "releasing subscription "+name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE subscriptions SET owner = '', lease_until = 'epoch' WHERE name = $1 AND owner = $2`, name, owner)
		return err
	})
}

// SubscriptionList implements store.SubscriptionStore.
func (d *Driver) SubscriptionList(ctx context.Context) ([]*store.Subscription, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.pool.Query(ctx, `SELECT `+subscriptionColumns+`,
		(SELECT count(*) FROM events e WHERE (e.tx_id, e.position) > (s.tx_id, s.position)
			AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())),
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

const deadLetterColumns = `id, subscription, event_id, tenant, stream, version, type, tx_id::text, position, code, message, attempts,
	failed_at, resolution, resolved_by, resolved_at`

func scanDeadLetter(row pgx.Row) (*store.DeadLetter, error) {
	var l store.DeadLetter
	var tx string
	var resolved *time.Time
	if err := row.Scan(&l.ID, &l.Subscription, &l.EventID, &l.Tenant, &l.Stream, &l.Version, &l.Type, &tx, &l.Cursor.Position,
		&l.Code, &l.Message, &l.Attempts, &l.FailedAt, &l.Resolution, &l.ResolvedBy, &resolved); err != nil {
		return nil, err
	}
	l.Cursor.TxID, _ = strconv.ParseUint(tx, 10, 64)
	l.FailedAt = l.FailedAt.UTC()
	if resolved != nil {
		l.ResolvedAt = resolved.UTC()
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
	rows, err := d.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE subscription = $1 AND ($2 OR resolution = '') ORDER BY id LIMIT $3`, subscription, resolved, limit)
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
	l, err := scanDeadLetter(d.pool.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading dead letter %d: %w", id, translate(err))
	}
	return l, nil
}

// DeadLetterUpdate implements store.SubscriptionStore.
func (d *Driver) DeadLetterUpdate(ctx context.Context, u *store.DeadLetterUpdate) error {
	return d.pluginTx(ctx, fmt.Sprintf("updating dead letter %d", u.ID), func(tx pgx.Tx) error {
		var sql string
		args := []any{u.ID}
		if u.Resolution != "" {
			sql = `UPDATE dead_letters SET resolution = $2, resolved_by = $3, resolved_at = clock_timestamp() WHERE id = $1 AND resolution = ''`
			args = append(args, u.Resolution, u.By)
		} else {
			sql = `UPDATE dead_letters SET attempts = attempts + 1, code = $2, message = $3, failed_at = clock_timestamp() WHERE id = $1 AND resolution = ''`
			args = append(args, u.Code, u.Message)
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
