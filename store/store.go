package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Drivers wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrVersionConflict: the stream or state is not at the expected version.
	ErrVersionConflict = errors.New("store: version conflict")
	// ErrDuplicate: a record with that key already exists.
	ErrDuplicate = errors.New("store: duplicate")
	// ErrInUse: the record is in use and cannot be changed that way (the
	// active version of a plugin cannot be deleted).
	ErrInUse = errors.New("store: in use")
	// ErrClosed: the driver has been closed.
	ErrClosed = errors.New("store: closed")
)

// AnyVersion as an expected version skips the concurrency check.
const AnyVersion int64 = -1

// Driver is a storage backend.
type Driver interface {
	// Name identifies the driver ("sqlite", "postgres").
	Name() string
	// Capabilities says what the backend can do beyond the interface.
	Capabilities() Capabilities
	// Executor runs each call in a transaction of its own.
	Executor() Executor
	// Begin starts a write transaction.
	Begin(ctx context.Context) (Tx, error)
	// CommitCommands writes a batch of commands in one transaction (group
	// commit). Each command is all or nothing: one that cannot be written
	// (ErrVersionConflict; ErrDuplicate for a taken idempotency key) is
	// left out with its error at its index while the others commit. A
	// non-nil error means nothing was committed. It returns after the
	// commit is durable.
	CommitCommands(ctx context.Context, cmds []*CommandWrite) ([]error, error)
	// WaitForEvents returns when events after the cursor may have become
	// readable (an append committed here or, where the backend can tell,
	// in another process), when ctx ends, or after the driver's poll
	// interval at the latest. Callers read again after it returns.
	WaitForEvents(ctx context.Context, after Cursor) error
	// Close releases the backend. Calls after Close fail with ErrClosed.
	Close() error
}

// Capabilities are backend differences callers may need to know of. A test
// that needs one checks it and says so; it never skips silently.
type Capabilities struct {
	// ConcurrentWriters: several transactions may write at once (PostgreSQL)
	// rather than one after another (SQLite's single writer).
	ConcurrentWriters bool
}

// Tx is a write transaction. Rollback after Commit is a no-op, so callers
// may defer it.
type Tx interface {
	Executor
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	// Savepoint marks the transaction's current state. Group commit wraps
	// each command of a batch in one, so a command that fails is undone
	// without failing its batch-mates.
	Savepoint(ctx context.Context) (Savepoint, error)
}

// Savepoint is a point a transaction can roll back to. Exactly one of
// Release and Rollback is called.
type Savepoint interface {
	// Release keeps what was written since the savepoint.
	Release(ctx context.Context) error
	// Rollback undoes what was written since the savepoint; the
	// transaction stays usable.
	Rollback(ctx context.Context) error
}

// Executor is everything a driver does, in or outside a transaction.
type Executor interface {
	// EventsAppend appends events to a stream if it is at ExpectedVersion
	// (0: the stream must not exist; AnyVersion: no check). The events get
	// the versions that follow and increasing global positions.
	EventsAppend(ctx context.Context, p *EventsAppendParams) (*EventsAppendResult, error)
	// EventsReadStream reads a stream's events in version order.
	EventsReadStream(ctx context.Context, p *EventsReadStreamParams) ([]*Event, error)
	// EventsReadAll reads every stream's events after a cursor, in feed
	// order: (TxID, Position). Only events whose transaction can no longer
	// be overtaken are returned, so a reader that follows the feed with the
	// last event's cursor never skips an event that commits late.
	EventsReadAll(ctx context.Context, p *EventsReadAllParams) ([]*Event, error)
	// StreamVersion returns a stream's version (0 for a stream with no events).
	StreamVersion(ctx context.Context, k StreamKey) (int64, error)

	// StateGet reads one state record; ErrNotFound if there is none.
	StateGet(ctx context.Context, p *StateKey) (*StateRecord, error)
	// StatePut writes a state record if it is at ExpectedVersion (0: it must
	// not exist), else ErrVersionConflict.
	StatePut(ctx context.Context, p *StatePutParams) (*StateRecord, error)

	// IdempotencyGet reads an idempotency record; ErrNotFound if none.
	IdempotencyGet(ctx context.Context, p *IdempotencyKey) (*IdempotencyRecord, error)
	// IdempotencyPut records a command's outcome under its key; ErrDuplicate
	// if the key is taken.
	IdempotencyPut(ctx context.Context, p *IdempotencyRecord) error
}

// CommandWrite is everything one command writes: its events, the state
// they lead to and the answer remembered under its idempotency key.
type CommandWrite struct {
	Append      *EventsAppendParams // nil: the command emitted nothing
	State       *StatePutParams     // set with Append; its ExpectedVersion matches
	Idempotency *IdempotencyRecord  // nil: no key was given
}

// NewEvent is an event to append.
type NewEvent struct {
	ID       string // unique; the host generates it
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON: command id, caller, correlation and causation ids
}

// StreamKey names a stream: streams are named within a tenant, so the same
// name in two tenants is two streams.
type StreamKey struct {
	Tenant string // "" is the default tenant
	Stream string
}

// Event is a stored event.
type Event struct {
	ID       string
	Tenant   string
	Stream   string
	Version  int64 // 1-based position in its stream
	Position int64 // global position; unique, increasing in insert order
	// TxID is the writing transaction's id where the backend exposes one
	// (PostgreSQL's xid8), else 0. Commit order can differ from Position
	// order under concurrent writers; the feed is ordered by (TxID, Position).
	TxID      uint64
	Type      string
	Data      []byte
	Metadata  []byte
	CreatedAt time.Time
}

// EventsAppendParams are EventsAppend's arguments.
type EventsAppendParams struct {
	StreamKey
	ExpectedVersion int64
	Events          []NewEvent
	Now             time.Time
}

// EventsAppendResult is what EventsAppend returns.
type EventsAppendResult struct {
	Events  []*Event
	Version int64 // the stream's version after the append
}

// EventsReadStreamParams are EventsReadStream's arguments.
type EventsReadStreamParams struct {
	StreamKey
	AfterVersion int64 // read versions above this
	UpToVersion  int64 // 0: no upper bound
	Limit        int   // 0: no limit
	// MaxBytes stops the read after the event that brings the events' Data
	// bytes to MaxBytes or more (0: no bound), so one read holds a bounded
	// amount of memory whatever the events' sizes. The first event is
	// returned whatever its size.
	MaxBytes int
}

// Cursor is a place in the all-events feed. The zero Cursor is its start.
type Cursor struct {
	TxID     uint64
	Position int64
}

// Cursor returns the feed position just past e.
func (e *Event) Cursor() Cursor { return Cursor{TxID: e.TxID, Position: e.Position} }

// EventsReadAllParams are EventsReadAll's arguments.
type EventsReadAllParams struct {
	After Cursor
	Limit int // 0: a driver default of 1000
}

// StateKey names one state record.
// The tenant is part of the key: the same id in two tenants names two
// aggregates ("" is the default tenant).
type StateKey struct {
	Tenant, Domain, Resource, ID string
}

// StateRecord is a stored state (read model) with its audit fields.
type StateRecord struct {
	StateKey
	Data      []byte // JSON
	Version   int64  // the aggregate version the state reflects
	ETag      string
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt time.Time
	UpdatedBy string
}

// StatePutParams are StatePut's arguments.
type StatePutParams struct {
	StateKey
	Data            []byte
	Version         int64
	ExpectedVersion int64
	ETag            string
	By              string // the user writing
	Now             time.Time
	// Deleted soft-deletes the record (deleted at Now): reads and
	// commands no longer find it, lists leave it out unless asked; its
	// events stay.
	Deleted bool
}

// IdempotencyKey names one idempotency record.
type IdempotencyKey struct {
	Scope string // who may reuse the key: the host uses domain and caller
	Key   string
}

// IdempotencyRecord is the remembered outcome of a command.
type IdempotencyRecord struct {
	IdempotencyKey
	RequestHash string // the request the key was first used with
	Status      int    // the HTTP status answered
	Response    []byte // the body answered
	CreatedAt   time.Time
}

// FeedTail reads the end of the event feed (DO NOT IMPLEMENT outside this
// repository; it may grow).
type FeedTail interface {
	// EventsLatest returns the last limit events of the feed that a
	// follower can read already, oldest first: where a live view starts
	// before it follows with EventsReadAll from the last one's cursor.
	EventsLatest(ctx context.Context, limit int) ([]*Event, error)
}

// IdempotencySweeper lets idempotency records expire (DO NOT IMPLEMENT
// outside this repository; it may grow).
type IdempotencySweeper interface {
	// IdempotencySweep deletes at most limit records made before before and
	// returns how many it deleted.
	IdempotencySweep(ctx context.Context, before time.Time, limit int) (int, error)
	// IdempotencyCount returns how many records are held.
	IdempotencyCount(ctx context.Context) (int64, error)
}
