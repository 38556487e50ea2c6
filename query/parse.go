package query

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/store"
)

// Bounds on what one query may ask.
const (
	DefaultLimit  = 25
	MaxLimit      = 1000
	MaxQueryBytes = 8 << 10 // the JSON filter
	MaxDepth      = 6       // nested composites
	MaxConditions = 64
	MaxListValues = 100 // in, notin, cs, ov
	MaxValueBytes = 1 << 10
	MaxSortKeys   = 4
	MaxTextBytes  = 256
	MaxTextWords  = 8
	MaxPage       = 1_000_000
)

// Request is a list request as a client sends it: every part as the raw
// text of its parameter, so that a refusal can name it.
type Request struct {
	Query   string // JSON filter in Fluvius's syntax
	Sort    string // "f.asc,g.desc"
	Limit   string
	Page    string
	Cursor  string // continues after the last row of a previous page
	Select  string // state fields to answer, comma separated (default: all)
	Exclude string // state fields not to answer
	Include string // record fields to answer besides the default ones
	Text    string // words to search for in the text fields
	Deleted string // "true": soft-deleted records too
	Named   string // a query the resource offers by name, narrowed by Query
}

// Error is a refused request: the parameter at fault, and where in it.
type Error struct {
	Param   string `json:"param"`          // query, sort, limit, ...
	Path    string `json:"path,omitempty"` // in the filter: the key at fault
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Path != "" {
		return e.Param + " " + e.Path + ": " + e.Message
	}
	return e.Param + ": " + e.Message
}

func errf(param, path, format string, args ...any) *Error {
	return &Error{Param: param, Path: path, Message: fmt.Sprintf(format, args...)}
}

// Plan is a parsed request: the store query (Tenant left for the caller
// to set) and how to answer its rows.
type Plan struct {
	Query   store.StateQuery
	Page    int // from 1; 0 when a cursor continues
	Select  map[string]bool
	Exclude map[string]bool
	Include map[string]bool // record fields: tenant, created_by, updated_by
	res     *Resource
	sig     string // what a cursor must have been made under
}

// includable are the record fields a list answers only when asked.
var includable = map[string]bool{"tenant": true, "created_by": true, "updated_by": true}

// Parse checks a request against a resource and makes its plan.
func (r *Resource) Parse(req Request) (*Plan, error) {
	p := &Plan{res: r, Page: 1}
	q := &p.Query
	q.Domain, q.Resource, q.Count = r.Domain, r.Name, true
	var err error
	if q.Limit, err = intParam("limit", req.Limit, DefaultLimit, 1, MaxLimit); err != nil {
		return nil, err
	}
	if req.Query != "" {
		if q.Where, err = r.parseFilter(req.Query); err != nil {
			return nil, err
		}
	}
	var named *Named
	if req.Named != "" {
		n, ok := r.Named[req.Named]
		if !ok {
			return nil, errf("named", "", "%s.%s offers no query named %q", r.Domain, r.Name, clip(req.Named))
		}
		named = &n
		switch {
		case n.Where == nil:
		case q.Where == nil:
			q.Where = n.Where
		default:
			q.Where = store.And{n.Where, q.Where}
		}
	}
	if req.Text != "" {
		t, err := r.parseText(req.Text)
		if err != nil {
			return nil, err
		}
		if q.Where == nil {
			q.Where = t
		} else {
			q.Where = store.And{q.Where, t}
		}
	}
	q.Order = r.DefaultSort
	if named != nil && named.Sort != nil {
		q.Order = named.Sort
	}
	if req.Sort != "" {
		if q.Order, err = r.parseSort(req.Sort); err != nil {
			return nil, &Error{Param: "sort", Message: err.Error()}
		}
	}
	switch req.Deleted {
	case "", "false":
	case "true":
		q.IncludeDeleted = true
	default:
		return nil, errf("deleted", "", "is true or false, not %q", req.Deleted)
	}
	if p.Select, err = r.fieldList("select", req.Select); err != nil {
		return nil, err
	}
	if p.Exclude, err = r.fieldList("exclude", req.Exclude); err != nil {
		return nil, err
	}
	if p.Include, err = names("include", req.Include, includable); err != nil {
		return nil, err
	}
	p.sig = signature(req, q.Order)
	switch {
	case req.Cursor != "" && req.Page != "":
		return nil, errf("cursor", "", "a cursor continues a listing: send it without page")
	case req.Cursor != "":
		if q.After, err = p.decodeCursor(req.Cursor); err != nil {
			return nil, err
		}
		p.Page = 0
	default:
		if p.Page, err = intParam("page", req.Page, 1, 1, MaxPage); err != nil {
			return nil, err
		}
		if int64(p.Page-1)*int64(q.Limit) > math.MaxInt32 {
			return nil, errf("page", "", "is too deep: continue with the cursor of the previous page")
		}
		q.Offset = (p.Page - 1) * q.Limit
	}
	return p, nil
}

func intParam(param, raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, errf(param, "", "must be a whole number from %d to %d, not %q", lo, hi, clip(raw))
	}
	return n, nil
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// parseSort reads "f.asc,g.desc" (a bare field is ascending).
func (r *Resource) parseSort(raw string) ([]store.Order, error) {
	parts := strings.Split(raw, ",")
	if len(parts) > MaxSortKeys {
		return nil, fmt.Errorf("at most %d sort keys", MaxSortKeys)
	}
	seen := map[string]bool{}
	var out []store.Order
	for _, part := range parts {
		name, dir, _ := strings.Cut(strings.TrimSpace(part), ".")
		f, ok := r.Fields[name]
		if !ok {
			return nil, fmt.Errorf("unknown field %q (fields: %s)", clip(name), strings.Join(r.FieldNames(), ", "))
		}
		if !Sortable(f.Type) {
			return nil, fmt.Errorf("%s is an array: it cannot be sorted on", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s is sorted on twice", name)
		}
		seen[name] = true
		switch dir {
		case "", "asc":
			out = append(out, store.Order{Field: f})
		case "desc":
			out = append(out, store.Order{Field: f, Desc: true})
		default:
			return nil, fmt.Errorf("%s: the direction is asc or desc, not %q", name, clip(dir))
		}
	}
	return out, nil
}

func (r *Resource) parseText(raw string) (store.Node, error) {
	if len(r.Text) == 0 {
		return nil, errf("text", "", "%s.%s has no text fields to search", r.Domain, r.Name)
	}
	if len(raw) > MaxTextBytes || !utf8.ValidString(raw) {
		return nil, errf("text", "", "at most %d bytes of UTF-8", MaxTextBytes)
	}
	words := strings.Fields(raw)
	if len(words) == 0 || len(words) > MaxTextWords {
		return nil, errf("text", "", "1 to %d words", MaxTextWords)
	}
	return store.TextCond{Fields: r.Text, Words: words}, nil
}

// fieldList reads a comma-separated list of state properties to answer.
func (r *Resource) fieldList(param, raw string) (map[string]bool, error) {
	if raw == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		if !fieldName.MatchString(name) {
			return nil, errf(param, "", "%q is not a state field's name", clip(name))
		}
		if r.Hidden[name] {
			return nil, errf(param, "", "%s is hidden: it is never answered", name)
		}
		out[name] = true
	}
	return out, nil
}

func names(param, raw string, allowed map[string]bool) (map[string]bool, error) {
	if raw == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		if !allowed[name] {
			return nil, errf(param, "", "%q is not one of tenant, created_by, updated_by", clip(name))
		}
		out[name] = true
	}
	return out, nil
}

// A filter is parsed from JSON into nodes, counting conditions and depth.
type filterParser struct {
	r     *Resource
	conds int
}

func (r *Resource) parseFilter(raw string) (store.Node, error) {
	if len(raw) > MaxQueryBytes {
		return nil, errf("query", "", "is %d bytes; at most %d", len(raw), MaxQueryBytes)
	}
	// Malformed JSON and names given twice are refused before anything
	// is read: parsers disagree on which copy of a key counts.
	if _, err := (*schema.Validator)(nil).Validate([]byte(raw)); err != nil {
		var m *schema.MalformedError
		if errors.As(err, &m) {
			return nil, errf("query", m.Path, "%s", m.Msg)
		}
		return nil, errf("query", "", "%v", err)
	}
	var doc any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, errf("query", "", "is not JSON: %v", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errf("query", "", `is a JSON object: {"field.op": value, ...}`)
	}
	fp := &filterParser{r: r}
	return fp.object(obj, "", 0, false)
}

// object reads the members of a filter object: all of them hold (And), or
// with any, one of them (Or).
func (fp *filterParser) object(obj map[string]any, path string, depth int, any bool) (store.Node, error) {
	if depth > MaxDepth {
		return nil, errf("query", path, "nests deeper than %d levels", MaxDepth)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var nodes []store.Node
	for _, k := range keys {
		n, err := fp.member(k, obj[k], path+"/"+k, depth)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return nodes[0], nil
	}
	if any {
		return store.Or(nodes), nil
	}
	return store.And(nodes), nil
}

func (fp *filterParser) member(key string, v any, path string, depth int) (store.Node, error) {
	switch key {
	case ".and", "!and", ".or", "!or":
		n, err := fp.composite(key[1:] == "or", v, path, depth+1)
		if err != nil {
			return nil, err
		}
		if key[0] == '!' {
			return store.Not{Node: n}, nil
		}
		return n, nil
	}
	fp.conds++
	if fp.conds > MaxConditions {
		return nil, errf("query", path, "more than %d conditions", MaxConditions)
	}
	name, op, negated := key, "eq", false
	if i := strings.IndexAny(key, ".!"); i >= 0 {
		name, op, negated = key[:i], key[i+1:], key[i] == '!'
	}
	f, ok := fp.r.Fields[name]
	if !ok {
		return nil, errf("query", path, "unknown field %q (fields: %s)", clip(name), strings.Join(fp.r.FieldNames(), ", "))
	}
	allowed := false
	for _, o := range Operators(f.Type) {
		allowed = allowed || o == op
	}
	if !allowed {
		return nil, errf("query", path, "%s is a %s: its operators are %s, not %q", name, TypeName(f.Type),
			strings.Join(Operators(f.Type), ", "), clip(op))
	}
	n, err := condition(f, op, v)
	if err != nil {
		return nil, errf("query", path, "%s", err.Error())
	}
	if negated {
		return store.Not{Node: n}, nil
	}
	return n, nil
}

// composite reads the value of .and/.or: a list of objects (each one's
// members all hold) or one object (its members are the parts).
func (fp *filterParser) composite(or bool, v any, path string, depth int) (store.Node, error) {
	switch x := v.(type) {
	case map[string]any:
		return fp.object(x, path, depth, or)
	case []any:
		if len(x) > MaxConditions {
			return nil, errf("query", path, "more than %d parts", MaxConditions)
		}
		parts := make([]store.Node, 0, len(x))
		for i, e := range x {
			obj, ok := e.(map[string]any)
			if !ok {
				return nil, errf("query", path+"/"+strconv.Itoa(i), "each part is an object of conditions")
			}
			n, err := fp.object(obj, path+"/"+strconv.Itoa(i), depth+1, false)
			if err != nil {
				return nil, err
			}
			parts = append(parts, n)
		}
		if or {
			return store.Or(parts), nil
		}
		return store.And(parts), nil
	}
	return nil, errf("query", path, "takes a list of objects or an object")
}

// condition makes one comparison, its value checked against the field.
func condition(f store.Field, op string, v any) (store.Node, error) {
	cond := func(o store.Op, val any) store.Node { return store.Cond{Field: f, Op: o, Value: val} }
	switch op {
	case "null":
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("null takes true (is null) or false (is not null)")
		}
		if b {
			return cond(store.OpNull, nil), nil
		}
		return store.Not{Node: cond(store.OpNull, nil)}, nil
	case "in", "notin":
		vals, err := valueList(f, v)
		if err != nil {
			return nil, err
		}
		if op == "notin" {
			return store.Not{Node: cond(store.OpIn, vals)}, nil
		}
		return cond(store.OpIn, vals), nil
	case "between":
		vals, err := valueList(f, v)
		if err != nil || len(vals) != 2 {
			return nil, errors.New("between takes a list of two values, the least first")
		}
		return cond(store.OpBetween, vals), nil
	case "cs", "ov":
		list, ok := v.([]any)
		if !ok || len(list) == 0 || len(list) > MaxListValues {
			return nil, fmt.Errorf("%s takes a list of 1 to %d strings", op, MaxListValues)
		}
		for _, e := range list {
			if s, ok := e.(string); !ok || len(s) > MaxValueBytes {
				return nil, fmt.Errorf("%s takes a list of strings", op)
			}
		}
		if op == "cs" {
			return cond(store.OpContains, list), nil
		}
		return cond(store.OpOverlaps, list), nil
	case "has":
		s, ok := v.(string)
		if !ok || s == "" || len(s) > MaxValueBytes {
			return nil, errors.New("has takes a non-empty string")
		}
		return cond(store.OpHas, s), nil
	}
	val, err := value(f, v)
	if err != nil {
		return nil, err
	}
	switch op {
	case "eq":
		return cond(store.OpEq, val), nil
	case "ne":
		return store.Not{Node: cond(store.OpEq, val)}, nil
	case "gt":
		return cond(store.OpGt, val), nil
	case "gte":
		return cond(store.OpGte, val), nil
	case "lt":
		return cond(store.OpLt, val), nil
	case "lte":
		return cond(store.OpLte, val), nil
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}

func valueList(f store.Field, v any) ([]any, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 || len(list) > MaxListValues {
		return nil, fmt.Errorf("takes a list of 1 to %d values", MaxListValues)
	}
	out := make([]any, len(list))
	for i, e := range list {
		val, err := value(f, e)
		if err != nil {
			return nil, err
		}
		out[i] = val
	}
	return out, nil
}

// value checks one value against a field's type and converts it to what
// the store binds.
func value(f store.Field, v any) (any, error) {
	switch f.Type {
	case store.TypeString:
		if s, ok := v.(string); ok && len(s) <= MaxValueBytes {
			return s, nil
		}
		return nil, fmt.Errorf("%s takes a string (at most %d bytes)", f.Name, MaxValueBytes)
	case store.TypeInteger:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
		return nil, fmt.Errorf("%s takes a whole number", f.Name)
	case store.TypeNumber:
		if n, ok := v.(json.Number); ok {
			if x, err := n.Float64(); err == nil && !math.IsInf(x, 0) {
				return x, nil
			}
		}
		return nil, fmt.Errorf("%s takes a number", f.Name)
	case store.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s takes true or false", f.Name)
	case store.TypeTime:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, fmt.Errorf("%s takes an RFC 3339 time, like 2026-01-02T15:04:05Z", f.Name)
	}
	return nil, fmt.Errorf("%s cannot be compared", f.Name)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// A cursor holds the sort values of the last row of a page and a
// signature of the request it continues: a cursor is refused under another
// filter or sort.
type cursor struct {
	Sig  string `json:"s"`
	Keys []any  `json:"k"`
}

// signature sums what must not change between the pages of one listing.
func signature(req Request, order []store.Order) string {
	h := sha256.New()
	for _, s := range []string{req.Query, req.Text, req.Deleted, req.Named} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	for _, o := range order {
		fmt.Fprintf(h, "%s/%v,", o.Field.Name, o.Desc)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
}

// Cursor returns the cursor that continues after a row whose sort keys
// (as the store answered them) are given.
func (p *Plan) Cursor(keys []any) string {
	enc := make([]any, len(keys))
	for i, k := range keys {
		if t, ok := k.(time.Time); ok {
			enc[i] = t.UTC().Format(time.RFC3339Nano)
		} else {
			enc[i] = k
		}
	}
	b, _ := json.Marshal(cursor{Sig: p.sig, Keys: enc})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Plan) decodeCursor(raw string) ([]any, error) {
	bad := errf("cursor", "", "is not a cursor this listing gave")
	if len(raw) > 4096 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, bad
	}
	var c cursor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&c) != nil {
		return nil, bad
	}
	if c.Sig != p.sig {
		return nil, errf("cursor", "", "was made for another filter or sort")
	}
	order := p.Query.Order
	if len(c.Keys) != len(order)+1 {
		return nil, bad
	}
	keys := make([]any, len(c.Keys))
	for i, k := range c.Keys[:len(order)] {
		if k == nil {
			continue
		}
		v, err := value(order[i].Field, k)
		if err != nil {
			return nil, bad
		}
		keys[i] = v
	}
	id, ok := c.Keys[len(order)].(string)
	if !ok {
		return nil, bad
	}
	keys[len(order)] = id
	return keys, nil
}
