package admin

import (
	"crypto/sha256"
	"encoding/hex"
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
// up to perMinute (a token bucket refilled steadily). A caller is its
// credential (a token or key, hashed) or, without one, its address; past
// the limit it gets 429 with Retry-After. Health checks and the admin UI's
// static files are not counted. Buckets idle for two minutes are dropped.
func rateLimit(perMinute int) fiber.Handler {
	l := &limiter{rate: float64(perMinute) / 60, burst: float64(perMinute), buckets: map[string]*bucket{}}
	return func(c *fiber.Ctx) error {
		p := c.Path()
		if p == "/healthz" || p == "/readyz" || strings.HasPrefix(p, "/admin/static/") {
			return c.Next()
		}
		if wait, ok := l.take(callerKeyOf(c), time.Now()); !ok {
			retry := strconv.Itoa(int(wait/time.Second) + 1)
			c.Set(fiber.HeaderRetryAfter, retry)
			return problemError(fiber.StatusTooManyRequests, "rate-limited",
				"this caller sent more than "+strconv.Itoa(perMinute)+" requests a minute; retry after "+retry+" s")
		}
		return c.Next()
	}
}

func callerKeyOf(c *fiber.Ctx) string {
	cred := c.Get(fiber.HeaderAuthorization)
	if cred == "" {
		cred = c.Get("X-Fluvius-User") + "\x00" + c.Get("X-Fluvius-Tenant")
	}
	if cred == "\x00" {
		return "ip:" + c.IP()
	}
	sum := sha256.Sum256([]byte(cred))
	return "cred:" + hex.EncodeToString(sum[:12])
}

type bucket struct {
	tokens float64
	at     time.Time
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
