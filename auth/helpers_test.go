package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Keys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	rsaA, rsaB, rsaForger, rsaWeak *rsa.PrivateKey
	ec                             *ecdsa.PrivateKey
	ecP384                         *ecdsa.PrivateKey
	ed                             ed25519.PrivateKey
}) {
	var err error
	must := func() {
		if err != nil {
			panic(err)
		}
	}
	k.rsaA, err = rsa.GenerateKey(rand.Reader, 2048)
	must()
	k.rsaB, err = rsa.GenerateKey(rand.Reader, 2048)
	must()
	k.rsaForger, err = rsa.GenerateKey(rand.Reader, 2048)
	must()
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must()
	k.ecP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must()
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must()
	// A 1024-bit key, built by hand because rsa.GenerateKey refuses it
	// now: two primes are all a public key needs.
	for {
		p, err1 := rand.Prime(rand.Reader, 512)
		q, err2 := rand.Prime(rand.Reader, 512)
		if err1 != nil || err2 != nil {
			panic("prime")
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() == 1024 {
			k.rsaWeak = &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}}
			break
		}
	}
	return k
})

type ed25519PublicKey = ed25519.PublicKey

var testSecret = []byte("0123456789abcdef0123456789abcdef-fluvius")

// clock is a settable clock for Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// jwksServer serves a key set the test can change, counting requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []any
	status int
	hits   atomic.Int64
	// hold, when set, is received from before answering (the test blocks
	// the server with it); reached gets a value when a request arrives.
	hold    chan struct{}
	reached chan struct{}
}

func newJWKSServer(t testing.TB, keys ...any) *jwksServer {
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		hold, reached := s.hold, s.reached
		status := s.status
		body, _ := json.Marshal(map[string]any{"keys": s.keys})
		s.mu.Unlock()
		if reached != nil {
			reached <- struct{}{}
		}
		if hold != nil {
			<-hold
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

func (s *jwksServer) setKeys(keys ...any) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	m := map[string]any{
		"kty": "RSA", "use": "sig", "alg": "RS256",
		"n": b64u(k.N.Bytes()), "e": b64u(big.NewInt(int64(k.E)).Bytes()),
	}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	size := (len(b) - 1) / 2
	crv := map[int]string{32: "P-256", 48: "P-384"}[size]
	m := map[string]any{"kty": "EC", "crv": crv, "x": b64u(b[1 : 1+size]), "y": b64u(b[1+size:])}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

func edJWK(kid string, k ed25519.PublicKey) map[string]any {
	m := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(k)}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

// sign makes a token; kid "" leaves the header without one.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsAt are valid claims for a token checked at now.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-1",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// newVerifier makes a verifier closed at the end of the test.
func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}
