package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres"
	"fluvius.dev/fluvius/store/postgres/pgtest"
	"fluvius.dev/fluvius/store/sqlite"
)

var ctx = context.Background()

// The tally plugin in its variants (see testdata/tally), built once.
var (
	tally        []byte // adds what it is given
	tallySame    []byte // the same, rebuilt into other bytes
	tallyDouble  []byte // folds "added" as twice the amount
	tallyRenamed []byte // emits "increased"; no applier for "added"
	cacheDir     string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fluvius-registry-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "cache")
	for _, b := range []struct {
		variant string
		dst     *[]byte
	}{{"", &tally}, {"same", &tallySame}, {"double", &tallyDouble}, {"renamed", &tallyRenamed}} {
		out := filepath.Join(dir, "tally-"+b.variant+".wasm")
		if err := wasmbuild.BuildWith(ctx, wasmbuild.Go, "testdata/tally", out, "-ldflags=-X=main.variant="+b.variant); err != nil {
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

var drivers = []string{"sqlite", "postgres"}

func onDrivers(t *testing.T, fn func(t *testing.T, where string)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			where := t.TempDir()
			if d == "postgres" {
				where = pgtest.URL(t)
			}
			fn(t, where)
		})
	}
}

// rig is a host with a registry over a store and a blob directory.
type rig struct {
	host  *host.Host
	reg   *registry.Registry
	store store.Driver
	// tenantOf is the tenant of each tally opened by open.
	mu       sync.Mutex
	tenantOf map[string]string
}

// newRig starts a host on where (a directory for SQLite, or a PostgreSQL
// URL) with its modules in blobs.
func newRig(t testing.TB, where, blobs string, opts registry.Options) *rig {
	t.Helper()
	var d store.Driver
	var err error
	if filepath.IsAbs(where) {
		d, err = sqlite.Open(ctx, filepath.Join(where, "fluvius.db"), sqlite.Options{})
	} else {
		d, err = postgres.Open(ctx, where, postgres.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.Default()
	}
	h, err := host.New(ctx, host.Config{Store: d, CacheDir: cacheDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.NewLocal(blobs)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{host: h, store: d, tenantOf: map[string]string{}, reg: registry.New(h, d.(store.PluginStore), bs, log, opts)}
	if err := r.reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.reg.Close()
		h.Close(ctx)
		d.Close()
	})
	return r
}

func (r *rig) upload(t testing.TB, module []byte) *store.PluginVersion {
	t.Helper()
	u, err := r.reg.Upload(ctx, registry.Upload{Module: module, Actor: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	r.reg.Release(u)
	return u.Version
}

func (r *rig) send(name, id string, n int) error {
	r.mu.Lock()
	tenant, ok := r.tenantOf[id]
	r.mu.Unlock()
	if !ok {
		tenant = "acme"
	}
	cmd := &host.Command{Domain: "tally", Name: name, Resource: "tally", AggregateID: id,
		Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), Caller: abi.Caller{UserID: "u", Tenant: tenant}}
	if name == "open" {
		cmd.AggregateID, cmd.New = "", true
	}
	_, err := r.host.Dispatch(ctx, cmd)
	return err
}

// open opens n tallies and adds to each, returning their ids.
func (r *rig) open(t testing.TB, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		res, err := r.host.Dispatch(ctx, &host.Command{Domain: "tally", Name: "open", Resource: "tally", New: true,
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i+1)), Caller: abi.Caller{UserID: "u", Tenant: fmt.Sprintf("t%d", i%3)}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.AggregateID
		r.mu.Lock()
		r.tenantOf[res.AggregateID] = fmt.Sprintf("t%d", i%3)
		r.mu.Unlock()
	}
	return ids
}

func wantCode(t testing.TB, err error, kind host.Kind, code string) *host.Error {
	t.Helper()
	var he *host.Error
	if !errors.As(err, &he) || he.Kind != kind || he.Code != code {
		t.Fatalf("want %s (kind %d), got %v", code, kind, err)
	}
	return he
}

func callerOf(i int) abi.Caller { return abi.Caller{UserID: "u", Tenant: fmt.Sprintf("t%d", i%3)} }

func pgURL(t *testing.T) string { return pgtest.URL(t) }

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("no change within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
