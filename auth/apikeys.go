package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// APIKeyPrefix starts every API key: "fk_<id>_<secret>". The id names the
// stored record; only a SHA-256 of the secret is stored.
const APIKeyPrefix = "fk_"

// AdminKeyID is the id of the admin key when the host generated it.
const AdminKeyID = "admin"

// RoleAdmin is the role the management API requires.
const RoleAdmin = "admin"

// apiKeyCacheTTL bounds how long a looked-up key is trusted without asking
// the store again: a revocation reaches every host within it.
const apiKeyCacheTTL = 5 * time.Second

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey makes a key for a caller of tenant with roles. It returns the
// key, which is shown once and never stored, and the record to store.
func NewAPIKey(id, name, tenant string, roles []string, by string, now time.Time) (string, *store.APIKey, error) {
	if id == "" {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		id = idEncoding.EncodeToString(b[:])
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", nil, err
	}
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(s))
	return APIKeyPrefix + id + "_" + s, &store.APIKey{ID: id, Name: name, Tenant: tenant, Roles: roles,
		Hash: sum[:], CreatedAt: now, CreatedBy: by}, nil
}

// APIKeys checks API keys against the store, with a short cache.
type APIKeys struct {
	store store.APIKeyStore
	now   func() time.Time
	mu    sync.Mutex
	seen  map[string]cachedKey
}

type cachedKey struct {
	key *store.APIKey // nil: not found
	at  time.Time
}

// NewAPIKeys checks keys kept in s.
func NewAPIKeys(s store.APIKeyStore) *APIKeys {
	return &APIKeys{store: s, now: time.Now, seen: map[string]cachedKey{}}
}

var errKeyRefused = &Error{Reason: "API key not accepted"}

// Verify returns the caller a key stands for. A malformed, unknown or
// revoked key, or a wrong secret, is one and the same *Error: a client
// learns nothing about which ids exist.
func (k *APIKeys) Verify(ctx context.Context, key string) (abi.Caller, error) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || id == "" || len(id) > 64 || len(secret) > 128 {
		return abi.Caller{}, errKeyRefused
	}
	rec, err := k.lookup(ctx, id)
	if err != nil {
		return abi.Caller{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if rec == nil || rec.RevokedAt != nil || subtle.ConstantTimeCompare(sum[:], rec.Hash) != 1 {
		return abi.Caller{}, errKeyRefused
	}
	return abi.Caller{UserID: "key:" + rec.ID, Tenant: rec.Tenant, Roles: rec.Roles}, nil
}

func (k *APIKeys) lookup(ctx context.Context, id string) (*store.APIKey, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.seen[id]
	k.mu.Unlock()
	if ok && now.Sub(c.at) < apiKeyCacheTTL {
		return c.key, nil
	}
	rec, err := k.store.APIKeyGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.seen) > 10_000 { // made-up ids cannot grow the cache without bound
		clear(k.seen)
	}
	k.seen[id] = cachedKey{key: rec, at: now}
	k.mu.Unlock()
	return rec, nil
}

// Forget drops a key from the cache (after this host revoked it).
func (k *APIKeys) Forget(id string) {
	k.mu.Lock()
	delete(k.seen, id)
	k.mu.Unlock()
}

// EnsureAdminKey makes the admin key when the store has none, and returns
// it to be shown once; it returns "" when one exists already (made by an
// earlier start, or by another host starting at the same time).
func EnsureAdminKey(ctx context.Context, s store.APIKeyStore, now time.Time) (string, error) {
	if _, err := s.APIKeyGet(ctx, AdminKeyID); err == nil {
		return "", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	key, rec, err := NewAPIKey(AdminKeyID, "admin key", "", []string{RoleAdmin}, "fluvius-host", now)
	if err != nil {
		return "", err
	}
	if err := s.APIKeyCreate(ctx, rec); errors.Is(err, store.ErrDuplicate) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return key, nil
}
