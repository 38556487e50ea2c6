package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/store/sqlite"
)

func TestAPIKeysAndModes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := auth.NewAPIKeys(st)
	key, rec, err := auth.NewAPIKey("", "billing", "acme", []string{"writer"}, "admin", time.Now())
	if err != nil || !strings.HasPrefix(key, auth.APIKeyPrefix+rec.ID+"_") || strings.Contains(string(rec.Hash), key) {
		t.Fatalf("new key %q %+v %v", key, rec, err)
	}
	if err := st.APIKeyCreate(ctx, rec); err != nil {
		t.Fatal(err)
	}
	a := &auth.Authenticator{Keys: keys, RequireAuth: true}
	c, err := a.Authenticate(ctx, auth.Request{Authorization: "Bearer " + key})
	if err != nil || c.Tenant != "acme" || c.UserID != "key:"+rec.ID || len(c.Roles) != 1 {
		t.Fatalf("a valid key: %+v %v", c, err)
	}
	var ae *auth.Error
	for _, bad := range []string{
		key[:len(key)-1] + "x",      // wrong secret
		"fk_nosuchid_secret",        // unknown id
		"fk_",                       // malformed
		"fk_" + rec.ID,              // no secret
		strings.Repeat("fk_a_", 99), // long
	} {
		if _, err := a.Authenticate(ctx, auth.Request{Authorization: "Bearer " + bad}); !errors.As(err, &ae) || ae.Reason != "API key not accepted" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := a.Authenticate(ctx, auth.Request{Authorization: "Basic " + key}); !errors.As(err, &ae) {
		t.Errorf("Basic credentials: %v", err)
	}
	if err := st.APIKeyRevoke(ctx, rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	keys.Forget(rec.ID)
	if _, err := a.Authenticate(ctx, auth.Request{Authorization: "Bearer " + key}); !errors.As(err, &ae) {
		t.Fatalf("a revoked key: %v", err)
	}

	// Modes without credentials.
	proxy := auth.Request{ProxyUser: "pat", ProxyTenant: "globex", ProxyRoles: []string{"reader"}}
	for _, m := range []struct {
		a    auth.Authenticator
		want abi.Caller
		err  bool
	}{
		{auth.Authenticator{RequireAuth: true}, abi.Caller{}, true},
		{auth.Authenticator{}, abi.Caller{}, false}, // development: anonymous, headers ignored
		{auth.Authenticator{TrustProxyHeaders: true}, abi.Caller{UserID: "pat", Tenant: "globex", Roles: []string{"reader"}}, false},
		{auth.Authenticator{TrustProxyHeaders: true, RequireAuth: true}, abi.Caller{UserID: "pat", Tenant: "globex", Roles: []string{"reader"}}, false},
	} {
		c, err := m.a.Authenticate(ctx, proxy)
		if (err != nil) != m.err || c.UserID != m.want.UserID || c.Tenant != m.want.Tenant {
			t.Errorf("%+v: %+v %v", m.a, c, err)
		}
	}
	if _, err := (&auth.Authenticator{TrustProxyHeaders: true}).Authenticate(ctx, auth.Request{ProxyUser: "role:admin"}); err == nil {
		t.Error("a proxy user named like a role was accepted")
	}
	if _, err := (&auth.Authenticator{TrustProxyHeaders: true}).Authenticate(ctx, auth.Request{ProxyUser: "a\nb"}); err == nil {
		t.Error("a proxy user with a newline was accepted")
	}
	// A bearer token with no verifier configured is refused, not ignored.
	if _, err := (&auth.Authenticator{}).Authenticate(ctx, auth.Request{Authorization: "Bearer eyJhbGciOi"}); !errors.As(err, &ae) {
		t.Errorf("a JWT without a verifier: %v", err)
	}

	// The admin key: made once, then honoured for the management API.
	admin, err := auth.EnsureAdminKey(ctx, st, time.Now())
	if err != nil || admin == "" {
		t.Fatalf("admin key: %q %v", admin, err)
	}
	if again, err := auth.EnsureAdminKey(ctx, st, time.Now()); err != nil || again != "" {
		t.Fatalf("a second start made another admin key: %q %v", again, err)
	}
	if _, err := a.Admin(ctx, auth.Request{Authorization: "Bearer " + admin}); err != nil {
		t.Fatalf("the admin key: %v", err)
	}
	other, rec2, _ := auth.NewAPIKey("", "svc", "", []string{"writer"}, "admin", time.Now())
	st.APIKeyCreate(ctx, rec2)
	if _, err := a.Admin(ctx, auth.Request{Authorization: "Bearer " + other}); !errors.Is(err, auth.ErrNotAdmin) {
		t.Fatalf("a key without the admin role: %v", err)
	}
	if _, err := a.Admin(ctx, auth.Request{}); !errors.Is(err, auth.ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	fixed := &auth.Authenticator{AdminKey: "a-configured-admin-key-of-some-length"}
	if _, err := fixed.Admin(ctx, auth.Request{Authorization: "Bearer a-configured-admin-key-of-some-length"}); err != nil {
		t.Fatalf("FLUVIUS_ADMIN_KEY: %v", err)
	}
}
