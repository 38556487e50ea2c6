package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
)

// Modules built once for the package: the real user example and a plugin
// that misbehaves on request.
var (
	userWasm   []byte
	faultyWasm []byte
	cacheDir   string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fluvius-host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "cache")
	ctx := context.Background()
	for _, b := range []struct {
		src string
		dst *[]byte
	}{{"../plugins/examples/user", &userWasm}, {"testdata/faulty", &faultyWasm}} {
		out := filepath.Join(dir, filepath.Base(b.src)+".wasm")
		if err := wasmbuild.GoBuild(ctx, b.src, out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if *b.dst, err = os.ReadFile(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	code := m.Run()
	pgtest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			return 1
		}
	}
	return code
}

type env struct {
	host  *host.Host
	store store.Driver
	path  string // SQLite file, or
	url   string // PostgreSQL URL
}

// drivers are the stores the driver-sensitive host tests run on.
var drivers = []string{"sqlite", "postgres"}

// onDrivers runs a test once per store driver.
func onDrivers(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// newEnvOn is newEnv on the named driver.
func newEnvOn(t testing.TB, driver string, mod func(*host.Config)) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "fluvius.db")}
	if driver == "postgres" {
		e.url = pgtest.URL(t)
	}
	e.start(t, mod)
	return e.load(t, context.Background())
}

// newEnv starts a host on a fresh SQLite store with the user and faulty
// plugins loaded.
func newEnv(t testing.TB, mod func(*host.Config)) *env {
	t.Helper()
	return bareEnv(t, mod).load(t, context.Background())
}

// bareEnv starts a host with no plugin loaded.
func bareEnv(t testing.TB, mod func(*host.Config)) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "fluvius.db")}
	e.start(t, mod)
	return e
}

func (e *env) start(t testing.TB, mod func(*host.Config)) {
	t.Helper()
	var d store.Driver
	var err error
	if e.url != "" {
		d, err = postgres.Open(context.Background(), e.url, postgres.Options{})
	} else {
		d, err = sqlite.Open(context.Background(), e.path, sqlite.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := host.Config{Store: d, CacheDir: cacheDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if testing.Verbose() {
		cfg.Logger = slog.Default()
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.host, e.store = h, d
	t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.host != nil {
		e.host.Close(context.Background())
		e.store.Close()
		e.host = nil
	}
}

func (e *env) load(t testing.TB, ctx context.Context) *env {
	t.Helper()
	if _, err := e.host.Load(ctx, "user.wasm", userWasm); err != nil {
		t.Fatal(err)
	}
	if _, err := e.host.Load(ctx, "faulty.wasm", faultyWasm); err != nil {
		t.Fatal(err)
	}
	return e
}

// logger is the logger the env's host was given.
func (e *env) logger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
