package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds Verify arbitrary strings: it must never panic, and must
// either accept (seeds only; the fuzzer cannot forge) or refuse with an
// *Error. The clock never moves, so unknown kids cause no JWKS fetches.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(f,
		rsaJWK("rsa-a", &k.rsaA.PublicKey),
		ecJWK("ec-1", &k.ec.PublicKey),
		edJWK("ed-1", k.ed.Public().(ed25519PublicKey)),
	)
	v := newVerifier(f, Config{Secret: testSecret, JWKSURL: srv.URL, Now: clk.Now,
		Claims: ClaimNames{Roles: "groups"}})

	c := claimsAt(clk.Now())
	c["tenant"] = "acme"
	c["groups"] = "a b c"
	c["realm_access"] = map[string]any{"roles": []string{"x"}}
	for _, s := range []string{
		sign(f, jwt.SigningMethodHS256, testSecret, "", c),
		sign(f, jwt.SigningMethodRS256, k.rsaA, "rsa-a", c),
		sign(f, jwt.SigningMethodES256, k.ec, "ec-1", c),
		sign(f, jwt.SigningMethodEdDSA, k.ed, "ed-1", c),
		sign(f, jwt.SigningMethodEdDSA, k.ed, "", c),
		sign(f, jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"sub": 1, "exp": "x", "roles": []any{nil}}),
		"", ".", "..", "...", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.",
		`eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.AAAA`,
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100),
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		caller, err := v.Verify(ctx, token)
		if err == nil {
			if !validID(caller.UserID) || len(caller.Roles) > MaxRoles {
				t.Fatalf("accepted a caller out of bounds: %+v", caller)
			}
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Reason == "" {
			t.Fatalf("Verify(%q) = %v, not an *Error", token, err)
		}
	})
}

// FuzzParseJWKS feeds the key set parser arbitrary documents.
func FuzzParseJWKS(f *testing.F) {
	k := testKeys()
	f.Add(`{"keys":[]}`)
	f.Add(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"","y":""},{"kty":"OKP","crv":"Ed25519","x":"AA"}]}`)
	for _, key := range []any{
		rsaJWK("a", &k.rsaA.PublicKey),
		ecJWK("e", &k.ec.PublicKey),
		edJWK("d", k.ed.Public().(ed25519PublicKey)),
	} {
		b, _ := json.Marshal(map[string]any{"keys": []any{key}})
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		set, _, err := parseJWKS([]byte(doc))
		if err == nil && len(set.all) == 0 {
			t.Fatal("a key set without keys was accepted")
		}
	})
}
