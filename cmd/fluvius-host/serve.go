package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/jobs"
	"fluvius.dev/fluvius/mcp"
	"fluvius.dev/fluvius/media"
	"fluvius.dev/fluvius/metrics"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/subscribe"
	"fluvius.dev/fluvius/tracing"
)

type serveFlags struct {
	listen      string
	dataDir     string
	databaseURL string
	// A streaming replica for clients' state reads and lists, and how long
	// a read-your-writes read waits for it.
	readDatabaseURL string
	replicaWait     time.Duration
	pluginsDir      string
	blobsDir        string
	logLevel        string
	logFormat       string
	guestTimeout    time.Duration
	fuel            int64
	maxInstances    int
	// Event handlers and jobs: whether this host runs them, and how long
	// a subscription's lease lasts without renewal.
	handlers, runJobs bool
	lease             time.Duration
	mediaMaxBytes     int64
	corsOrigins       string
	idempotencyTTL    time.Duration
	rateLimit         int
	metricsListen     string
	// Modules and media in S3 when s3.Endpoint is set; the secret signing
	// media download URLs.
	s3          blob.S3Config
	mediaSecret string
	auth        authFlags
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", envOr("FLUVIUS_LISTEN", "127.0.0.1:8080"), "address to serve HTTP on (env FLUVIUS_LISTEN)")
	fs.StringVar(&f.dataDir, "data-dir", envOr("FLUVIUS_DATA_DIR", "data"), "directory for the database and compilation cache (env FLUVIUS_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", envOr("FLUVIUS_DATABASE_URL", ""), "postgres:// URL of a shared PostgreSQL; empty uses SQLite in the data dir (env FLUVIUS_DATABASE_URL)")
	fs.StringVar(&f.readDatabaseURL, "read-database-url", envOr("FLUVIUS_READ_DATABASE_URL", ""), "postgres:// URL of a streaming replica of --database-url: clients' state reads and lists are served from it (env FLUVIUS_READ_DATABASE_URL)")
	fs.DurationVar(&f.replicaWait, "replica-wait", envDuration("FLUVIUS_REPLICA_WAIT", time.Second), "how long a read asking for min_version waits for the replica before it reads the primary (env FLUVIUS_REPLICA_WAIT)")
	fs.StringVar(&f.pluginsDir, "plugins-dir", envOr("FLUVIUS_PLUGINS_DIR", ""), "directory of .wasm plugins registered at start, and activated where their domain has no active version; default DATA_DIR/plugins (env FLUVIUS_PLUGINS_DIR)")
	fs.StringVar(&f.blobsDir, "blobs-dir", envOr("FLUVIUS_BLOBS_DIR", ""), "directory of uploaded modules, shared by hosts that share a database; default DATA_DIR/blobs (env FLUVIUS_BLOBS_DIR)")
	fs.StringVar(&f.logLevel, "log-level", envOr("FLUVIUS_LOG_LEVEL", "info"), "debug, info, warn or error (env FLUVIUS_LOG_LEVEL)")
	fs.StringVar(&f.logFormat, "log-format", envOr("FLUVIUS_LOG_FORMAT", "text"), "text or json (env FLUVIUS_LOG_FORMAT)")
	fs.DurationVar(&f.guestTimeout, "guest-timeout", 10*time.Second, "longest a host service (a state read) may take for a plugin; fuel bounds the plugin's own code")
	fs.Int64Var(&f.fuel, "fuel", 0, "fuel budget of one plugin call in metering units; 0 means the default (1<<34)")
	fs.IntVar(&f.maxInstances, "max-instances", 0, "instances per plugin; 0 means twice the CPUs")
	fs.BoolVar(&f.handlers, "handlers", envOr("FLUVIUS_HANDLERS", "true") == "true", "run the plugins' event handlers on this host (env FLUVIUS_HANDLERS); each subscription runs on one host at a time")
	fs.BoolVar(&f.runJobs, "jobs", envOr("FLUVIUS_JOBS", "true") == "true", "run the plugins' background jobs on this host (env FLUVIUS_JOBS)")
	fs.Int64Var(&f.mediaMaxBytes, "media-max-bytes", envInt64("FLUVIUS_MEDIA_MAX_BYTES", 100<<20), "largest file POST /_media takes, in bytes (env FLUVIUS_MEDIA_MAX_BYTES)")
	fs.StringVar(&f.corsOrigins, "cors-origins", envOr("FLUVIUS_CORS_ORIGINS", ""), "comma-separated origins that may call the API from a browser, or * (env FLUVIUS_CORS_ORIGINS); empty: none")
	fs.IntVar(&f.rateLimit, "rate-limit", int(envInt64("FLUVIUS_RATE_LIMIT", 0)), "requests a caller may send a minute, answered 429 past it (env FLUVIUS_RATE_LIMIT); 0: no limit")
	fs.DurationVar(&f.idempotencyTTL, "idempotency-ttl", envDuration("FLUVIUS_IDEMPOTENCY_TTL", 24*time.Hour), "how long an Idempotency-Key is remembered; older records are swept every minute (env FLUVIUS_IDEMPOTENCY_TTL; 0 keeps them)")
	fs.StringVar(&f.s3.Endpoint, "s3-endpoint", envOr(blob.EnvS3Endpoint, ""), "S3 server (host:port or URL) keeping modules and media instead of --blobs-dir; hosts sharing a database share it (env FLUVIUS_S3_ENDPOINT)")
	fs.StringVar(&f.s3.Bucket, "s3-bucket", envOr(blob.EnvS3Bucket, ""), "the S3 bucket (env FLUVIUS_S3_BUCKET)")
	fs.StringVar(&f.s3.Region, "s3-region", envOr(blob.EnvS3Region, ""), "the bucket's region; default us-east-1 (env FLUVIUS_S3_REGION)")
	fs.StringVar(&f.s3.Prefix, "s3-prefix", envOr(blob.EnvS3Prefix, ""), "a prefix of every key in the bucket, to share one (env FLUVIUS_S3_PREFIX)")
	fs.StringVar(&f.s3.AccessKey, "s3-access-key", envOr(blob.EnvS3AccessKey, ""), "S3 access key; empty with the secret key: anonymous (env FLUVIUS_S3_ACCESS_KEY)")
	fs.StringVar(&f.s3.SecretKey, "s3-secret-key", envOr(blob.EnvS3SecretKey, ""), "S3 secret key (env FLUVIUS_S3_SECRET_KEY)")
	fs.BoolVar(&f.s3.PathStyle, "s3-path-style", envBool(blob.EnvS3PathStyle), "address the bucket in the path, as MinIO needs (env FLUVIUS_S3_PATH_STYLE)")
	fs.BoolVar(&f.s3.Secure, "s3-secure", envBool(blob.EnvS3Secure), "speak TLS to S3 (or give an https:// endpoint) (env FLUVIUS_S3_SECURE)")
	fs.StringVar(&f.mediaSecret, "media-secret", envOr("FLUVIUS_MEDIA_SECRET", ""), "secret signing media download URLs, the same on every host; empty: a random one, good until the process exits (env FLUVIUS_MEDIA_SECRET)")
	fs.StringVar(&f.metricsListen, "metrics-listen", envOr("FLUVIUS_METRICS_LISTEN", ""), "also serve GET /metrics, without authentication, on this address: one only the scraper reaches (env FLUVIUS_METRICS_LISTEN); /metrics on --listen asks for the admin role")
	fs.DurationVar(&f.lease, "subscription-lease", 10*time.Second, "how long a host holds a subscription without renewing it: the longest a subscription stands still after its host dies")
	f.auth.register(fs)
	configPath := fs.String("config", envOr("FLUVIUS_CONFIG", ""), "a file of flag-name = value lines, below flags and environment, above .env (env FLUVIUS_CONFIG)")
	printOnly := fs.Bool("print-config", false, "print the configuration (each value's source; secrets masked) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	sources, err := layerConfig(fs, *configPath)
	if err != nil {
		return err
	}
	if *printOnly {
		printConfig(stderr, fs, sources)
		return nil
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	if f.pluginsDir == "" {
		f.pluginsDir = filepath.Join(f.dataDir, "plugins")
	}
	if f.blobsDir == "" {
		f.blobsDir = filepath.Join(f.dataDir, "blobs")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runServer(ctx, f, log)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// runServer starts everything, serves until ctx ends, then stops in order:
// the HTTP server first (in-flight commands finish), then the host, then the
// store.
func runServer(ctx context.Context, f serveFlags, log *slog.Logger) error {
	if err := badEnvBool(blob.EnvS3PathStyle, blob.EnvS3Secure); err != nil {
		return err
	}
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	if err := os.MkdirAll(f.pluginsDir, 0o755); err != nil {
		return fmt.Errorf("creating plugins dir: %w", err)
	}
	st, storeName, err := openStore(ctx, f.databaseURL, f.dataDir, true)
	if err != nil {
		return err
	}
	defer st.Close()
	var replica store.Driver
	if f.readDatabaseURL != "" {
		if f.databaseURL == "" {
			return errors.New("--read-database-url names a replica of --database-url: give both (SQLite has no replicas)")
		}
		if !strings.HasPrefix(f.readDatabaseURL, "postgres://") && !strings.HasPrefix(f.readDatabaseURL, "postgresql://") {
			return errors.New("--read-database-url must be a postgres:// URL")
		}
		r, err := postgres.Open(ctx, f.readDatabaseURL, postgres.Options{Replica: true, Logger: log})
		if err != nil {
			return err
		}
		defer r.Close()
		replica = r
		log.Info("serving clients' reads from a replica")
	}
	keys, ok := st.(store.APIKeyStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no API keys", storeName)
	}
	authn, closeAuth, err := f.auth.build(ctx, f.listen, keys, log)
	if err != nil {
		return err
	}
	defer closeAuth()
	policies, ok := st.(store.PolicyStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no policies", storeName)
	}
	az, err := authz.New(ctx, policies, log)
	if err != nil {
		return fmt.Errorf("loading policies: %w", err)
	}
	defer az.Close()
	shutdownTracing, err := tracing.Setup(ctx, "fluvius-host", version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()
	if tracing.Configured() {
		log.Info("exporting traces over OTLP")
	}
	mx := metrics.New()
	h, err := host.New(ctx, host.Config{Authorizer: az,
		Store: st, CacheDir: filepath.Join(f.dataDir, "cache", "wazero"), Logger: log,
		GuestTimeout: f.guestTimeout, Fuel: f.fuel, MaxInstances: f.maxInstances, Observer: mx,
		Replica: replica, ReplicaWait: f.replicaWait,
	})
	if err != nil {
		return err
	}
	defer h.Close(context.Background())
	mx.Watch(h)
	start := time.Now()
	// The registry in the store says what every host serves; the plugins
	// directory seeds it: its modules are registered, and activated where
	// their domain has no active version yet.
	plugins, ok := st.(store.PluginStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no plugin registry", storeName)
	}
	// Modules and media live in one blob store: S3 when --s3-endpoint
	// is set (hosts sharing a database then share their files), else files
	// under the blobs dir.
	var blobs blob.Store
	if f.s3.Endpoint != "" {
		if blobs, err = blob.NewS3(ctx, f.s3); err != nil {
			return fmt.Errorf("opening the S3 blob store: %w", err)
		}
	} else if blobs, err = blob.NewLocal(f.blobsDir); err != nil {
		return err
	}
	mediaSecret := []byte(f.mediaSecret)
	if len(mediaSecret) == 0 {
		// Signed download URLs then last as long as this process: hosts
		// sharing a database set one secret for all.
		mediaSecret = make([]byte, 32)
		rand.Read(mediaSecret)
	}
	mediaSvc, err := media.New(h, media.Config{Blobs: blobs, MaxBytes: f.mediaMaxBytes, Secret: mediaSecret, Logger: log})
	if err != nil {
		return err
	}
	reg := registry.New(h, plugins, blobs, log, registry.Options{})
	if err := reg.Seed(ctx, f.pluginsDir); err != nil {
		log.Error("seeding the registry from the plugins dir", "plugins_dir", f.pluginsDir, "err", err)
	}
	if err := reg.Start(ctx); err != nil {
		log.Error("loading the registry's active plugins; retrying in the background", "err", err)
	}
	defer reg.Close()
	// Jobs first: the handlers and the job outbox enqueue into it.
	var queue *jobs.Queue
	var internal []subscribe.Internal
	if f.runJobs {
		if queue, err = jobs.New(ctx, h, jobs.Options{Logger: log}); err != nil {
			return err
		}
		if err := queue.Start(ctx); err != nil {
			queue.Close()
			return err
		}
		defer queue.Close()
		internal = append(internal, queue.Outbox())
	}
	var runner *subscribe.Runner
	if f.handlers {
		if runner, err = subscribe.New(h, subscribe.Options{Lease: f.lease, Logger: log, Internal: internal}); err != nil {
			return err
		}
		runner.Start(ctx)
		defer runner.Close()
	}
	// MCP: the same callers, authentication and dispatcher as REST.
	mcpSvc := mcp.New(h, mcp.Options{Auth: authn, Logger: log, Version: version})
	mcpSvc.Start(ctx)
	defer mcpSvc.Close()
	// Idempotency records expire.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if n, err := h.SweepIdempotency(sweepCtx, f.idempotencyTTL); err != nil && sweepCtx.Err() == nil {
				log.Warn("sweeping idempotency records failed", "err", err)
			} else if n > 0 {
				log.Info("swept idempotency records", "deleted", n, "older_than", f.idempotencyTTL)
			}
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	served := h.Plugins()
	if len(served) == 0 {
		log.Warn("no plugins are active; upload one (fluvius-host plugin push) or copy .wasm files into the plugins dir and restart", "plugins_dir", f.pluginsDir)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := admin.New(h, admin.Options{Logger: log, Auth: authn, APIKeys: keys, Authz: az, Registry: reg,
		Subscriptions: runner, Jobs: queue, Media: mediaSvc, MCP: mcpSvc, Metrics: mx,
		CORSOrigins: splitList(f.corsOrigins), RateLimit: f.rateLimit})
	if f.metricsListen != "" {
		stop, addr, err := serveMetrics(f.metricsListen, mx, log)
		if err != nil {
			return err
		}
		defer stop()
		log.Info("serving metrics", "listen", addr)
	}
	log.Info("fluvius serving", "listen", ln.Addr().String(), "store", storeName,
		"plugins", len(served), "startup", time.Since(start).Round(time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("stopping HTTP server", "err", err)
	}
	<-done
	log.Info("stopped")
	return nil
}

// serveMetrics serves /metrics alone on a listener of its own, for a
// scraper on a network clients do not reach: no credential is asked there.
func serveMetrics(addr string, mx *metrics.Metrics, log *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listening for metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(mx.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving metrics", "err", err)
		}
	}()
	return func() { srv.Close() }, ln.Addr().String(), nil
}

// envBool reads a boolean from the environment (false when unset); badEnvBool
// names a variable set to something that is not one.
func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

func badEnvBool(names ...string) error {
	for _, name := range names {
		if v := os.Getenv(name); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%s=%q: want true or false", name, v)
			}
		}
	}
	return nil
}

// splitList reads a comma-separated list, without empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// envDuration reads a duration from the environment, or returns def when the
// variable is unset or not a duration.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
