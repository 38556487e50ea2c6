package store

import "context"

// A StateQuery is a list of state records, as the query service asks a
// driver for it: already parsed and checked (fields exist, operators suit
// their types, values have the right types), so a driver only compiles it
// to its SQL. Values are bound as parameters, never written into SQL.
type StateQuery struct {
	Tenant, Domain, Resource string
	Where                    Node // nil: every record
	Order                    []Order
	Limit                    int // at least 1
	Offset                   int // ignored with After
	// After continues a listing past the row whose sort values (one per
	// Order, then the id) are given: keyset paging, no OFFSET.
	After          []any
	IncludeDeleted bool // soft-deleted records too
	// Count asks for the total number of matching records as well.
	Count bool
}

// A Node is a filter: And, Or, Not or Cond.
type Node interface{ node() }

// And holds when every child holds (an empty And always holds).
type And []Node

// Or holds when any child holds (an empty Or never holds).
type Or []Node

// Not holds exactly when its child does not: a record whose field is
// missing or null is matched by Not(eq), unlike SQL's three-valued NOT.
type Not struct{ Node Node }

// Cond compares one field with a value.
type Cond struct {
	Field Field
	Op    Op
	// Value is a string, int64, float64 or bool; a []any of them for In,
	// Between (two), Contains and Overlaps; ignored for Null.
	Value any
}

func (And) node()  {}
func (Or) node()   {}
func (Not) node()  {}
func (Cond) node() {}

// Field is a field a query may name: a top-level property of the state
// (JSON) or a column of the record.
type Field struct {
	Name   string    // as clients name it
	Type   FieldType //
	Column string    // a record column (id, version, created_at, ...); "" for a state property
}

// FieldType is what a field holds, which sets the operators it takes.
type FieldType int

// Field types.
const (
	TypeString FieldType = iota
	TypeInteger
	TypeNumber
	TypeBoolean
	TypeStrings // an array of strings
	TypeTime    // a record time; values are time.Time
)

// Op is a comparison.
type Op int

// Operators. Ne and NotIn are not here: the query service makes them
// Not(Eq) and Not(In).
const (
	OpEq       Op = iota
	OpGt          // >
	OpGte         // >=
	OpLt          // <
	OpLte         // <=
	OpIn          // equal to one of a list
	OpBetween     // between two values, both included
	OpHas         // a case-insensitive substring; % and _ are plain characters
	OpContains    // an array holding every value of a list
	OpOverlaps    // an array holding at least one value of a list
	OpNull        // missing or null
)

// Order sorts by a field.
type Order struct {
	Field Field
	Desc  bool
}

// StateQueryResult is one page of a list.
type StateQueryResult struct {
	Records []*StateRecord
	// Keys are the sort values of each record (one per Order, then the
	// id), for the cursor that continues after it.
	Keys  [][]any
	Total int64 // when Count was asked
}

// TextCond is a full-text search: every word, case-insensitively, in one
// of the fields (string state properties).
type TextCond struct {
	Fields []string
	Words  []string
}

func (TextCond) node() {}

// StateQuerier lists state records (DO NOT IMPLEMENT outside this
// repository; it may grow).
type StateQuerier interface {
	StateQuery(ctx context.Context, q *StateQuery) (*StateQueryResult, error)
}

// IndexSpec is what a resource's lists filter and sort on: the query
// fields (scalars get an expression index) and the text fields.
type IndexSpec struct {
	Fields []Field
	Text   []string
}

// StateIndexer creates the indexes queries on state properties need,
// without blocking writes where the backend can (DO NOT IMPLEMENT outside
// this repository; it may grow). Indexes are named by what they index, so
// resources declaring the same property share one, and a call for what
// exists already does nothing.
type StateIndexer interface {
	StateIndexes(ctx context.Context, spec IndexSpec) error
}
