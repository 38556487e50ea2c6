package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

// API keys: created, read back whole, listed in creation order, revoked
// once (a second revocation keeps the first time), and unknown ids and
// taken ids are told apart.
func testAPIKeys(t *testing.T, d store.Driver) {
	ks, ok := d.(store.APIKeyStore)
	if !ok {
		t.Fatalf("%s does not keep API keys (store.APIKeyStore)", d.Name())
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	a := &store.APIKey{ID: "k1", Name: "billing service", Tenant: "acme", Roles: []string{"writer", "reader"},
		Hash: bytes.Repeat([]byte{0xab}, 32), CreatedAt: t0, CreatedBy: "admin"}
	b := &store.APIKey{ID: "k2", Hash: []byte{1, 2, 3}, CreatedAt: t0.Add(time.Minute)}
	for _, k := range []*store.APIKey{a, b} {
		if err := ks.APIKeyCreate(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.APIKeyCreate(ctx, &store.APIKey{ID: "k1", Hash: []byte{9}, CreatedAt: t0}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a taken id: %v", err)
	}
	got, err := ks.APIKeyGet(ctx, "k1")
	if err != nil || got.Name != a.Name || got.Tenant != "acme" || !slices.Equal(got.Roles, a.Roles) ||
		!bytes.Equal(got.Hash, a.Hash) || !got.CreatedAt.Equal(t0) || got.CreatedBy != "admin" || got.RevokedAt != nil {
		t.Fatalf("read back %+v %v", got, err)
	}
	if got, err := ks.APIKeyGet(ctx, "k2"); err != nil || len(got.Roles) != 0 {
		t.Fatalf("a key without roles: %+v %v", got, err)
	}
	if _, err := ks.APIKeyGet(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown key: %v", err)
	}
	t1 := t0.Add(time.Hour)
	if err := ks.APIKeyRevoke(ctx, "k1", t1); err != nil {
		t.Fatal(err)
	}
	if err := ks.APIKeyRevoke(ctx, "k1", t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ks.APIKeyRevoke(ctx, "nope", t1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking an unknown key: %v", err)
	}
	list, err := ks.APIKeyList(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k2" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(t1) || list[1].RevokedAt != nil {
		t.Fatalf("revocations: %v %v", list[0].RevokedAt, list[1].RevokedAt)
	}
}
