package admin

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"fluvius.dev/fluvius/store"
)

// routeOps mounts /readyz, and /metrics when metrics are configured.
//
//	GET /healthz   the process answers (alive)
//	GET /readyz    the store answers, its migrations are all applied, the plugins are loaded: 200, else 503
//	GET /metrics   Prometheus text, for the admin role
func (s *Server) routeOps() {
	s.app.Get("/readyz", s.readyz)
	if s.metrics != nil {
		h := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
		s.app.Get("/metrics", func(c *fiber.Ctx) error {
			if _, err := s.administrator(c); err != nil {
				return err
			}
			return s.bridge(c, h)
		})
	}
}

// timeRequests feeds the HTTP histogram.
func (s *Server) timeRequests(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = problemOf(err).Status
	}
	// Fiber's strings alias its buffers: the labels are kept, so copied.
	method := strings.Clone(c.Method())
	s.metrics.HTTP.WithLabelValues(method, routeKind(method, c.Path()), strconv.Itoa(status/100)+"xx").
		Observe(time.Since(start).Seconds())
	return err
}

// routeKind names a path's kind of route, a label with few values.
func routeKind(method, path string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"/_admin/", "admin"}, {"/admin", "ui"}, {"/_media", "media"}, {"/_events", "events"}, {"/_batch", "batch"},
		{"/_meta", "meta"}, {"/mcp", "mcp"}, {"/openapi.json", "docs"}, {"/docs", "docs"}, {"/metrics", "ops"},
		{"/healthz", "ops"}, {"/readyz", "ops"},
	} {
		if strings.HasPrefix(path, k.prefix) {
			return k.kind
		}
	}
	if method == fiber.MethodPost {
		return "command"
	}
	return "query"
}

// readyz says whether the host can serve: its store answers, every
// migration is applied, and the registry (if any) has loaded the active
// plugins. Each check is named in the answer.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	checks := fiber.Map{}
	ready := true
	if _, err := s.host.Store().Executor().StreamVersion(ctx, store.StreamKey{Stream: "_readyz"}); err != nil {
		checks["store"], ready = "unreachable: "+err.Error(), false
	} else {
		checks["store"] = "ok"
	}
	if m, ok := s.host.Store().(store.Migrator); ok {
		states, err := m.MigrationStatus(ctx)
		pending := 0
		for _, st := range states {
			if !st.Applied {
				pending++
			}
		}
		switch {
		case err != nil:
			checks["migrations"], ready = "unknown: "+err.Error(), false
		case pending > 0:
			checks["migrations"], ready = strconv.Itoa(pending)+" pending", false
		default:
			checks["migrations"] = "ok"
		}
	}
	if s.registry != nil {
		if err := s.registry.Loaded(); err != nil {
			checks["plugins"], ready = err.Error(), false
		} else {
			checks["plugins"] = "ok"
		}
	}
	checks["domains"] = len(s.host.Plugins())
	status := fiber.StatusOK
	if !ready {
		status = fiber.StatusServiceUnavailable
	}
	return c.Status(status).JSON(fiber.Map{"ready": ready, "checks": checks})
}
