package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlq"
)

// dialect is PostgreSQL's SQL for the query compiler: jsonb operators,
// typed extraction that yields NULL for a value of another type (so that
// no cast fails on an odd record), strings compared byte-wise (COLLATE "C")
// so that every driver orders them alike.
type dialect struct{}

func (dialect) Param(n int) string { return "$" + strconv.Itoa(n) }

// Path is 'name' (names hold letters, digits, '_' and '-' only: sqlq
// checks).
func (dialect) Path(name string) string { return "'" + name + "'" }

func (dialect) Text(p string) string {
	return "(CASE WHEN jsonb_typeof(data -> " + p + ") = 'string' THEN data ->> " + p + " END)"
}

func (dialect) Number(p string) string {
	return "(CASE WHEN jsonb_typeof(data -> " + p + ") = 'number' THEN (data ->> " + p + ")::float8 END)"
}

func (dialect) Bool(p string) string {
	return "(CASE WHEN jsonb_typeof(data -> " + p + ") = 'boolean' THEN (data ->> " + p + ")::boolean END)"
}

func (dialect) Present(p string) string {
	return "(coalesce(jsonb_typeof(data -> " + p + "), 'null') <> 'null')"
}

func (dialect) Contains(p, list string) string {
	return "(jsonb_typeof(data -> " + p + ") = 'array' AND (data -> " + p + ") @> to_jsonb(" + list + "::text[]))"
}

func (dialect) Overlaps(p, list string) string {
	return "(jsonb_typeof(data -> " + p + ") = 'array' AND (data -> " + p + ") ?| " + list + "::text[])"
}

func (dialect) StringsArg(vals []string) any { return vals }

// HasSubstring uses strpos, which reads no pattern characters.
func (dialect) HasSubstring(hay, needle string) string {
	return "(strpos(lower(" + hay + "), " + needle + "::text) > 0)"
}

// TextMatch is full-text search with a tsvector over the fields ("simple"
// configuration: no stemming), every word as a prefix.
func (d dialect) TextMatch(fields []string, words string) string {
	return "(" + d.TextVector(fields) + " @@ to_tsquery('simple', " + words + "::text))"
}

func (d dialect) TextVector(fields []string) string {
	parts := make([]string, len(fields))
	for i, p := range fields {
		parts[i] = "coalesce(" + d.Text(p) + ", '')"
	}
	return "to_tsvector('simple', " + strings.Join(parts, " || ' ' || ") + ")"
}

// WordsArg writes the words as a tsquery of prefixes, each word quoted, so
// that no character of it is tsquery syntax.
func (dialect) WordsArg(words []string) any {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = "'" + strings.ReplaceAll(strings.ToLower(w), "'", "''") + "':*"
	}
	return strings.Join(parts, " & ")
}

func (dialect) TimeArg(t time.Time) any { return t.UTC() }
func (dialect) BoolArg(b bool) any      { return b }
func (dialect) False() string           { return "false" }
func (dialect) RowValueSeek() bool      { return true }
func (dialect) Collate() string         { return ` COLLATE "C"` }

// StateQuery implements store.StateQuerier. The list runs in a read-only
// transaction with custom plans: the connections' forced generic plans
// suit the command path's statements, not selective filters.
func (d *Driver) StateQuery(ctx context.Context, q *store.StateQuery) (*store.StateQueryResult, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	c, err := sqlq.Compile(dialect{}, q)
	if err != nil {
		return nil, err
	}
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return nil, translate(err)
	}
	out := &store.StateQueryResult{}
	if q.Count {
		if err := tx.QueryRow(ctx, c.Count, c.CountArgs...).Scan(&out.Total); err != nil {
			return nil, fmt.Errorf("counting %s.%s: %w", q.Domain, q.Resource, translate(err))
		}
	}
	scan := func(query string, args []any) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
		}
		defer rows.Close()
		for rows.Next() && len(out.Records) < q.Limit {
			r := &store.StateRecord{}
			keys := make([]any, c.Keys)
			dest := []any{&r.Tenant, &r.Domain, &r.Resource, &r.ID, &r.Data, &r.Version, &r.ETag, &r.CreatedAt, &r.CreatedBy, &r.UpdatedAt, &r.UpdatedBy}
			for i := range keys {
				dest = append(dest, &keys[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
			}
			r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
			for i, o := range q.Order {
				keys[i] = sqlq.Normalize(o.Field, keys[i], func(n int64) time.Time { return time.Unix(0, n).UTC() })
			}
			keys[len(keys)-1] = r.ID
			out.Records = append(out.Records, r)
			out.Keys = append(out.Keys, keys)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
		}
		return nil
	}
	if err := scan(c.List, c.ListArgs); err != nil {
		return nil, err
	}
	if c.NullsList != "" && len(out.Records) < q.Limit {
		if err := scan(c.NullsList, c.NullsArgs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StateIndexes implements store.StateIndexer: CREATE INDEX CONCURRENTLY,
// which builds while writes go on. An index a failed build left invalid
// is dropped and built again.
func (d *Driver) StateIndexes(ctx context.Context, spec store.IndexSpec) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	idx, err := sqlq.Indexes(dialect{}, spec)
	if err != nil {
		return err
	}
	created := false
	for _, ix := range idx {
		var valid *bool
		err := d.pool.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
			WHERE c.relname = $1 AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`, ix.Name).Scan(&valid)
		switch {
		case err == nil && valid != nil && *valid:
			continue
		case err == nil:
			if _, err := d.pool.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+ix.Name); err != nil {
				return fmt.Errorf("dropping the invalid index %s: %w", ix.Name, translate(err))
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return translate(err)
		}
		using := ""
		if ix.Text {
			using = " USING gin"
		}
		ddl := "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + ix.Name + " ON states" + using + " ((" + ix.Expr + ")) WHERE deleted_at IS NULL"
		if !ix.Text {
			ddl = "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + ix.Name + " ON states (" + ix.Expr + ") WHERE deleted_at IS NULL"
		}
		if _, err := d.pool.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("creating index %s: %w", ix.Name, translate(err))
		}
		created = true
	}
	if created {
		// Statistics on the new expressions let the planner choose.
		if _, err := d.pool.Exec(ctx, "ANALYZE states"); err != nil {
			return fmt.Errorf("analyzing states: %w", translate(err))
		}
	}
	return nil
}
