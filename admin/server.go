package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/jobs"
	"fluvius.dev/fluvius/live"
	"fluvius.dev/fluvius/mcp"
	"fluvius.dev/fluvius/media"
	"fluvius.dev/fluvius/metrics"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/subscribe"
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
	// Registry is the plugin lifecycle the management API drives; nil
	// leaves that part out.
	Registry *registry.Registry
	// MaxModuleBytes bounds an uploaded module (the one body allowed past
	// BodyLimit, read as a stream); 0 means 64 MiB.
	MaxModuleBytes int64
	// WriteTimeout bounds writing an answer, and each write of a live
	// stream (never the whole stream); 0 means 30 s.
	WriteTimeout time.Duration
	// Live configures the live streams of GET /_events.
	Live LiveOptions
	// Subscriptions runs the plugins' event handlers on this host; nil
	// leaves the subscriptions part of the management API out.
	Subscriptions *subscribe.Runner
	// Jobs is the host's job queue; nil leaves the jobs part out.
	Jobs *jobs.Queue
	// Media is the media service; nil leaves /_media out.
	Media *media.Service
	// MCP is the MCP endpoint; nil leaves /mcp out.
	MCP *mcp.Service
	// Metrics is the host's Prometheus registry; nil leaves /metrics out.
	Metrics *metrics.Metrics
	// CORSOrigins may call the API from a browser ("*": any); none: no
	// CORS headers.
	CORSOrigins []string
	// RateLimit is how many requests a caller may send in a minute; 0: no
	// limit.
	RateLimit int
}

// Server is the HTTP API of a host.
type Server struct {
	host  *host.Host
	app   *fiber.App
	auth  *auth.Authenticator
	keys  store.APIKeyStore
	authz *authz.Authorizer
	log   *slog.Logger
	// registry drives the plugin lifecycle; maxModule bounds an upload.
	registry  *registry.Registry
	maxModule int64
	bodyLimit int
	ui        *sessions // the admin UI's sessions
	// pageBytes bounds an events page by its events' data.
	pageBytes int
	// live fans the event feed out to the streams of GET /_events;
	// streams counts the WebSocket ones, which fasthttp no longer tracks.
	live         *live.Hub
	liveOpts     LiveOptions
	streams      sync.WaitGroup
	writeTimeout time.Duration
	subs         *subscribe.Runner
	jobs         *jobs.Queue
	media        *media.Service
	mcp          *mcp.Service
	metrics      *metrics.Metrics
	// shutdown is closed when Shutdown begins: streams end.
	shutdown chan struct{}
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
	if opts.MaxModuleBytes <= 0 {
		opts.MaxModuleBytes = 64 << 20
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.Live.Heartbeat <= 0 {
		opts.Live.Heartbeat = 15 * time.Second
	}
	if opts.Live.SendBuffer <= 0 {
		opts.Live.SendBuffer = 256 << 10
	}
	s := &Server{host: h, auth: opts.Auth, keys: opts.APIKeys, authz: opts.Authz, log: opts.Logger, pageBytes: opts.EventsPageBytes,
		registry: opts.Registry, maxModule: opts.MaxModuleBytes, bodyLimit: opts.BodyLimit, ui: newSessions(),
		liveOpts: opts.Live, writeTimeout: opts.WriteTimeout, subs: opts.Subscriptions, jobs: opts.Jobs, media: opts.Media,
		mcp: opts.MCP, metrics: opts.Metrics, shutdown: make(chan struct{})}
	s.live = live.NewHub(h.Store(), s.liveAccess, live.Options{MaxSubscribers: opts.Live.MaxClients,
		Buffer: opts.Live.Buffer, BufferBytes: opts.Live.BufferBytes, Logger: opts.Logger})
	s.app = fiber.New(fiber.Config{
		AppName:               "fluvius",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          errorHandler(opts.Logger),
		CaseSensitive:         true,
		StrictRouting:         true,
		// Bodies past BodyLimit reach a handler as a stream: the upload
		// route reads a module to its own limit; every other route answers
		// 413 (boundBody) without reading them.
		StreamRequestBody: true,
		// fasthttp would otherwise read every multipart body whole (to
		// temporary files past 16 MB) before any handler or limit, on any
		// route; the upload routes read their parts as a stream.
		DisablePreParseMultipartForm: true,
	})
	s.app.Server().Handler = rejectUnknownMethods(s.app.Server().Handler)
	s.app.Use(requestID)
	s.app.Use(traceRequests)
	if s.metrics != nil {
		s.app.Use(s.timeRequests)
	}
	if len(opts.CORSOrigins) > 0 {
		s.app.Use(corsMiddleware(opts.CORSOrigins))
	}
	if opts.RateLimit > 0 {
		s.app.Use(s.rateLimit(opts.RateLimit))
	}
	s.app.Use(s.boundBody)
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/_meta", s.listDomains)
	s.app.Get("/_meta/:domain", s.describeDomain)
	s.app.Get("/_meta/:target/", s.describeResource)
	s.app.Get("/_events", s.liveEvents)
	s.routeOps()
	s.routeOpenAPI()
	s.app.Post("/_batch", s.batch)
	if s.subs != nil {
		s.app.Get("/_admin/subscriptions", s.listSubscriptions)
		s.app.Get("/_admin/subscriptions/:name/dead-letters", s.listDeadLetters)
		s.app.Post("/_admin/subscriptions/:name/dead-letters/:id/retry", s.retryDeadLetter)
		s.app.Post("/_admin/subscriptions/:name/dead-letters/:id/skip", s.skipDeadLetter)
	}
	if s.jobs != nil {
		s.app.Get("/_admin/jobs", s.listJobs)
	}
	if s.media != nil {
		s.routeMedia()
	}
	if s.mcp != nil {
		s.routeMCP()
	}
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
	s.routeUI()
	if s.registry != nil {
		s.app.Post("/_admin/plugins", s.uploadPlugin)
		s.app.Get("/_admin/plugins", s.listPlugins)
		s.app.Get("/_admin/plugins/:domain", s.showPlugin)
		s.app.Post("/_admin/plugins/:domain/activate", s.activatePlugin(false))
		s.app.Post("/_admin/plugins/:domain/rollback", s.activatePlugin(true))
		s.app.Post("/_admin/plugins/:domain/disable", s.disablePlugin)
		s.app.Get("/_admin/plugins/:domain/versions/:version", s.showVersion)
		s.app.Delete("/_admin/plugins/:domain/versions/:version", s.deleteVersion)
		s.app.Post("/_admin/plugins/:domain/versions/:version/test", s.testVersion)
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

// Shutdown stops taking requests and waits for those in flight. Live
// streams are ended first (they would keep their connections busy for
// good), each with the reason.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.shutdown:
	default:
		close(s.shutdown)
	}
	s.live.Close()
	err := s.app.ShutdownWithContext(ctx)
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// boundBody holds every request but an upload to BodyLimit. A body past it
// arrives as a stream (StreamRequestBody); it is refused with 413 before
// it is read, or, sent without a length (chunked), read up to the limit
// and kept as the body.
func (s *Server) boundBody(c *fiber.Ctx) error {
	if !c.Request().IsBodyStream() {
		return c.Next()
	}
	// Whatever the route does, the connection carries no request after
	// this one: body bytes left unread must never be parsed as a request.
	c.Context().SetConnectionClose()
	if c.Method() == fiber.MethodPost && (c.Path() == "/_admin/plugins" || c.Path() == "/admin/plugins" || c.Path() == "/_media" && s.media != nil) {
		return c.Next()
	}
	if c.Request().Header.ContentLength() > s.bodyLimit {
		return fiber.ErrRequestEntityTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), int64(s.bodyLimit)+1))
	if err != nil {
		return problemError(fiber.StatusBadRequest, "truncated", "the body ended early")
	}
	if len(b) > s.bodyLimit {
		return fiber.ErrRequestEntityTooLarge
	}
	c.Request().SetBody(b)
	return c.Next()
}

// requestBody returns the body to read: the stream of one past BodyLimit,
// or the bytes fasthttp read.
func requestBody(c *fiber.Ctx) io.Reader {
	if c.Request().IsBodyStream() {
		return c.Context().RequestBodyStream()
	}
	return bytes.NewReader(c.Body())
}

// routeUI mounts the admin UI at /admin.
func (s *Server) routeUI() {
	s.app.Get("/admin/static/*", s.uiStatic)
	s.app.Get("/admin/login", s.uiLogin)
	s.app.Post("/admin/login", s.uiLogin)
	s.app.Post("/admin/logout", s.uiLogout)
	s.app.Get("/admin", s.uiOverview)
	s.app.Get("/admin/domains/:domain", s.uiDomain)
	s.app.Post("/admin/domains/:domain/commands/:command", s.uiSend)
	s.app.Get("/admin/resources/:target", s.uiResource)
	s.app.Get("/admin/resources/:target/:id", s.uiAggregate)
	s.app.Get("/admin/events", s.uiEvents)
	s.app.Get("/admin/events/feed", s.uiFeed)
	if s.registry != nil {
		s.app.Get("/admin/plugins", s.uiPlugins)
		s.app.Post("/admin/plugins", s.uiUpload)
		s.app.Get("/admin/plugins/:domain", s.uiPlugin)
		s.app.Get("/admin/plugins/:domain/versions/:version/activate", s.uiActivate)
		s.app.Post("/admin/plugins/:domain/versions/:version/activate", s.uiActivate)
		s.app.Post("/admin/plugins/:domain/rollback", s.uiRollback)
		s.app.Post("/admin/plugins/:domain/disable", s.uiDisable)
		s.app.Post("/admin/plugins/:domain/versions/:version/test", s.uiTest)
		s.app.Get("/admin/plugins/:domain/diff", s.uiDiff)
	}
	if s.keys != nil {
		s.app.Get("/admin/keys", s.uiKeys)
		s.app.Post("/admin/keys", s.uiCreateKey)
		s.app.Post("/admin/keys/:id/revoke", s.uiRevokeKey)
	}
	if s.authz != nil {
		s.app.Post("/admin/policies", s.uiPolicy("add"))
		s.app.Post("/admin/policies/remove", s.uiPolicy("remove"))
		s.app.Post("/admin/policies/test", s.uiPolicy("test"))
	}
}
