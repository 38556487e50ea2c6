// Package sqlq compiles a store.StateQuery to SQL for the drivers: one
// compiler, with what differs between SQLite and PostgreSQL behind a
// Dialect. Every value, JSON path included, is bound as a parameter; the
// only names written into SQL are the record's own columns, from a fixed
// list.
package sqlq

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"fluvius.dev/fluvius/store"
)

// Dialect is what a driver's SQL needs said its own way. Expressions take
// the SQL of a bound parameter holding the property's name (p).
type Dialect interface {
	// Param is the placeholder of the n-th argument (from 1).
	Param(n int) string
	// Path is a state property's name as an SQL literal of the dialect's
	// JSON path syntax. It is written into the SQL, not bound, so that an
	// expression index on the property matches the query's expression;
	// names are checked against PropertyName first (values are always
	// bound).
	Path(name string) string
	// Text, Number, Bool are a state property's value when it has that
	// JSON type, else NULL.
	Text(p string) string
	Number(p string) string
	Bool(p string) string
	// Present is true when the property exists and is not JSON null.
	Present(p string) string
	// Contains: the array property holds every string of the list bound
	// at list (as the dialect's StringsArg binds it); Overlaps: at least one.
	Contains(p, list string) string
	Overlaps(p, list string) string
	StringsArg(vals []string) any
	// HasSubstring: lower(hay) holds needle (bound lower-cased), literally.
	HasSubstring(hay, needle string) string
	// TextMatch: every word (bound by WordsArg) starts a word of the
	// fields' text; fields are path literals.
	TextMatch(fields []string, words string) string
	// TextVector is the expression a text index holds, the one TextMatch
	// searches; "" where the dialect has no text index.
	TextVector(fields []string) string
	WordsArg(words []string) any
	// TimeArg binds a time as the record's time columns hold it.
	TimeArg(t time.Time) any
	// BoolArg binds a boolean as Bool compares it.
	BoolArg(b bool) any
	// Collate is appended to text expressions that are compared or
	// sorted, so that every driver orders strings byte-wise.
	Collate() string
	// False is the boolean false, as x IS NULL compares to it.
	False() string
	// RowValueSeek says whether the planner seeks an expression index by a
	// row-value comparison (PostgreSQL does; SQLite does not, so a cursor
	// there takes a range on the key and reads the null keys apart).
	RowValueSeek() bool
}

// columns are the record's own fields a query may name.
var columns = map[string]bool{"id": true, "version": true, "created_at": true, "updated_at": true,
	"created_by": true, "updated_by": true}

// Builder accumulates SQL and its arguments.
type Builder struct {
	d    Dialect
	sql  strings.Builder
	args []any
	// nullsAfter: the keyset condition leaves out the null keys that
	// follow (see Compiled.NullsList); nullsFixed: it keeps the non-null
	// keys only, so the order needs no x IS NULL term (and the index on
	// x IS NULL, x, id gives the order without a sort).
	nullsAfter, nullsFixed bool
}

// PropertyName is what a state property's name must be to be written
// into SQL: the query service and the manifest checks allow no other.
var PropertyName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

func (b *Builder) path(name string) (string, error) {
	if !PropertyName.MatchString(name) {
		return "", fmt.Errorf("sqlq: %q is not a property name that may be queried", name)
	}
	return b.d.Path(name), nil
}

func (b *Builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Param(len(b.args))
}

// Compiled is a query as SQL.
type Compiled struct {
	List      string // the page; its columns: RecordColumns, then one per sort key and the id
	ListArgs  []any
	Count     string // the total, when asked
	CountArgs []any
	Keys      int // sort key columns after the record's
	// NullsList, when set, continues a page that List left short: the
	// records whose sort key is null, which sort last (a cursor into the
	// non-null ones reads them with a range its index seeks to, and these
	// apart).
	NullsList string
	NullsArgs []any
}

// RecordColumns are the columns every list selects first, in this order.
const RecordColumns = "tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by"

// Compile compiles q for d.
func Compile(d Dialect, q *store.StateQuery) (*Compiled, error) {
	if q.Limit < 1 {
		return nil, errors.New("sqlq: a query needs a limit")
	}
	where := &Builder{d: d}
	if err := where.scope(q); err != nil {
		return nil, err
	}
	if q.Where != nil {
		where.sql.WriteString(" AND ")
		if err := where.node(q.Where); err != nil {
			return nil, err
		}
	}
	out := &Compiled{Keys: len(q.Order) + 1}
	if q.Count {
		out.Count = "SELECT count(*) FROM states WHERE " + where.sql.String()
		out.CountArgs = append([]any(nil), where.args...)
	}
	list := &Builder{d: d, args: append([]any(nil), where.args...)}
	list.sql.WriteString("SELECT " + RecordColumns)
	keys := make([]string, 0, len(q.Order)+1)
	for _, o := range q.Order {
		k, err := list.expr(o.Field)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		list.sql.WriteString(", " + k)
	}
	keys = append(keys, "id")
	list.sql.WriteString(", id FROM states WHERE ")
	list.sql.WriteString(where.sql.String())
	if q.After != nil {
		if len(q.After) != len(keys) {
			return nil, fmt.Errorf("sqlq: the cursor holds %d values for %d sort keys", len(q.After), len(keys))
		}
		list.sql.WriteString(" AND ")
		if err := list.after(q.Order, keys, q.After); err != nil {
			return nil, err
		}
	}
	// Nulls sort as the largest value (last ascending, first descending)
	// and the id breaks ties in the first key's direction: one index on
	// (tenant, domain, resource, x IS NULL, x, id) serves a sort on x
	// either way, forwards or backwards.
	list.sql.WriteString(" ORDER BY ")
	for i, o := range q.Order {
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		if o.Field.Column == "" && !list.nullsFixed {
			fmt.Fprintf(&list.sql, "(%s IS NULL)%s, ", keys[i], dir)
		}
		fmt.Fprintf(&list.sql, "%s%s, ", keys[i], dir)
	}
	list.sql.WriteString("id" + idDirection(q.Order) + " LIMIT " + list.arg(int64(q.Limit)))
	if q.After == nil && q.Offset > 0 {
		list.sql.WriteString(" OFFSET " + list.arg(int64(q.Offset)))
	}
	out.List, out.ListArgs = list.sql.String(), list.args
	if list.nullsAfter {
		nb := &Builder{d: d, args: append([]any(nil), where.args...)}
		k, err := nb.expr(q.Order[0].Field)
		if err != nil {
			return nil, err
		}
		nb.sql.WriteString("SELECT " + RecordColumns + ", " + k + ", id FROM states WHERE " + where.sql.String())
		nb.sql.WriteString(" AND (" + k + " IS NULL) ORDER BY id ASC LIMIT " + nb.arg(int64(q.Limit)))
		out.NullsList, out.NullsArgs = nb.sql.String(), nb.args
	}
	return out, nil
}

func idDirection(order []store.Order) string {
	if len(order) > 0 && order[0].Desc {
		return " DESC"
	}
	return " ASC"
}

func (b *Builder) scope(q *store.StateQuery) error {
	fmt.Fprintf(&b.sql, "tenant = %s AND domain = %s AND resource = %s", b.arg(q.Tenant), b.arg(q.Domain), b.arg(q.Resource))
	if !q.IncludeDeleted {
		b.sql.WriteString(" AND deleted_at IS NULL")
	}
	return nil
}

// after writes the keyset condition: the rows that sort after the
// cursor's (nulls as the largest value, ties by id in the first key's
// direction). One key and a non-null value take a row-value comparison,
// which the key's index seeks to; longer sorts nest.
func (b *Builder) after(order []store.Order, keys []string, vals []any) error {
	id, ok := vals[len(vals)-1].(string)
	if !ok {
		return errors.New("sqlq: the cursor's last value is not an id")
	}
	idCmp := " > "
	if len(order) > 0 && order[0].Desc {
		idCmp = " < "
	}
	if len(order) == 1 && vals[0] != nil {
		cmp := " > "
		if order[0].Desc {
			cmp = " < "
		}
		x, err := b.value(order[0].Field, vals[0])
		if err != nil {
			return err
		}
		if order[0].Field.Column != "" {
			fmt.Fprintf(&b.sql, "((%s, id)%s(%s, %s))", keys[0], cmp, x, b.arg(id))
			return nil
		}
		if b.d.RowValueSeek() {
			fmt.Fprintf(&b.sql, "(((%s IS NULL), %s, id)%s(%s, %s, %s))", keys[0], keys[0], cmp, b.d.False(), x, b.arg(id))
			return nil
		}
		// A range on the key (>= or <=), which the key's index seeks to,
		// then the ties by id. Ascending, the nulls follow: NullsList.
		b.nullsFixed = true
		inclusive := " >= "
		if order[0].Desc {
			inclusive = " <= "
		} else {
			b.nullsAfter = true
		}
		fmt.Fprintf(&b.sql, "((%s IS NULL) = %s AND %s%s%s AND (%s%s%s OR id%s%s))",
			keys[0], b.d.False(), keys[0], inclusive, x, keys[0], cmp, x, idCmp, b.arg(id))
		return nil
	}
	return b.afterKey(order, keys, vals, 0, idCmp, id)
}

func (b *Builder) afterKey(order []store.Order, keys []string, vals []any, i int, idCmp, id string) error {
	if i == len(keys)-1 {
		b.sql.WriteString("id" + idCmp + b.arg(id))
		return nil
	}
	k, v, desc := keys[i], vals[i], order[i].Desc
	b.sql.WriteString("(")
	switch {
	case v != nil:
		x, err := b.value(order[i].Field, v)
		if err != nil {
			return err
		}
		if desc {
			fmt.Fprintf(&b.sql, "%s < %s OR (%s = %s AND ", k, x, k, x)
		} else {
			fmt.Fprintf(&b.sql, "%s > %s OR %s IS NULL OR (%s = %s AND ", k, x, k, k, x)
		}
	case desc:
		fmt.Fprintf(&b.sql, "%s IS NOT NULL OR (%s IS NULL AND ", k, k)
	default:
		fmt.Fprintf(&b.sql, "(%s IS NULL AND ", k)
	}
	if err := b.afterKey(order, keys, vals, i+1, idCmp, id); err != nil {
		return err
	}
	b.sql.WriteString("))")
	return nil
}

// expr is a field's value as SQL, typed as the field is.
func (b *Builder) expr(f store.Field) (string, error) {
	if f.Column != "" {
		if !columns[f.Column] {
			return "", fmt.Errorf("sqlq: no column %q", f.Column)
		}
		return f.Column, nil
	}
	p, err := b.path(f.Name)
	if err != nil {
		return "", err
	}
	switch f.Type {
	case store.TypeString:
		return b.d.Text(p) + b.d.Collate(), nil
	case store.TypeInteger, store.TypeNumber:
		return b.d.Number(p), nil
	case store.TypeBoolean:
		return b.d.Bool(p), nil
	}
	return "", fmt.Errorf("sqlq: field %s cannot be compared or sorted", f.Name)
}

func (b *Builder) value(f store.Field, v any) (string, error) {
	switch x := v.(type) {
	case time.Time:
		return b.arg(b.d.TimeArg(x)), nil
	case bool:
		return b.arg(b.d.BoolArg(x)), nil
	case string, int64, float64:
		return b.arg(x), nil
	}
	return "", fmt.Errorf("sqlq: field %s: a value of type %T", f.Name, v)
}

func (b *Builder) node(n store.Node) error {
	switch n := n.(type) {
	case store.And:
		return b.list(n, " AND ", "1 = 1")
	case store.Or:
		return b.list(n, " OR ", "1 = 0")
	case store.Not:
		// IS NOT TRUE: a row where the condition is NULL (a missing
		// field) is matched by the negation too.
		b.sql.WriteString("((")
		if err := b.node(n.Node); err != nil {
			return err
		}
		b.sql.WriteString(") IS NOT TRUE)")
		return nil
	case store.TextCond:
		paths := make([]string, len(n.Fields))
		for i, f := range n.Fields {
			p, err := b.path(f)
			if err != nil {
				return err
			}
			paths[i] = p
		}
		b.sql.WriteString(b.d.TextMatch(paths, b.arg(b.d.WordsArg(n.Words))))
		return nil
	case store.Cond:
		return b.cond(n)
	}
	return fmt.Errorf("sqlq: unknown node %T", n)
}

func (b *Builder) list(ns []store.Node, sep, empty string) error {
	if len(ns) == 0 {
		b.sql.WriteString(empty)
		return nil
	}
	b.sql.WriteString("(")
	for i, c := range ns {
		if i > 0 {
			b.sql.WriteString(sep)
		}
		if err := b.node(c); err != nil {
			return err
		}
	}
	b.sql.WriteString(")")
	return nil
}

func (b *Builder) cond(c store.Cond) error {
	f := c.Field
	if c.Op == store.OpNull {
		if f.Column != "" {
			if !columns[f.Column] {
				return fmt.Errorf("sqlq: no column %q", f.Column)
			}
			b.sql.WriteString("(" + f.Column + " IS NULL)")
			return nil
		}
		p, err := b.path(f.Name)
		if err != nil {
			return err
		}
		b.sql.WriteString("(NOT " + b.d.Present(p) + ")")
		return nil
	}
	if f.Type == store.TypeStrings {
		vals, err := strs(c.Value)
		if err != nil {
			return fmt.Errorf("sqlq: field %s: %w", f.Name, err)
		}
		p, err := b.path(f.Name)
		if err != nil {
			return err
		}
		switch c.Op {
		case store.OpContains:
			b.sql.WriteString(b.d.Contains(p, b.arg(b.d.StringsArg(vals))))
		case store.OpOverlaps:
			b.sql.WriteString(b.d.Overlaps(p, b.arg(b.d.StringsArg(vals))))
		default:
			return fmt.Errorf("sqlq: field %s: operator %d on an array", f.Name, c.Op)
		}
		return nil
	}
	x, err := b.expr(f)
	if err != nil {
		return err
	}
	if f.Column == "" {
		// Redundant (a comparison never holds on NULL), but it lets the
		// field's index, which leads with x IS NULL, seek.
		fmt.Fprintf(&b.sql, "((%s IS NULL) = %s AND ", x, b.d.False())
		defer b.sql.WriteString(")")
	}
	switch c.Op {
	case store.OpEq, store.OpGt, store.OpGte, store.OpLt, store.OpLte:
		v, err := b.value(f, c.Value)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b.sql, "(%s %s %s)", x, map[store.Op]string{store.OpEq: "=", store.OpGt: ">", store.OpGte: ">=", store.OpLt: "<", store.OpLte: "<="}[c.Op], v)
	case store.OpIn:
		vals, ok := c.Value.([]any)
		if !ok || len(vals) == 0 {
			return fmt.Errorf("sqlq: field %s: in takes a non-empty list", f.Name)
		}
		b.sql.WriteString("(" + x + " IN (")
		for i, v := range vals {
			if i > 0 {
				b.sql.WriteString(", ")
			}
			s, err := b.value(f, v)
			if err != nil {
				return err
			}
			b.sql.WriteString(s)
		}
		b.sql.WriteString("))")
	case store.OpBetween:
		vals, ok := c.Value.([]any)
		if !ok || len(vals) != 2 {
			return fmt.Errorf("sqlq: field %s: between takes two values", f.Name)
		}
		lo, err := b.value(f, vals[0])
		if err != nil {
			return err
		}
		hi, err := b.value(f, vals[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(&b.sql, "(%s >= %s AND %s <= %s)", x, lo, x, hi)
	case store.OpHas:
		s, ok := c.Value.(string)
		if !ok || f.Type != store.TypeString {
			return fmt.Errorf("sqlq: field %s: has takes a string on a string field", f.Name)
		}
		b.sql.WriteString(b.d.HasSubstring(x, b.arg(strings.ToLower(s))))
	default:
		return fmt.Errorf("sqlq: field %s: operator %d", f.Name, c.Op)
	}
	return nil
}

func strs(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("takes a non-empty list of strings")
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("takes a list of strings")
		}
		out[i] = s
	}
	return out, nil
}

// Normalize turns a sort key as a driver scanned it into the Go type of
// its field (time.Time, bool, int64, float64, string), so that cursors are
// the same whichever driver made them. fromNanos reads a driver's integer
// times.
func Normalize(f store.Field, v any, fromNanos func(int64) time.Time) any {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil
	}
	switch f.Type {
	case store.TypeTime:
		switch x := v.(type) {
		case int64:
			return fromNanos(x)
		case time.Time:
			return x.UTC()
		}
	case store.TypeBoolean:
		switch x := v.(type) {
		case int64:
			return x != 0
		case bool:
			return x
		}
	case store.TypeInteger:
		switch x := v.(type) {
		case float64:
			if x == float64(int64(x)) {
				return int64(x)
			}
			return x
		case int32:
			return int64(x)
		}
	case store.TypeNumber:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float32:
			return float64(x)
		}
	}
	return v
}

// Index is one index a query resource needs: a name derived from what it
// indexes, and the indexed expression (SQL).
type Index struct {
	Name string
	Expr string
	Text bool // a full-text index (PostgreSQL: GIN over a tsvector)
}

// Indexes lists the indexes of a spec, in a stable order: one per scalar
// state field (on tenant, domain, resource and the field's expression, as
// queries write it) and one for the text fields where the dialect has a
// text index (TextVector not "").
func Indexes(d Dialect, spec store.IndexSpec) ([]Index, error) {
	var out []Index
	for _, f := range spec.Fields {
		if f.Column != "" || f.Type == store.TypeStrings || f.Type == store.TypeTime {
			continue
		}
		b := &Builder{d: d}
		x, err := b.expr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Index{Name: indexName("f", x), Expr: "tenant, domain, resource, (" + x + " IS NULL), " + x + ", id"})
	}
	if len(spec.Text) > 0 {
		paths := make([]string, len(spec.Text))
		for i, name := range spec.Text {
			b := &Builder{d: d}
			p, err := b.path(name)
			if err != nil {
				return nil, err
			}
			paths[i] = p
		}
		if v := d.TextVector(paths); v != "" {
			out = append(out, Index{Name: indexName("t", v), Expr: v, Text: true})
		}
	}
	return out, nil
}

func indexName(kind, expr string) string {
	sum := sha256.Sum256([]byte(expr))
	return "states_q" + kind + "_" + hex.EncodeToString(sum[:8])
}
