package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"fluvius.dev/fluvius/abi"
)

func TestValidTokens(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t,
		rsaJWK("rsa-a", &k.rsaA.PublicKey),
		ecJWK("ec-1", &k.ec.PublicKey),
		edJWK("ed-1", k.ed.Public().(ed25519PublicKey)),
	)
	v := newVerifier(t, Config{Secret: testSecret, JWKSURL: srv.URL, Now: clk.Now})

	cases := []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"HS256", jwt.SigningMethodHS256, testSecret, ""},
		{"HS256 with a kid", jwt.SigningMethodHS256, testSecret, "whatever"},
		{"RS256", jwt.SigningMethodRS256, k.rsaA, "rsa-a"},
		{"ES256", jwt.SigningMethodES256, k.ec, "ec-1"},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, "ed-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := claimsAt(clk.Now())
			claims["tenant"] = "acme"
			claims["roles"] = []string{"admin", "clerk"}
			got, err := v.Verify(context.Background(), sign(t, c.method, c.key, c.kid, claims))
			if err != nil {
				t.Fatal(err)
			}
			want := abi.Caller{UserID: "user-1", Tenant: "acme", Roles: []string{"admin", "clerk"}}
			if !equalCaller(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (at start)", n)
	}
}

func TestClaimMapping(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	keycloak := newVerifier(t, Config{Secret: testSecret, Now: clk.Now})
	renamed := newVerifier(t, Config{Secret: testSecret, Now: clk.Now,
		Claims: ClaimNames{User: "preferred_username", Tenant: "org", Roles: "groups"}})

	with := func(kv ...any) jwt.MapClaims {
		c := claimsAt(now)
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	cases := []struct {
		name   string
		v      *Verifier
		claims jwt.MapClaims
		want   abi.Caller
	}{
		{"no tenant, no roles", keycloak, with(), abi.Caller{UserID: "user-1"}},
		{"keycloak realm roles", keycloak,
			with("realm_access", map[string]any{"roles": []string{"offline_access", "uma_authorization", "admin"}},
				"resource_access", map[string]any{"account": map[string]any{"roles": []string{"manage-account"}}}),
			abi.Caller{UserID: "user-1", Roles: []string{"offline_access", "uma_authorization", "admin"}}},
		{"roles claim wins over realm_access", keycloak,
			with("roles", []string{"a"}, "realm_access", map[string]any{"roles": []string{"b"}}),
			abi.Caller{UserID: "user-1", Roles: []string{"a"}}},
		{"space-separated roles", keycloak, with("roles", " read  write "),
			abi.Caller{UserID: "user-1", Roles: []string{"read", "write"}}},
		{"empty tenant is the default tenant", keycloak, with("tenant", ""), abi.Caller{UserID: "user-1"}},
		{"null tenant is the default tenant", keycloak, with("tenant", nil), abi.Caller{UserID: "user-1"}},
		{"realm_access without roles", keycloak, with("realm_access", map[string]any{}), abi.Caller{UserID: "user-1"}},
		{"unicode ids", keycloak, with("sub", "Zoë 李", "tenant", "ACME—Ltd"),
			abi.Caller{UserID: "Zoë 李", Tenant: "ACME—Ltd"}},
		{"renamed claims", renamed,
			with("preferred_username", "ann", "org", "t-9", "groups", []string{"ops"}, "tenant", "ignored", "roles", []string{"ignored"}),
			abi.Caller{UserID: "ann", Tenant: "t-9", Roles: []string{"ops"}}},
		{"renamed roles absent: realm_access", renamed,
			with("preferred_username", "ann", "realm_access", map[string]any{"roles": []string{"kc"}}),
			abi.Caller{UserID: "ann", Roles: []string{"kc"}}},
		{"exactly the limits", keycloak, with("sub", strings.Repeat("u", MaxIDLen), "roles", manyRoles(MaxRoles)),
			abi.Caller{UserID: strings.Repeat("u", MaxIDLen), Roles: manyRoles(MaxRoles)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c.claims))
			if err != nil {
				t.Fatal(err)
			}
			if !equalCaller(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	k := testKeys()
	clk := newClock()
	now := clk.Now()
	srv := newJWKSServer(t,
		rsaJWK("rsa-a", &k.rsaA.PublicKey),
		ecJWK("ec-1", &k.ec.PublicKey),
		edJWK("ed-1", k.ed.Public().(ed25519PublicKey)),
	)
	jwksOnly := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
	both := newVerifier(t, Config{Secret: testSecret, JWKSURL: srv.URL, Now: clk.Now,
		Issuer: "https://idp.example/realms/fluvius", Audience: "fluvius"})
	hsOnly := newVerifier(t, Config{Secret: testSecret, Now: clk.Now})

	good := func() jwt.MapClaims {
		c := claimsAt(now)
		c["iss"] = "https://idp.example/realms/fluvius"
		c["aud"] = []string{"account", "fluvius"}
		return c
	}
	with := func(kv ...any) jwt.MapClaims {
		c := good()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, testSecret, "", c) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsaA, "rsa-a", c) }

	// HS/RS confusion: HS256 "signed" with the public key, in the forms an
	// attacker would try, naming the RSA key's kid.
	der, err := x509.MarshalPKIXPublicKey(&k.rsaA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	nKey := []byte(rsaJWK("", &k.rsaA.PublicKey)["n"].(string))

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	rsGood := rs(good())
	dot := strings.LastIndexByte(rsGood, '.')
	parts := strings.Split(rsGood, ".")

	cases := []struct {
		name   string
		v      *Verifier
		token  string
		reason string // "" accepts any reason
	}{
		// Times.
		{"expired", both, hs(with("exp", now.Add(-2*time.Minute).Unix())), "token expired"},
		{"expired RS256", both, rs(with("exp", now.Add(-31*time.Second).Unix())), "token expired"},
		{"not yet valid", both, hs(with("nbf", now.Add(2*time.Minute).Unix())), "token not valid yet"},
		{"issued in the future", both, hs(with("iat", now.Add(2*time.Minute).Unix())), "token issued in the future"},
		{"no exp", both, hs(with("exp", nil)), "token has no expiry (exp)"},
		{"exp zero", both, hs(with("exp", 0)), "token has no expiry (exp)"},
		{"exp a string", both, hs(with("exp", "tomorrow")), "claims malformed"},

		// Signatures and algorithms.
		{"forged RS256", both, sign(t, jwt.SigningMethodRS256, k.rsaForger, "rsa-a", good()), "signature invalid"},
		{"forged HS256", both, sign(t, jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!"), "", good()), "signature invalid"},
		{"payload swapped", both, parts[0] + "." + strings.Split(hs(with("sub", "root")), ".")[1] + "." + parts[2], "signature invalid"},
		{"signature cut", both, rsGood[:dot+1+12], "signature invalid"},
		{"signature missing", both, rsGood[:dot+1], "signature invalid"},
		{"alg none", both, none, "algorithm not accepted"},
		{"alg none, hs only", hsOnly, none, "algorithm not accepted"},
		{"HS/RS confusion, PEM, JWKS only", jwksOnly, sign(t, jwt.SigningMethodHS256, pemKey, "rsa-a", good()), "algorithm not accepted"},
		{"HS/RS confusion, DER, JWKS only", jwksOnly, sign(t, jwt.SigningMethodHS256, der, "rsa-a", good()), "algorithm not accepted"},
		{"HS/RS confusion, PEM, both", both, sign(t, jwt.SigningMethodHS256, pemKey, "rsa-a", good()), "signature invalid"},
		{"HS/RS confusion, n, both", both, sign(t, jwt.SigningMethodHS256, nKey, "rsa-a", good()), "signature invalid"},
		{"RS256 to an HS-only verifier", hsOnly, rs(good()), "algorithm not accepted"},
		{"HS512", both, sign(t, jwt.SigningMethodHS512, testSecret, "", good()), "algorithm not accepted"},
		{"RS512", both, sign(t, jwt.SigningMethodRS512, k.rsaA, "rsa-a", good()), "algorithm not accepted"},
		{"PS256", both, sign(t, jwt.SigningMethodPS256, k.rsaA, "rsa-a", good()), "algorithm not accepted"},
		{"ES384", both, sign(t, jwt.SigningMethodES384, k.ecP384, "ec-1", good()), "algorithm not accepted"},
		{"unknown alg", both, b64u([]byte(`{"alg":"XX999","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], "algorithm not accepted"},
		{"no alg", both, b64u([]byte(`{"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], "algorithm not accepted"},
		{"ES256 naming an RSA kid", both, sign(t, jwt.SigningMethodES256, k.ec, "rsa-a", good()), "key does not match algorithm"},
		{"EdDSA naming an EC kid", both, sign(t, jwt.SigningMethodEdDSA, k.ed, "ec-1", good()), "key does not match algorithm"},
		{"RS256 without kid, one RSA key", both, sign(t, jwt.SigningMethodRS256, k.rsaForger, "", good()), "signature invalid"},
		{"kid too long", both, sign(t, jwt.SigningMethodRS256, k.rsaA, strings.Repeat("k", maxKIDLen+1), good()), "token malformed"},
		{"kid not a string", both, signHeader(t, jwt.SigningMethodRS256, k.rsaA, map[string]any{"kid": 7}, good()), "token malformed"},
		{"crit header", both, signHeader(t, jwt.SigningMethodRS256, k.rsaA, map[string]any{"kid": "rsa-a", "crit": []string{"exp"}}, good()), "token has an unsupported critical header"},

		// Issuer and audience.
		{"wrong issuer", both, hs(with("iss", "https://evil.example/")), "issuer not accepted"},
		{"no issuer", both, hs(with("iss", nil)), "issuer not accepted"},
		{"issuer not a string", both, hs(with("iss", 5)), "claims malformed"},
		{"wrong audience", both, hs(with("aud", "someone-else")), "audience not accepted"},
		{"wrong audiences", both, hs(with("aud", []string{"account", "admin-cli"})), "audience not accepted"},
		{"no audience", both, hs(with("aud", nil)), "audience not accepted"},

		// Claims mapping.
		{"no sub", both, hs(with("sub", nil)), "token has no user (sub)"},
		{"sub not a string", both, hs(with("sub", 42)), "token has no user (sub)"},
		{"sub too long", both, hs(with("sub", strings.Repeat("u", MaxIDLen+1))), "user id not accepted"},
		{"sub with newline", both, hs(with("sub", "alice\nadmin")), "user id not accepted"},
		{"sub with NUL", both, hs(with("sub", "alice\x00")), "user id not accepted"},
		{"sub with C1 control", both, hs(with("sub", "alice\u0085")), "user id not accepted"},
		// Subjects the host gives meaning to: an id like these would match
		// the policies written for an API key, a role, an aggregate role.
		{"sub like an API key", both, hs(with("sub", "key:admin")), "user id not accepted"},
		{"sub like a role", both, hs(with("sub", "role:admin")), "user id not accepted"},
		{"sub like an aggregate role", both, hs(with("sub", "aggregate:owner")), "user id not accepted"},
		{"sub like an event handler", both, hs(with("sub", "handler:inventory.reserve-stock")), "user id not accepted"},
		{"sub like a job", both, hs(with("sub", "job:inventory.remind-held-stock")), "user id not accepted"},
		{"tenant too long", both, hs(with("tenant", strings.Repeat("t", MaxIDLen+1))), "tenant not accepted"},
		{"tenant with tab", both, hs(with("tenant", "a\tb")), "tenant not accepted"},
		{"tenant not a string", both, hs(with("tenant", []string{"a"})), "tenant not accepted"},
		{"too many roles", both, hs(with("roles", manyRoles(MaxRoles+1))), "roles not accepted"},
		{"too many space-separated roles", both, hs(with("roles", strings.Join(manyRoles(MaxRoles+1), " "))), "roles not accepted"},
		{"role not a string", both, hs(with("roles", []any{"a", 1})), "roles not accepted"},
		{"roles an object", both, hs(with("roles", map[string]any{"a": true})), "roles not accepted"},
		{"role too long", both, hs(with("roles", []string{strings.Repeat("r", MaxIDLen+1)})), "roles not accepted"},
		{"role with control", both, hs(with("roles", []string{"a\rb"})), "roles not accepted"},
		{"realm_access not an object", both, hs(with("realm_access", "admin")), "roles not accepted"},
		{"realm_access.roles a string", both, hs(with("realm_access", map[string]any{"roles": "admin"})), "roles not accepted"},

		// Size and garbage.
		{"oversized", both, hs(with("pad", strings.Repeat("x", MaxTokenLen))), "token too large"},
		{"empty", both, "", "no token"},
		{"one segment", both, "abc", "token malformed"},
		{"two segments", both, "abc.def", "token malformed"},
		{"four segments", both, rsGood + ".x", "token malformed"},
		{"dots", both, "..", "token malformed"},
		{"bearer prefix left on", both, "Bearer " + rsGood, "token malformed"},
		{"header not JSON", both, b64u([]byte("{")) + "." + parts[1] + "." + parts[2], "token malformed"},
		{"claims not JSON", both, parts[0] + "." + b64u([]byte("[1,2")) + "." + parts[2], "token malformed"},
		{"claims an array", both, parts[0] + "." + b64u([]byte("[1,2]")) + "." + parts[2], "token malformed"},
		{"padded base64", both, parts[0] + "==." + parts[1] + "." + parts[2], "token malformed"},
		{"std base64", both, base64.StdEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"rsa-a","x":"?>?"}`)) + "." + parts[1] + "." + parts[2], "token malformed"},
		{"binary", both, "\x00\xff\xfe.\x01.\x02", "token malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.v.Verify(context.Background(), c.token)
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %+v, %v; want an *Error", got, err)
			}
			if c.reason != "" && ae.Reason != c.reason {
				t.Fatalf("reason %q, want %q (%v)", ae.Reason, c.reason, err)
			}
			if !equalCaller(got, abi.Caller{}) {
				t.Fatalf("a refused token gave a caller: %+v", got)
			}
		})
	}
}

// TestLeeway checks that skew within the leeway is forgiven and beyond it
// is not, with the default (30s) and a configured leeway.
func TestLeeway(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	def := newVerifier(t, Config{Secret: testSecret, Now: clk.Now})
	wide := newVerifier(t, Config{Secret: testSecret, Now: clk.Now, Leeway: 5 * time.Minute})
	tok := func(claim string, at time.Time) string {
		c := claimsAt(now)
		c[claim] = at.Unix()
		return sign(t, jwt.SigningMethodHS256, testSecret, "", c)
	}
	for _, c := range []struct {
		v     *Verifier
		token string
		ok    bool
	}{
		{def, tok("exp", now.Add(-20*time.Second)), true},
		{def, tok("exp", now.Add(-40*time.Second)), false},
		{def, tok("nbf", now.Add(20*time.Second)), true},
		{def, tok("nbf", now.Add(40*time.Second)), false},
		{def, tok("iat", now.Add(20*time.Second)), true},
		{wide, tok("exp", now.Add(-4*time.Minute)), true},
		{wide, tok("exp", now.Add(-6*time.Minute)), false},
		{wide, tok("nbf", now.Add(4*time.Minute)), true},
	} {
		_, err := c.v.Verify(context.Background(), c.token)
		if (err == nil) != c.ok {
			t.Errorf("token %s: err %v, want ok=%v", c.token, err, c.ok)
		}
	}
}

func TestNewVerifierErrors(t *testing.T) {
	k := testKeys()
	broken := newJWKSServer(t)
	broken.setStatus(500)
	empty := newJWKSServer(t)
	useless := newJWKSServer(t,
		map[string]any{"kty": "oct", "k": b64u(testSecret), "kid": "hmac"},
		rsaJWK("weak", &k.rsaWeak.PublicKey),
		ecJWK("p384", &k.ecP384.PublicKey),
		map[string]any{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
	)
	notFound := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey))
	notFound.setStatus(404)
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"nothing configured", Config{}},
		{"short secret", Config{Secret: []byte("secret")}},
		{"negative leeway", Config{Secret: testSecret, Leeway: -time.Second}},
		{"JWKS URL not http", Config{JWKSURL: "file:///etc/passwd"}},
		{"JWKS URL without host", Config{JWKSURL: "https:///certs"}},
		{"JWKS answers 500", Config{JWKSURL: broken.URL}},
		{"JWKS answers 500, secret set", Config{Secret: testSecret, JWKSURL: broken.URL}},
		{"JWKS answers 404", Config{JWKSURL: notFound.URL}},
		{"JWKS without keys", Config{JWKSURL: empty.URL}},
		{"JWKS without usable keys", Config{JWKSURL: useless.URL}},
		{"JWKS unreachable", Config{JWKSURL: "http://127.0.0.1:1/certs"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), c.cfg)
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier succeeded")
			}
			t.Log(err)
		})
	}
}

// TestJWKSSelection covers which keys of a set are used: keys without kid,
// skipped weak or foreign keys, and JWK "alg" pinning.
func TestJWKSSelection(t *testing.T) {
	k := testKeys()
	clk := newClock()
	claims := claimsAt(clk.Now())

	t.Run("single key without kid", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK("", &k.rsaA.PublicKey))
		v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims)); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "other", claims))
		wantReason(t, err, "signing key not found")
	})
	t.Run("one key per algorithm, no kid", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey), edJWK("e", k.ed.Public().(ed25519PublicKey)))
		v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
		for _, tok := range []string{
			sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims),
			sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims),
		} {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.ec, "", claims))
		wantReason(t, err, "signing key not found")
	})
	t.Run("two keys, no kid", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey), rsaJWK("b", &k.rsaB.PublicKey))
		v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims))
		wantReason(t, err, "signing key not found")
	})
	t.Run("weak, foreign and symmetric keys are ignored", func(t *testing.T) {
		srv := newJWKSServer(t,
			map[string]any{"kty": "oct", "k": b64u(testSecret), "kid": "hmac"},
			rsaJWK("weak", &k.rsaWeak.PublicKey),
			ecJWK("p384", &k.ecP384.PublicKey),
			map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": rsaJWK("", &k.rsaB.PublicKey)["n"], "e": "AQAB"},
			map[string]any{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
			rsaJWK("good", &k.rsaA.PublicKey),
		)
		v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "good", claims))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "hmac", claims))
		wantReason(t, err, "algorithm not accepted")
		_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaB, "enc", claims))
		wantReason(t, err, "signing key not found")
	})
	t.Run("JWK alg pins the algorithm", func(t *testing.T) {
		ec := ecJWK("ec", &k.ec.PublicKey)
		ec["alg"] = "ES256"
		rsa := rsaJWK("rsa", &k.rsaA.PublicKey)
		rsa["alg"] = "PS256" // a key for another algorithm: left out
		srv := newJWKSServer(t, ec, rsa)
		v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.ec, "ec", claims)); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "rsa", claims))
		wantReason(t, err, "signing key not found")
	})
}

// TestJWKSRotation rotates the provider's keys under a running verifier.
func TestJWKSRotation(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("2026-01", &k.rsaA.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
	ctx := context.Background()

	oldTok := sign(t, jwt.SigningMethodRS256, k.rsaA, "2026-01", claimsAt(clk.Now()))
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}

	// The provider adds a key and starts signing with it.
	srv.setKeys(rsaJWK("2026-01", &k.rsaA.PublicKey), rsaJWK("2026-02", &k.rsaB.PublicKey))
	clk.Advance(10 * time.Second)
	newTok := sign(t, jwt.SigningMethodRS256, k.rsaB, "2026-02", claimsAt(clk.Now()))
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("new key not picked up: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	// Both keys work now, without further fetches.
	oldTok = sign(t, jwt.SigningMethodRS256, k.rsaA, "2026-01", claimsAt(clk.Now()))
	for range 10 {
		for _, tok := range []string{oldTok, newTok} {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times for known kids, want 2", n)
	}
}

// TestJWKSRateLimit floods the verifier with tokens naming made-up kids.
func TestJWKSRateLimit(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
	ctx := context.Background()

	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				tok := sign(t, jwt.SigningMethodRS256, k.rsaA, fmt.Sprintf("random-%d-%d", clk.Now().Unix(), i), claimsAt(clk.Now()))
				_, err := v.Verify(ctx, tok)
				wantReason(t, err, "signing key not found")
			})
		}
		wg.Wait()
	}
	flood() // right after the first fetch: no refresh at all
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("after a flood at start: %d fetches, want 1", n)
	}
	clk.Advance(6 * time.Second)
	flood() // one refresh for the whole flood
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("after a flood 6s later: %d fetches, want 2", n)
	}
	clk.Advance(3 * time.Second)
	flood()
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("after a flood 3s later: %d fetches, want 2", n)
	}
	clk.Advance(3 * time.Second)
	flood()
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("after a flood 6s after the last refresh: %d fetches, want 3", n)
	}
}

// TestJWKSRefreshFailureKeepsKeys checks that a provider outage does not
// lock everyone out.
func TestJWKSRefreshFailureKeepsKeys(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
	srv.setStatus(503)
	clk.Advance(time.Minute)
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "b", claimsAt(clk.Now())))
	wantReason(t, err, "signing key not found")
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("the cause is not in the error: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "a", claimsAt(clk.Now()))); err != nil {
		t.Fatal(err)
	}
}

// TestPeriodicRefresh checks that a key the provider withdraws stops being
// trusted without any token asking for a refresh.
func TestPeriodicRefresh(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey), rsaJWK("b", &k.rsaB.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now, RefreshInterval: 20 * time.Millisecond})
	tok := sign(t, jwt.SigningMethodRS256, k.rsaA, "a", claimsAt(clk.Now()))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	srv.setKeys(rsaJWK("b", &k.rsaB.PublicKey))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), tok)
		if err != nil {
			wantReason(t, err, "signing key not found")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("withdrawn key still trusted after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClose checks that Close stops the background refresh (goleak in
// TestMain checks the goroutine is gone) and that Verify still works.
func TestClose(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey))
	before := goleak.IgnoreCurrent()
	v, err := NewVerifier(context.Background(), Config{JWKSURL: srv.URL, Now: clk.Now, RefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for srv.hits.Load() < 3 { // the loop runs
		time.Sleep(time.Millisecond)
	}
	v.Close()
	// A fetch already on the wire when Close returned may still reach the
	// server; none may start after.
	time.Sleep(20 * time.Millisecond)
	n := srv.hits.Load()
	time.Sleep(50 * time.Millisecond)
	if m := srv.hits.Load(); m != n {
		t.Fatalf("%d fetches after Close", m-n)
	}
	v.Close() // twice is fine
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsaA, "a", claimsAt(clk.Now()))); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatal(err)
	}

	hs, err := NewVerifier(context.Background(), Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	hs.Close()
	hs.Close()
}

// TestWaitHonoursContext: a request waiting for a fetch another started
// gives up when its context ends, with the context's error (not a 401).
func TestWaitHonoursContext(t *testing.T) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(t, rsaJWK("a", &k.rsaA.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Now: clk.Now})
	hold, reached := make(chan struct{}), make(chan struct{}, 1)
	srv.mu.Lock()
	srv.hold, srv.reached = hold, reached
	srv.mu.Unlock()
	clk.Advance(time.Minute)

	tok := sign(t, jwt.SigningMethodRS256, k.rsaA, "new", claimsAt(clk.Now()))
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		first <- err
	}()
	<-reached // the first request's fetch is under way

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, tok)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	var ae *Error
	if errors.As(err, &ae) {
		t.Fatalf("got an *Error: %v", err)
	}
	close(hold)
	wantReason(t, <-first, "signing key not found")
}

func TestErrorText(t *testing.T) {
	v := newVerifier(t, Config{Secret: testSecret, Now: newClock().Now})
	_, err := v.Verify(context.Background(), "x.y.z")
	var ae *Error
	if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), "auth: token malformed: ") || errors.Unwrap(err) == nil {
		t.Fatalf("error %q", err)
	}
	if s := (&Error{Reason: "no token"}).Error(); s != "auth: no token" {
		t.Fatalf("error %q", s)
	}
}

func TestNoDowngrade(t *testing.T) {
	req := func(u string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := noDowngrade(req("https://b/certs"), []*http.Request{req("https://a/certs")}); err != nil {
		t.Fatal(err)
	}
	if err := noDowngrade(req("http://b/certs"), []*http.Request{req("http://a/certs")}); err != nil {
		t.Fatal(err)
	}
	if err := noDowngrade(req("http://b/certs"), []*http.Request{req("https://a/certs")}); err == nil {
		t.Fatal("followed a redirect from https to http")
	}
}

func wantReason(t testing.TB, err error, reason string) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *Error", err)
	}
	if ae.Reason != reason {
		t.Fatalf("reason %q, want %q (%v)", ae.Reason, reason, err)
	}
}

func signHeader(t testing.TB, m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func manyRoles(n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("role-%d", i)
	}
	return r
}

func equalCaller(a, b abi.Caller) bool {
	return a.UserID == b.UserID && a.Tenant == b.Tenant && slices.Equal(a.Roles, b.Roles)
}
