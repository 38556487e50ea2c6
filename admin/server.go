package admin

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Options configure the HTTP layer.
type Options struct {
	Logger *slog.Logger
	// Auth authenticates callers; nil lets every caller in anonymously
	// (development mode, headers ignored).
	Auth *auth.Authenticator
	// APIKeys keeps the API keys the management API creates and revokes;
	// nil leaves that part of the management API out.
	APIKeys store.APIKeyStore
	// Authz is the authorizer whose policies the management API manages;
	// nil leaves that part out.
	Authz *authz.Authorizer
	// BodyLimit bounds request bodies in bytes; 0 means 1 MiB.
	BodyLimit int
	// EventsPageBytes ends an events page after the event whose data
	// reaches it; 0 means 1 MiB.
	EventsPageBytes int
}

// Server is the HTTP API of a host.
type Server struct {
	host  *host.Host
	app   *fiber.App
	auth  *auth.Authenticator
	keys  store.APIKeyStore
	authz *authz.Authorizer
	log   *slog.Logger
	// pageBytes bounds an events page by its events' data.
	pageBytes int
}

// New builds the HTTP API over h.
func New(h *host.Host, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Auth == nil {
		opts.Auth = &auth.Authenticator{}
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.EventsPageBytes <= 0 {
		opts.EventsPageBytes = 1 << 20
	}
	s := &Server{host: h, auth: opts.Auth, keys: opts.APIKeys, authz: opts.Authz, log: opts.Logger, pageBytes: opts.EventsPageBytes}
	s.app = fiber.New(fiber.Config{
		AppName:               "fluvius",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          errorHandler(opts.Logger),
		CaseSensitive:         true,
		StrictRouting:         true,
	})
	s.app.Server().Handler = rejectUnknownMethods(s.app.Server().Handler)
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/_meta", s.listDomains)
	s.app.Get("/_meta/:domain", s.describeDomain)
	if s.keys != nil {
		s.app.Post("/_admin/api-keys", s.createAPIKey)
		s.app.Get("/_admin/api-keys", s.listAPIKeys)
		s.app.Delete("/_admin/api-keys/:id", s.revokeAPIKey)
	}
	if s.authz != nil {
		s.app.Get("/_admin/policies", s.listPolicies)
		s.app.Post("/_admin/policies", s.changePolicy)
		s.app.Delete("/_admin/policies", s.changePolicy)
		s.app.Post("/_admin/policies/test", s.testPolicy)
	}
	s.app.Post("/*", s.command)
	s.app.Get("/*", s.query)
	s.app.Use(func(c *fiber.Ctx) error {
		return problemError(fiber.StatusMethodNotAllowed, "method-not-allowed",
			"use POST /{domain}:{command}/{resource}/{id} for commands and GET /{domain}.{resource}/{id} for state")
	})
	return s
}

// App returns the Fiber app, for tests and embedding.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops taking requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }
