package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on what the JWKS endpoint may send. It is trusted for keys, but a
// broken or hijacked endpoint must not be able to exhaust memory or CPU.
const (
	maxJWKSBytes = 1 << 20
	maxKeys      = 100
	maxKIDLen    = 256
	minRSABits   = 2048
	maxRSABits   = 8192
)

// The JWKS is fetched by this package rather than with
// github.com/MicahParks/keyfunc/v3: keyfunc refuses tokens without a kid,
// its refresh-on-unknown-kid limiter defaults to one refresh per 5 minutes
// (too slow to pick up a rotation), and it brings jwkset and x/time in for
// what is a hundred lines here.

// keyCache holds the keys of one JWKS URL and fetches them again when asked.
type keyCache struct {
	url       string
	client    *http.Client
	ownClient bool // ours to close idle connections of
	now       func() time.Time
	base      context.Context // ends with Close; every fetch runs under it
	log       *slog.Logger

	set atomic.Pointer[keySet] // never nil after first; read without locks

	mu       sync.Mutex
	last     time.Time  // start of the last fetch, by now()
	inflight *fetchCall // the fetch under way, if any
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// errRateLimited is why an unknown kid did not cause a fetch.
var errRateLimited = errors.New("JWKS fetched less than 5s ago")

// first fetches the key set within ctx; NewVerifier fails if it does.
func (c *keyCache) first(ctx context.Context) error {
	c.last = c.now()
	set, err := c.fetch(ctx)
	if err != nil {
		return fmt.Errorf("auth: fetching the JWKS: %w", err)
	}
	c.set.Store(set)
	return nil
}

// loop refreshes the key set every interval until Close, keeping the keys
// it has when a fetch fails.
func (c *keyCache) loop(interval time.Duration, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.base.Done():
			return
		case <-t.C:
			if err := c.refresh(c.base, false); err != nil && c.base.Err() == nil {
				c.log.Warn("auth: JWKS refresh failed; keeping the keys we have", "url", c.url, "err", err)
			}
		}
	}
}

// refresh fetches the key set again, or waits for the fetch already under
// way. With limited, it does nothing if a fetch started less than
// minRefreshGap ago.
func (c *keyCache) refresh(ctx context.Context, limited bool) error {
	c.mu.Lock()
	if call := c.inflight; call != nil {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	now := c.now()
	if since := now.Sub(c.last); limited && since >= 0 && since < minRefreshGap {
		c.mu.Unlock()
		return errRateLimited
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight, c.last = call, now
	c.mu.Unlock()

	// The fetch runs under base, not ctx: one impatient request must not
	// abort a refresh others are waiting for (and that the rate limit
	// would not let them retry for a while).
	set, err := c.fetch(c.base)
	if err == nil {
		c.set.Store(set)
	}
	call.err = err
	c.mu.Lock()
	c.inflight = nil
	c.mu.Unlock()
	close(call.done)
	return err
}

// fetch GETs and parses the key set.
func (c *keyCache) fetch(ctx context.Context) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET %s: key set larger than %d bytes", c.url, maxJWKSBytes)
	}
	set, skipped, err := parseJWKS(body)
	for _, e := range skipped {
		c.log.Warn("auth: JWKS key ignored", "url", c.url, "err", e)
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url, err)
	}
	return set, nil
}

func (c *keyCache) closeIdle() {
	if c.ownClient {
		c.client.CloseIdleConnections()
	}
}

// key returns the key to check a token of algorithm alg with, naming kid
// (when named). An unknown kid causes a (rate limited) fetch, so that keys
// rotated in by the provider are picked up at once.
func (c *keyCache) key(ctx context.Context, kid string, named bool, alg string) (any, error) {
	if k, err, found := c.set.Load().pick(kid, named, alg); found {
		return k, err
	}
	if err := c.refresh(ctx, true); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, &Error{Reason: "signing key not found", err: fmt.Errorf("kid %q unknown; no new key set: %w", kid, err)}
	}
	if k, err, found := c.set.Load().pick(kid, named, alg); found {
		return k, err
	}
	return nil, &Error{Reason: "signing key not found", err: fmt.Errorf("kid %q unknown", kid)}
}

// keySet is one fetched JWKS, immutable once built.
type keySet struct {
	byKID map[string][]*publicKey // keys without a kid are under ""
	all   []*publicKey
}

// publicKey is one usable signing key of a JWKS.
type publicKey struct {
	alg string // the JWK's "alg", "" when it has none
	key any    // *rsa.PublicKey, *ecdsa.PublicKey on P-256, or ed25519.PublicKey
}

// fits reports whether the key may check a token of algorithm alg: the key
// type must be the algorithm's, so that no token can have, say, an RSA key
// used with another algorithm.
func (k *publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch k.key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// pick finds the key for a token. found is false only when the token names
// a kid the set does not have, the case a fresh fetch may mend. A token
// without a kid is checked with the only key of its algorithm, if there is
// exactly one.
func (s *keySet) pick(kid string, named bool, alg string) (key any, err error, found bool) {
	var fitting []*publicKey
	if named {
		cands, ok := s.byKID[kid]
		if !ok {
			return nil, nil, false
		}
		for _, k := range cands {
			if k.fits(alg) {
				return k.key, nil, true
			}
		}
		return nil, &Error{Reason: "key does not match algorithm", err: fmt.Errorf("kid %q is not a %s key", kid, alg)}, true
	}
	for _, k := range s.all {
		if k.fits(alg) {
			fitting = append(fitting, k)
		}
	}
	switch len(fitting) {
	case 1:
		return fitting[0].key, nil, true
	case 0:
		return nil, &Error{Reason: "signing key not found", err: fmt.Errorf("no %s key in the key set", alg)}, true
	}
	return nil, &Error{Reason: "signing key not found", err: fmt.Errorf("token has no kid and the key set has %d %s keys", len(fitting), alg)}, true
}

// jwk is the part of an RFC 7517 JSON Web Key we read.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS reads a key set. Keys that are not for signatures with one of
// our algorithms (encryption keys, symmetric keys, other curves) are left
// out silently; malformed or weak signing keys are left out and reported in
// skipped. A set with no usable key at all is an error.
func parseJWKS(b []byte) (set *keySet, skipped []error, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	if len(doc.Keys) > maxKeys {
		return nil, nil, fmt.Errorf("key set has %d keys; at most %d are accepted", len(doc.Keys), maxKeys)
	}
	set = &keySet{byKID: make(map[string][]*publicKey)}
	for i, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		k, err := j.public()
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, j.Kid, err))
			continue
		}
		if k == nil {
			continue
		}
		if len(j.Kid) > maxKIDLen {
			skipped = append(skipped, fmt.Errorf("key %d: kid longer than %d bytes", i, maxKIDLen))
			continue
		}
		set.byKID[j.Kid] = append(set.byKID[j.Kid], k)
		set.all = append(set.all, k)
	}
	if len(set.all) == 0 {
		return nil, skipped, errors.New("key set has no RS256, ES256 or EdDSA signing key")
	}
	return set, skipped, nil
}

// public returns the key, nil (and no error) for a key we have no use for.
func (j *jwk) public() (*publicKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, nil
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return nil, nil
	}
	switch j.Alg {
	case "", "RS256", "ES256", "EdDSA":
	default:
		return nil, nil
	}
	switch j.Kty {
	case "RSA":
		if j.Alg != "" && j.Alg != "RS256" {
			return nil, nil
		}
		n, err := b64(j.N)
		if err != nil {
			return nil, fmt.Errorf("RSA modulus: %w", err)
		}
		e, err := b64(j.E)
		if err != nil {
			return nil, fmt.Errorf("RSA exponent: %w", err)
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA exponent out of range")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, errors.New("RSA exponent out of range")
		}
		mod := new(big.Int).SetBytes(n)
		if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
		}
		return &publicKey{alg: j.Alg, key: &rsa.PublicKey{N: mod, E: exp}}, nil
	case "EC":
		if j.Crv != "P-256" || (j.Alg != "" && j.Alg != "ES256") {
			return nil, nil // ES384, ES512: not accepted
		}
		x, err := b64(j.X)
		if err != nil {
			return nil, fmt.Errorf("EC x: %w", err)
		}
		y, err := b64(j.Y)
		if err != nil {
			return nil, fmt.Errorf("EC y: %w", err)
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("P-256 coordinates must be 32 bytes")
		}
		pt := make([]byte, 0, 65)
		pt = append(append(append(pt, 4), x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, err
		}
		return &publicKey{alg: j.Alg, key: k}, nil
	case "OKP":
		if j.Crv != "Ed25519" || (j.Alg != "" && j.Alg != "EdDSA") {
			return nil, nil // Ed448, X25519: not accepted
		}
		x, err := b64(j.X)
		if err != nil {
			return nil, fmt.Errorf("Ed25519 x: %w", err)
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key must be %d bytes", ed25519.PublicKeySize)
		}
		return &publicKey{alg: j.Alg, key: ed25519.PublicKey(x)}, nil
	}
	return nil, nil // "oct" and the rest: never used with a JWKS
}

// b64 decodes base64url, with or without padding (RFC 7517 says without;
// some providers pad).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
