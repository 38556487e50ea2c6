package store

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseHeld: another owner holds the subscription's lease, which has
// not expired. ErrLeaseLost: the caller's lease expired or was taken; what
// it meant to write was not written.
var (
	ErrLeaseHeld = errors.New("store: lease held by another owner")
	ErrLeaseLost = errors.New("store: lease lost")
)

// SubscriptionStore keeps durable subscriptions: each one's place in the
// feed, the lease that lets exactly one host run it, and the deliveries it
// set aside (dead letters). Times of leases are the store's own clock, so
// hosts with skewed clocks agree on who holds one.
type SubscriptionStore interface {
	// SubscriptionClaim takes or renews name's lease for owner until ttl
	// from now: when nobody holds it, its lease expired, or owner holds it
	// already. A subscription seen for the first time is created at the
	// head of the feed (what a follower can read now). ErrLeaseHeld when
	// another owner holds it.
	SubscriptionClaim(ctx context.Context, name, owner string, ttl time.Duration) (*Subscription, error)
	// SubscriptionAdvance moves the subscription's cursor and records its
	// dead letters in one transaction, only while owner holds an unexpired
	// lease (ErrLeaseLost otherwise, and nothing is written).
	SubscriptionAdvance(ctx context.Context, p *SubscriptionAdvance) error
	// SubscriptionRelease gives the lease up, if owner holds it.
	SubscriptionRelease(ctx context.Context, name, owner string) error
	// SubscriptionList returns every subscription by name, with its lag
	// (feed events after its cursor that a follower can read) and its
	// unresolved dead letters counted.
	SubscriptionList(ctx context.Context) ([]*Subscription, error)
	// DeadLetterList returns a subscription's dead letters, oldest first:
	// the unresolved ones, or all with resolved.
	DeadLetterList(ctx context.Context, subscription string, resolved bool, limit int) ([]*DeadLetter, error)
	// DeadLetterGet returns one dead letter; ErrNotFound if there is none.
	DeadLetterGet(ctx context.Context, id int64) (*DeadLetter, error)
	// DeadLetterUpdate records the outcome of trying a dead letter again:
	// resolved with resolution ("retried", "skipped") and who did it, or,
	// with resolution "", one more failed attempt (code, message).
	// ErrNotFound if the letter does not exist or is resolved already.
	DeadLetterUpdate(ctx context.Context, u *DeadLetterUpdate) error
}

// Subscription is a durable subscription's row.
type Subscription struct {
	Name        string
	Cursor      Cursor // the last event handled (delivered or dead-lettered)
	Owner       string // "" when nobody holds the lease
	LeaseUntil  time.Time
	Delivered   int64 // events handled so far
	DeadLetters int64 // unresolved (SubscriptionList only)
	Lag         int64 // events after Cursor (SubscriptionList only)
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SubscriptionAdvance is SubscriptionAdvance's argument.
type SubscriptionAdvance struct {
	Name, Owner string
	Cursor      Cursor
	Delivered   int64 // added to the subscription's count
	Dead        []*DeadLetter
}

// DeadLetter is a delivery a subscription set aside after it failed.
type DeadLetter struct {
	ID           int64 // set by the store
	Subscription string
	EventID      string
	Tenant       string
	Stream       string
	Version      int64
	Type         string
	Cursor       Cursor
	Code         string // the last failure's code
	Message      string // and its message
	Attempts     int
	FailedAt     time.Time
	Resolution   string // "" while unresolved; "retried" or "skipped"
	ResolvedBy   string
	ResolvedAt   time.Time
}

// DeadLetterUpdate is DeadLetterUpdate's argument.
type DeadLetterUpdate struct {
	ID            int64
	Resolution    string // "retried", "skipped"; "" for a failed attempt
	By            string
	Code, Message string // of a failed attempt
}

// Resolutions of dead letters.
const (
	DeadLetterRetried = "retried"
	DeadLetterSkipped = "skipped"
)
