package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"fluvius.dev/fluvius/abi"
)

// Limits on what a token may carry. They bound the work and memory one
// request can cost and keep ids printable in logs and URLs.
const (
	// MaxTokenLen is the longest token Verify looks at. Real tokens are a
	// few hundred bytes to a few KiB; anything longer is refused before
	// any decoding.
	MaxTokenLen = 16 << 10
	// MaxIDLen bounds the user and tenant ids and each role.
	MaxIDLen = 200
	// MaxRoles bounds the number of roles a token may grant.
	MaxRoles = 100
	// MinSecretLen is the shortest HS256 secret accepted: RFC 7518 §3.2
	// requires a key at least as long as the hash output (256 bits).
	MinSecretLen = 32
)

const (
	defaultLeeway  = 30 * time.Second
	defaultRefresh = time.Hour
	defaultTimeout = 10 * time.Second
	// minRefreshGap is how long after one JWKS fetch a token naming an
	// unknown kid may cause another: a flood of tokens with made-up kids
	// costs the identity provider at most one request per gap.
	minRefreshGap = 5 * time.Second
)

// ClaimNames maps token claims to the caller; the defaults fit
// Keycloak-style tokens. Each name is a top-level claim.
type ClaimNames struct {
	// User is the claim holding the user id, a non-empty string. Default "sub".
	User string
	// Tenant is the claim holding the tenant id, a string. A token without it
	// belongs to the default tenant "". Default "tenant".
	Tenant string
	// Roles is the claim holding the roles: a JSON array of strings, or one
	// string of space-separated roles (the OAuth "scope" style). When the
	// token has no such claim, Keycloak's realm_access.roles is read.
	// Default "roles".
	Roles string
}

// Config says which tokens a Verifier accepts. At least one of Secret and
// JWKSURL must be set; with both, HS256 tokens are checked against the secret
// and the others against the JWKS.
type Config struct {
	// Secret is the HS256 shared secret (FLUVIUS_JWT_SECRET), at least
	// MinSecretLen bytes. Nil means HS256 tokens are refused.
	Secret []byte
	// JWKSURL is where the RS256, ES256 and EdDSA public keys are published
	// (FLUVIUS_JWKS_URL), e.g. Keycloak's
	// https://idp/realms/<realm>/protocol/openid-connect/certs. Use https:
	// whoever can alter the response can mint tokens. Empty means only
	// HS256 tokens are accepted.
	JWKSURL string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be one of the token's "aud".
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means 30s.
	Leeway time.Duration
	// Claims names the claims the caller is read from.
	Claims ClaimNames
	// HTTPClient fetches the JWKS; nil means a client of our own with a 10s
	// timeout (whose idle connections Close closes).
	HTTPClient *http.Client
	// RefreshInterval is how often the JWKS is fetched again in the
	// background, so that keys withdrawn by the provider stop being trusted;
	// 0 means an hour. Rotated-in keys are picked up sooner: a token naming
	// an unknown kid triggers a fetch (at most one every 5s).
	RefreshInterval time.Duration
	// Logger receives JWKS refresh failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock for token times and the refresh rate limit; nil
	// means time.Now. For tests.
	Now func() time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use; create one
// per process and share it.
type Verifier struct {
	secret  []byte
	keys    *keyCache // nil without JWKSURL
	parser  *jwt.Parser
	methods []string // the algorithms parser accepts
	names   ClaimNames
	wantIss bool
	wantAud bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the refresh goroutine is gone
}

// NewVerifier checks cfg and, when a JWKS URL is set, fetches the key set
// once within ctx. A failed first fetch is an error even when a Secret is
// also configured: a wrong URL or an unreachable provider should stop the
// process at start, not surface later as every RS256 token being refused.
// After that ctx is not used: the background refresh runs until Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: neither a JWT secret nor a JWKS URL is configured")
	}
	if len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: the JWT secret has %d bytes; HS256 needs at least %d", len(cfg.Secret), MinSecretLen)
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: negative leeway")
	}
	if cfg.RefreshInterval < 0 {
		return nil, errors.New("auth: negative JWKS refresh interval")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = defaultLeeway
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = defaultRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	names := cfg.Claims
	if names.User == "" {
		names.User = "sub"
	}
	if names.Tenant == "" {
		names.Tenant = "tenant"
	}
	if names.Roles == "" {
		names.Roles = "roles"
	}

	var methods []string
	if len(cfg.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("auth: JWKS URL %q is not an http(s) URL", cfg.JWKSURL)
		}
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}

	v := &Verifier{
		secret:  append([]byte(nil), cfg.Secret...),
		parser:  jwt.NewParser(opts...),
		methods: methods,
		names:   names,
		wantIss: cfg.Issuer != "",
		wantAud: cfg.Audience != "",
		done:    make(chan struct{}),
	}
	if cfg.JWKSURL == "" {
		close(v.done)
		v.cancel = func() {}
		return v, nil
	}

	client, own := cfg.HTTPClient, false
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		client, own = &http.Client{Timeout: defaultTimeout, Transport: tr, CheckRedirect: noDowngrade}, true
	}
	base, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.keys = &keyCache{url: cfg.JWKSURL, client: client, ownClient: own, now: cfg.Now, base: base, log: cfg.Logger}
	if err := v.keys.first(ctx); err != nil {
		cancel()
		v.keys.closeIdle()
		return nil, err
	}
	go v.keys.loop(cfg.RefreshInterval, v.done)
	return v, nil
}

// noDowngrade follows redirects like net/http does, except from https to
// http: keys fetched in clear text could be anyone's.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Scheme != "https" && via[0].URL.Scheme == "https" {
		return fmt.Errorf("refusing to follow a redirect from https to %s", req.URL.Scheme)
	}
	return nil
}

// Close stops the background JWKS refresh and waits for it to end. Verify
// keeps working afterwards with the keys it has. Close may be called more
// than once.
func (v *Verifier) Close() {
	v.cancel()
	<-v.done
	if v.keys != nil {
		v.keys.closeIdle()
	}
}

// Verify checks token (the part after "Bearer ") and returns the caller it
// names. A token that must be refused gives an *Error; the only other error
// is ctx's, when ctx ends while Verify waits for a JWKS fetch another
// request started.
func (v *Verifier) Verify(ctx context.Context, token string) (abi.Caller, error) {
	switch {
	case token == "":
		return abi.Caller{}, &Error{Reason: "no token"}
	case len(token) > MaxTokenLen:
		return abi.Caller{}, &Error{Reason: "token too large"}
	}
	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return abi.Caller{}, ctx.Err()
		}
		return abi.Caller{}, v.refusal(t, claims, err)
	}
	return v.caller(claims)
}

// key is the jwt.Keyfunc: it picks the key for the token's algorithm and
// kid. Only called for algorithms the parser already accepted.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	// RFC 7515 §4.1.11: extensions named in "crit" must be understood, and
	// we understand none.
	if _, ok := t.Header["crit"]; ok {
		return nil, &Error{Reason: "token has an unsupported critical header"}
	}
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		if len(v.secret) == 0 { // not reached: the parser refuses HS256 then
			return nil, &Error{Reason: "algorithm not accepted"}
		}
		return v.secret, nil
	}
	if v.keys == nil { // not reached: the parser refuses the others then
		return nil, &Error{Reason: "algorithm not accepted"}
	}
	kid, named := "", false
	if raw, ok := t.Header["kid"]; ok {
		s, ok := raw.(string)
		if !ok || len(s) > maxKIDLen {
			return nil, &Error{Reason: "token malformed", err: errors.New(`"kid" is not a short string`)}
		}
		kid, named = s, true
	}
	return v.keys.key(ctx, kid, named, alg)
}

// Error is what Verify returns for a token that must be refused: callers
// answer 401. Reason is short, fixed text that is safe to show the client
// (e.g. in WWW-Authenticate's error_description); Error() adds the
// underlying cause, for logs.
type Error struct {
	Reason string // e.g. "token expired", "signature invalid", "issuer not accepted"
	err    error
}

func (e *Error) Error() string {
	if e.err != nil {
		return "auth: " + e.Reason + ": " + e.err.Error()
	}
	return "auth: " + e.Reason
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// refusal turns a parser error into an *Error with a reason a client can act
// on. The parser checks the signature before the claims, so a forged token
// never learns whether its claims would have passed.
func (v *Verifier) refusal(t *jwt.Token, claims jwt.MapClaims, err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	reason := "token malformed"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An algorithm the library does not know, or none at all.
		reason = "algorithm not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = "signature invalid"
		if t != nil && t.Method != nil && !slices.Contains(v.methods, t.Method.Alg()) {
			// Refused by WithValidMethods before any key was looked at.
			reason = "algorithm not accepted"
		}
	case errors.Is(err, jwt.ErrInvalidType):
		reason = "claims malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = "issuer not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = "audience not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case claims["exp"] == nil || claims["exp"] == 0.0:
			reason = "token has no expiry (exp)"
		case v.wantIss && (claims["iss"] == nil || claims["iss"] == ""):
			reason = "issuer not accepted"
		case v.wantAud:
			reason = "audience not accepted"
		}
	}
	return &Error{Reason: reason, err: err}
}
