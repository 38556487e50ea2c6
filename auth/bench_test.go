package auth

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// The cost of Verify per request. Parsing (base64, JSON into a map) is
// most of HS256; the signature check dominates the others: RSA-2048
// (e=65537) is the cheapest public-key check, Ed25519 and ECDSA P-256 cost
// more.

func benchVerify(b *testing.B, m jwt.SigningMethod, key any, kid string) {
	k := testKeys()
	clk := newClock()
	srv := newJWKSServer(b,
		rsaJWK("rsa-a", &k.rsaA.PublicKey),
		ecJWK("ec-1", &k.ec.PublicKey),
		edJWK("ed-1", k.ed.Public().(ed25519PublicKey)),
	)
	v := newVerifier(b, Config{Secret: testSecret, JWKSURL: srv.URL, Now: clk.Now})
	c := claimsAt(clk.Now())
	c["iss"] = "https://idp.example/realms/fluvius"
	c["tenant"] = "acme"
	c["realm_access"] = map[string]any{"roles": []string{"offline_access", "uma_authorization", "admin"}}
	tok := sign(b, m, key, kid, c)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	benchVerify(b, jwt.SigningMethodHS256, testSecret, "")
}

func BenchmarkVerifyRS256(b *testing.B) {
	benchVerify(b, jwt.SigningMethodRS256, testKeys().rsaA, "rsa-a")
}

func BenchmarkVerifyES256(b *testing.B) {
	benchVerify(b, jwt.SigningMethodES256, testKeys().ec, "ec-1")
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	benchVerify(b, jwt.SigningMethodEdDSA, testKeys().ed, "ed-1")
}
