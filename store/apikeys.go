package store

import (
	"context"
	"time"
)

// APIKey is an API key as stored: its secret is never stored, only a hash
// of it, so a copy of the database gives no one a working key.
type APIKey struct {
	ID        string // public: the part of the key that names it
	Name      string // what it is for, as its creator said
	Tenant    string // the tenant its caller acts in
	Roles     []string
	Hash      []byte // SHA-256 of the secret part
	CreatedAt time.Time
	CreatedBy string
	RevokedAt *time.Time // nil while the key is valid
}

// APIKeyStore keeps API keys. It is a feature's own small interface, not a
// part of Executor: drivers implement it next to Driver (DO NOT IMPLEMENT
// outside this repository; it may grow).
type APIKeyStore interface {
	// APIKeyCreate stores a new key; ErrDuplicate if its ID is taken.
	APIKeyCreate(ctx context.Context, k *APIKey) error
	// APIKeyGet reads a key, revoked or not; ErrNotFound if there is none.
	APIKeyGet(ctx context.Context, id string) (*APIKey, error)
	// APIKeyList lists every key, oldest first.
	APIKeyList(ctx context.Context) ([]*APIKey, error)
	// APIKeyRevoke marks a key revoked from at on; ErrNotFound if there is
	// none. Revoking a revoked key keeps its first revocation time.
	APIKeyRevoke(ctx context.Context, id string, at time.Time) error
}
