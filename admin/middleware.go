package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/google/uuid"
)

// The middleware every route passes: a request id, CORS when configured,
// and per-caller rate limits when configured.

// requestID gives every request an id (the client's X-Request-ID when it
// is a sane token, else a new one), answered in X-Request-ID and kept for
// the error log.
func requestID(c *fiber.Ctx) error {
	id := c.Get("X-Request-ID")
	if len(id) == 0 || len(id) > 128 || !isToken(id) {
		id = uuid.Must(uuid.NewV7()).String()
	} else {
		id = strings.Clone(id)
	}
	c.Locals(requestIDKey{}, id)
	c.Set("X-Request-ID", id)
	return c.Next()
}

type requestIDKey struct{}

// requestIDOf returns the request's id, for log lines.
func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey{}).(string)
	return id
}

// corsMiddleware lets the listed origins call the API from a browser
// ("*": any origin, without credentials).
func corsMiddleware(origins []string) fiber.Handler {
	return cors.New(cors.Config{
		AllowOrigins:     strings.Join(origins, ","),
		AllowMethods:     "GET,POST,DELETE,OPTIONS",
		AllowHeaders:     "Authorization,Content-Type,Idempotency-Key,If-Match,If-None-Match,Last-Event-ID,X-Correlation-ID,X-Causation-ID,X-Request-ID,traceparent,tracestate",
		ExposeHeaders:    "ETag,Location,Idempotent-Replayed,X-Correlation-ID,X-Request-ID,Retry-After",
		AllowCredentials: false,
		MaxAge:           600,
	})
}

// rateLimit allows each caller perMinute requests a minute, in bursts of
// up to perMinute (a token bucket refilled steadily). Health checks and the
// admin UI's static files are not counted. Past the limit a caller gets
// 429 with Retry-After.
//
// A caller is a credential that authenticates: it is checked the first
// time it is seen (and again after two idle minutes), and its requests
// then count in its own bucket. Requests without a credential, or with one
// that does not authenticate, count against the address they come from,
// so a client making up tokens shares one bucket instead of getting a
// fresh one each time. X-Forwarded-For counts only when proxy headers are
// trusted.
func (s *Server) rateLimit(perMinute int) fiber.Handler {
	l := &limiter{rate: float64(perMinute) / 60, burst: float64(perMinute), buckets: map[string]*bucket{}}
	trustProxy := s.auth.TrustProxyHeaders
	return func(c *fiber.Ctx) error {
		p := c.Path()
		if p == "/healthz" || p == "/readyz" || strings.HasPrefix(p, "/admin/static/") {
			return c.Next()
		}
		now := time.Now()
		key := "ip:" + clientAddress(c, trustProxy)
		if cred := credentialKey(c, trustProxy); cred != "" {
			if l.verified(cred) {
				key = cred
			} else if _, err := s.auth.Authenticate(c.UserContext(), credentials(c)); err == nil {
				l.verify(cred, now)
				key = cred
			}
		}
		if wait, ok := l.take(key, now); !ok {
			retry := strconv.Itoa(int(wait/time.Second) + 1)
			c.Set(fiber.HeaderRetryAfter, retry)
			return problemError(fiber.StatusTooManyRequests, "rate-limited",
				"this caller sent more than "+strconv.Itoa(perMinute)+" requests a minute; retry after "+retry+" s")
		}
		return c.Next()
	}
}

// credentialKey names the credential a request carries (hashed: the key is
// kept), "" for none. Proxy user headers are one only when trusted.
func credentialKey(c *fiber.Ctx, trustProxy bool) string {
	cred := c.Get(fiber.HeaderAuthorization)
	if cred == "" && trustProxy {
		if user := c.Get("X-Fluvius-User"); user != "" {
			cred = "proxy\x00" + user + "\x00" + c.Get("X-Fluvius-Tenant")
		}
	}
	if cred == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(cred))
	return "cred:" + hex.EncodeToString(sum[:12])
}

// clientAddress is the peer's address, or, behind a trusted proxy, the
// address the nearest proxy saw (the last X-Forwarded-For entry: earlier
// ones are the client's own say).
func clientAddress(c *fiber.Ctx, trustProxy bool) string {
	if trustProxy {
		if xff := c.Get(fiber.HeaderXForwardedFor); xff != "" {
			last := xff[strings.LastIndexByte(xff, ',')+1:]
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	return c.IP()
}

type bucket struct {
	tokens float64
	at     time.Time
	// verified: the credential authenticated, so it is a caller of its own.
	verified bool
}

type limiter struct {
	mu          sync.Mutex
	rate, burst float64 // tokens a second, and at most
	buckets     map[string]*bucket
	pruned      time.Time
}

// take spends a token of key's bucket, or says how long until one is there.
func (l *limiter) take(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.pruned) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.at) > 2*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.pruned = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

// verified says whether a credential's bucket is a caller's own.
func (l *limiter) verified(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	return b != nil && b.verified
}

// verify makes a credential that authenticated a caller of its own.
func (l *limiter) verify(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		b.verified = true
		return
	}
	l.buckets[key] = &bucket{tokens: l.burst, at: now, verified: true}
}
