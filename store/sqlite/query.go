package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlq"
)

// dialect is SQLite's SQL for the query compiler: JSON through json_extract
// and json_each, numbered parameters (?N) so that one may be used twice.
type dialect struct{}

func (dialect) Param(n int) string { return "?" + strconv.Itoa(n) }

// Path is '$."name"': the key quoted, so that no character of it is path
// syntax (names hold letters, digits, '_' and '-' only: sqlq checks).
func (dialect) Path(name string) string { return `'$."` + name + `"'` }

func (dialect) Text(p string) string {
	return "(CASE WHEN json_type(data, " + p + ") = 'text' THEN json_extract(data, " + p + ") END)"
}

func (dialect) Number(p string) string {
	return "(CASE WHEN json_type(data, " + p + ") IN ('integer', 'real') THEN json_extract(data, " + p + ") END)"
}

func (dialect) Bool(p string) string {
	return "(CASE json_type(data, " + p + ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
}

func (dialect) Present(p string) string {
	return "(coalesce(json_type(data, " + p + "), 'null') <> 'null')"
}

func (dialect) Contains(p, list string) string {
	return "(json_type(data, " + p + ") = 'array' AND NOT EXISTS (SELECT 1 FROM json_each(" + list + ") AS w " +
		"WHERE NOT EXISTS (SELECT 1 FROM json_each(data, " + p + ") AS e WHERE e.type = 'text' AND e.value = w.value)))"
}

func (dialect) Overlaps(p, list string) string {
	return "(json_type(data, " + p + ") = 'array' AND EXISTS (SELECT 1 FROM json_each(data, " + p + ") AS e " +
		"WHERE e.type = 'text' AND e.value IN (SELECT value FROM json_each(" + list + "))))"
}

func (dialect) StringsArg(vals []string) any {
	b, _ := json.Marshal(vals)
	return string(b)
}

// HasSubstring uses instr, which reads no pattern characters. SQLite's
// lower() folds ASCII letters only.
func (dialect) HasSubstring(hay, needle string) string {
	return "(instr(lower(" + hay + "), " + needle + ") > 0)"
}

// TextMatch is the documented fallback for builds without FTS5: every
// word starts a word (after a space, or at the start) of one of the
// fields, ASCII case folded.
func (d dialect) TextMatch(fields []string, words string) string {
	parts := make([]string, len(fields))
	for i, p := range fields {
		parts[i] = "coalesce(" + d.Text(p) + ", '')"
	}
	text := "(' ' || lower(" + strings.Join(parts, " || ' ' || ") + "))"
	return "(NOT EXISTS (SELECT 1 FROM json_each(" + words + ") AS w WHERE instr(" + text + ", ' ' || w.value) = 0))"
}

// TextVector: SQLite builds without FTS5 here have no text index; the
// fallback scans.
func (dialect) TextVector([]string) string { return "" }

func (dialect) WordsArg(words []string) any {
	lower := make([]string, len(words))
	for i, w := range words {
		lower[i] = strings.ToLower(w)
	}
	b, _ := json.Marshal(lower)
	return string(b)
}

func (dialect) TimeArg(t time.Time) any { return nanos(t) }
func (dialect) BoolArg(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
}
func (dialect) False() string      { return "0" }
func (dialect) RowValueSeek() bool { return false }
func (dialect) Collate() string    { return "" } // SQLite compares text byte-wise already

// StateQuery implements store.StateQuerier.
func (d *Driver) StateQuery(ctx context.Context, q *store.StateQuery) (*store.StateQueryResult, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	c, err := sqlq.Compile(dialect{}, q)
	if err != nil {
		return nil, err
	}
	out := &store.StateQueryResult{}
	if q.Count {
		if err := d.reader.QueryRowContext(ctx, c.Count, c.CountArgs...).Scan(&out.Total); err != nil {
			return nil, fmt.Errorf("counting %s.%s: %w", q.Domain, q.Resource, translate(err))
		}
	}
	scan := func(query string, args []any) error {
		rows, err := d.reader.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
		}
		defer rows.Close()
		for rows.Next() && len(out.Records) < q.Limit {
			r := &store.StateRecord{}
			var data string
			var created, updated int64
			keys := make([]any, c.Keys)
			dest := []any{&r.Tenant, &r.Domain, &r.Resource, &r.ID, &data, &r.Version, &r.ETag, &created, &r.CreatedBy, &updated, &r.UpdatedBy}
			for i := range keys {
				dest = append(dest, &keys[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("listing %s.%s: %w", q.Domain, q.Resource, translate(err))
			}
			r.Data, r.CreatedAt, r.UpdatedAt = []byte(data), fromNanos(created), fromNanos(updated)
			for i, o := range q.Order {
				keys[i] = sqlq.Normalize(o.Field, keys[i], fromNanos)
			}
			keys[len(keys)-1] = r.ID
			out.Records = append(out.Records, r)
			out.Keys = append(out.Keys, keys)
		}
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

// StateIndexes implements store.StateIndexer. SQLite builds an index in
// one write transaction: writes wait while it builds.
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
		var n int
		if err := d.writer.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?", ix.Name).Scan(&n); err != nil {
			return translate(err)
		}
		if n > 0 {
			continue
		}
		if _, err := d.writer.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+ix.Name+" ON states ("+ix.Expr+") WHERE deleted_at IS NULL"); err != nil {
			return fmt.Errorf("creating index %s: %w", ix.Name, translate(err))
		}
		created = true
	}
	if created {
		// Statistics let the planner choose between a resource's indexes.
		if _, err := d.writer.ExecContext(ctx, "ANALYZE states"); err != nil {
			return fmt.Errorf("analyzing states: %w", translate(err))
		}
	}
	return nil
}
