// Package query is the read side's query service: it knows what each
// resource offers to lists (its query resource, from the manifest), parses
// Fluvius's query language from a request into a store.StateQuery (every
// field known, every operator fit for its field's type, every value of the
// right type, bounded in size and depth) and projects the answers. It knows
// nothing of HTTP; the store compiles what it makes to SQL.
package query

import (
	"fmt"
	"sort"
	"strings"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlq"
)

// Resource is what a resource offers to queries.
type Resource struct {
	Domain, Name string
	Fields       map[string]store.Field
	DefaultSort  []store.Order
	Text         []string        // string state properties text search looks in
	Hidden       map[string]bool // state properties never answered
	Named        map[string]Named
}

// Named is a query a resource offers by name, parsed.
type Named struct {
	Where       store.Node
	Sort        []store.Order // nil: the resource's default
	Description string
}

// fieldName is a state property a query may name: no '.', '!' or ','
// (query syntax), and no leading '_' (the record's own fields).
// It is the rule sqlq checks before it writes a name into SQL.
var fieldName = sqlq.PropertyName

// ValidName reports whether a state property's name can be queried (and
// row-scoped on): letters, digits, '_' and '-', starting with a letter.
func ValidName(name string) bool { return fieldName.MatchString(name) }

// builtins are the record's own fields, on every resource.
var builtins = map[string]store.Field{
	"_id":         {Name: "_id", Type: store.TypeString, Column: "id"},
	"_version":    {Name: "_version", Type: store.TypeInteger, Column: "version"},
	"_created_at": {Name: "_created_at", Type: store.TypeTime, Column: "created_at"},
	"_updated_at": {Name: "_updated_at", Type: store.TypeTime, Column: "updated_at"},
	"_created_by": {Name: "_created_by", Type: store.TypeString, Column: "created_by"},
	"_updated_by": {Name: "_updated_by", Type: store.TypeString, Column: "updated_by"},
}

// ResourceOf reads a resource's query resource from its aggregate's
// manifest entry, refusing one the host could not serve: a field the
// state schema does not declare or types as something queries cannot
// compare, a sort or text field that is not a query field.
func ResourceOf(domain, resource string, agg *abi.AggregateSpec) (*Resource, error) {
	r := &Resource{Domain: domain, Name: resource, Fields: map[string]store.Field{}, Hidden: map[string]bool{}}
	for k, f := range builtins {
		r.Fields[k] = f
	}
	r.DefaultSort = []store.Order{{Field: builtins["_created_at"], Desc: true}}
	q := agg.Query
	if q == nil {
		return r, nil
	}
	if len(q.Fields) > 64 || len(q.Sort) > 8 || len(q.Text) > 16 || len(q.Hidden) > 64 {
		return nil, fmt.Errorf("query: at most 64 fields, 8 sorts, 16 text and 64 hidden fields")
	}
	for _, name := range q.Fields {
		if !fieldName.MatchString(name) {
			return nil, fmt.Errorf("query field %q: a name of letters, digits, '_' and '-', starting with a letter", name)
		}
		if _, dup := r.Fields[name]; dup {
			return nil, fmt.Errorf("query field %q is declared twice", name)
		}
		var ps *abi.Schema
		if agg.State != nil {
			ps = agg.State.Properties[name]
		}
		if ps == nil {
			return nil, fmt.Errorf("query field %q: the state schema declares no such property", name)
		}
		f := store.Field{Name: name}
		switch {
		case ps.Type == "string":
			f.Type = store.TypeString
		case ps.Type == "integer":
			f.Type = store.TypeInteger
		case ps.Type == "number":
			f.Type = store.TypeNumber
		case ps.Type == "boolean":
			f.Type = store.TypeBoolean
		case ps.Type == "array" && ps.Items != nil && ps.Items.Type == "string":
			f.Type = store.TypeStrings
		default:
			return nil, fmt.Errorf("query field %q: a %s cannot be queried (string, integer, number, boolean or array of strings)", name, ps.Type)
		}
		r.Fields[name] = f
	}
	if len(q.Sort) > 0 {
		sorts, err := r.parseSort(strings.Join(q.Sort, ","))
		if err != nil {
			return nil, fmt.Errorf("query sort: %v", err)
		}
		r.DefaultSort = sorts
	}
	for _, name := range q.Text {
		if f, ok := r.Fields[name]; !ok || f.Column != "" || f.Type != store.TypeString {
			return nil, fmt.Errorf("query text field %q is not a string query field", name)
		}
		r.Text = append(r.Text, name)
	}
	for _, name := range q.Hidden {
		if agg.State != nil && agg.State.Properties[name] == nil {
			return nil, fmt.Errorf("hidden field %q: the state schema declares no such property", name)
		}
		if _, queryable := r.Fields[name]; queryable {
			return nil, fmt.Errorf("hidden field %q is a query field: what is hidden cannot be filtered on", name)
		}
		r.Hidden[name] = true
	}
	if len(q.Named) > 32 {
		return nil, fmt.Errorf("query: at most 32 named queries")
	}
	for name, nq := range q.Named {
		if !fieldName.MatchString(name) {
			return nil, fmt.Errorf("named query %q: a name of letters, digits, '_' and '-'", name)
		}
		n := Named{Description: nq.Description}
		if nq.Filter != "" {
			w, err := r.parseFilter(nq.Filter)
			if err != nil {
				return nil, fmt.Errorf("named query %s: %v", name, err)
			}
			n.Where = w
		}
		if nq.Sort != "" {
			sorts, err := r.parseSort(nq.Sort)
			if err != nil {
				return nil, fmt.Errorf("named query %s: sort: %v", name, err)
			}
			n.Sort = sorts
		}
		if r.Named == nil {
			r.Named = map[string]Named{}
		}
		r.Named[name] = n
	}
	return r, nil
}

// Operators returns the operators a field takes, by name.
func Operators(t store.FieldType) []string {
	switch t {
	case store.TypeString:
		return []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notin", "between", "has", "null"}
	case store.TypeInteger, store.TypeNumber, store.TypeTime:
		return []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notin", "between", "null"}
	case store.TypeBoolean:
		return []string{"eq", "ne", "null"}
	case store.TypeStrings:
		return []string{"cs", "ov", "null"}
	}
	return nil
}

// TypeName names a field type for clients.
func TypeName(t store.FieldType) string {
	return [...]string{"string", "integer", "number", "boolean", "array", "time"}[t]
}

// Sortable says whether a field can be sorted on.
func Sortable(t store.FieldType) bool { return t != store.TypeStrings }

// FieldNames returns the resource's query fields, sorted.
func (r *Resource) FieldNames() []string {
	out := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
