package admin_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/store/sqlite"
)

const jwtSecret = "a-shared-secret-of-at-least-32-bytes!!"

func hs256(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// With a JWT secret configured, domain APIs need credentials: none, or a
// bad token, gets 401 with a problem and a Bearer challenge; a valid token
// runs as its subject in its tenant; API keys made through the management
// API (with the admin key) work until revoked; the management API needs the
// admin role; proxy headers count for nothing unless trusted.
func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := sqlite.Open(ctx, filepath.Join(dir, "keys.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	verifier, err := auth.NewVerifier(ctx, auth.Config{Secret: []byte(jwtSecret), Issuer: "https://idp.test", Audience: "fluvius"})
	if err != nil {
		t.Fatal(err)
	}
	defer verifier.Close()
	adminKey, err := auth.EnsureAdminKey(ctx, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, dir, nil, func(o *admin.Options) {
		o.Auth = &auth.Authenticator{JWT: verifier, Keys: auth.NewAPIKeys(keys), RequireAuth: true}
		o.APIKeys = keys
	})
	now := time.Now()
	valid := jwt.MapClaims{"sub": "ann", "tenant": "acme", "realm_access": map[string]any{"roles": []string{"clerk"}},
		"iss": "https://idp.test", "aud": "fluvius", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	create := func(headers ...string) response {
		return s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@acme.com","name":"Ann"}`, headers...)
	}

	refused := create()
	refused.problem(t, 401, "unauthenticated")
	if h := refused.header.Get("WWW-Authenticate"); h != `Bearer realm="fluvius"` {
		t.Fatalf("challenge %q", h)
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for name, tok := range map[string]string{
		"expired":      hs256(t, with("exp", now.Add(-time.Hour).Unix())),
		"not yet":      hs256(t, with("nbf", now.Add(time.Hour).Unix())),
		"wrong issuer": hs256(t, with("iss", "https://evil.test")),
		"wrong aud":    hs256(t, with("aud", "someone-else")),
		"no expiry":    hs256(t, with("exp", nil)),
		"forged":       hs256(t, valid)[:20] + "x" + hs256(t, valid)[21:],
		"alg none": func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return tok
		}(),
		"garbage": "not.a.token",
	} {
		r := create(bearer(tok)...)
		r.problem(t, 401, "unauthenticated")
		if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: challenge %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	// A proxy's headers are not credentials here.
	create("X-Fluvius-User", "mallory", "X-Fluvius-Tenant", "acme").problem(t, 401, "unauthenticated")

	good := hs256(t, valid)
	id := create(bearer(good)...).want(t, 201).body["id"].(string)
	st := s.do(t, "GET", "/user.user/"+id, "", bearer(good)...).want(t, 200)
	if st.body["created_by"] != "ann" || st.body["tenant"] != "acme" {
		t.Fatalf("the token's caller was not used: %s", st.raw)
	}
	other := hs256(t, with("tenant", "globex"))
	s.do(t, "GET", "/user.user/"+id, "", bearer(other)...).problem(t, 404, "aggregate-not-found")

	// The management API: API keys.
	s.do(t, "POST", "/_admin/api-keys", `{"name":"svc","tenant":"acme","roles":["writer"]}`).problem(t, 401, "unauthenticated")
	s.do(t, "POST", "/_admin/api-keys", `{"name":"svc"}`, bearer(good)...).problem(t, 403, "forbidden")
	made := s.do(t, "POST", "/_admin/api-keys", `{"name":"svc","tenant":"acme","roles":["writer"]}`, bearer(adminKey)...).want(t, 201)
	key, keyID := made.body["key"].(string), made.body["id"].(string)
	if !strings.HasPrefix(key, "fk_"+keyID+"_") || made.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created %s", made.raw)
	}
	s.do(t, "POST", "/_admin/api-keys", `{"name":"x","name":"y"}`, bearer(adminKey)...).problem(t, 400, "malformed-json")
	s.do(t, "POST", "/_admin/api-keys", `{"nom":"x"}`, bearer(adminKey)...).problem(t, 400, "invalid-payload")
	if got := s.do(t, "GET", "/user.user/"+id, "", bearer(key)...).want(t, 200); got.body["id"] != id {
		t.Fatalf("the API key reads %s", got.raw)
	}
	list := s.do(t, "GET", "/_admin/api-keys", "", bearer(adminKey)...).want(t, 200)
	if strings.Contains(string(list.raw), key[len(key)-10:]) || !strings.Contains(string(list.raw), keyID) {
		t.Fatalf("the list shows secrets or misses the key: %s", list.raw)
	}
	s.do(t, "DELETE", "/_admin/api-keys/"+keyID, "", bearer(adminKey)...).want(t, 204)
	s.do(t, "DELETE", "/_admin/api-keys/nope", "", bearer(adminKey)...).problem(t, 404, "api-key-not-found")
	s.do(t, "GET", "/user.user/"+id, "", bearer(key)...).problem(t, 401, "unauthenticated")
}

// Without any configuration the host runs in development mode: anonymous
// callers are let in (the default tenant), and proxy headers are ignored.
func TestDevelopmentMode(t *testing.T) {
	s := startServerWith(t, t.TempDir(), nil, func(o *admin.Options) { o.Auth = nil })
	id := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"ann@example.com","name":"Ann"}`,
		"X-Fluvius-User", "mallory", "X-Fluvius-Tenant", "acme").want(t, 201).body["id"].(string)
	st := s.do(t, "GET", "/user.user/"+id, "").want(t, 200)
	if st.body["tenant"] != nil || st.body["created_by"] != nil {
		t.Fatalf("untrusted headers were honoured: %s", st.raw)
	}
}
