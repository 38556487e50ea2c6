package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The binary's serve command loads the plugins dir, serves, and stops
// cleanly on SIGTERM; the data it wrote is there for migrate status.
func TestServeAndStopOnSignal(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := wasmbuild.GoBuild(context.Background(), "../../plugins/examples/user", filepath.Join(plugins, "user.wasm")); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--plugins-dir", plugins, "--log-format", "json"}, os.Stdout, &logs)
	}()
	addr := ""
	for deadline := time.Now().Add(60 * time.Second); addr == "" && time.Now().Before(deadline); {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "fluvius serving" {
				addr = rec["listen"].(string)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("the server never said it was serving:\n%s", logs.String())
	}
	res, err := http.Post("http://"+addr+"/user:create-user/user/:new", "application/json",
		strings.NewReader(`{"email":"ann@example.com","name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create answered %d", res.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", logs.String())
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status", "--data-dir", filepath.Join(dir, "data")}, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "001_init\tapplied") {
		t.Fatalf("migrate status: %q", out.String())
	}
}

func TestBadInvocations(t *testing.T) {
	var out, errs bytes.Buffer
	for _, args := range [][]string{
		nil, {"frobnicate"}, {"serve", "--log-level", "loud"}, {"serve", "--log-format", "xml"},
		{"serve", "extra"}, {"migrate"}, {"migrate", "sideways", "--data-dir", t.TempDir()},
	} {
		if err := run(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
}

func TestMigrateOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "status", "--database-url", url}, "001_init\tpending\n002_tenant_keys\tpending"},
		{[]string{"migrate", "up", "--database-url", url}, "001_init\tapplied\n002_tenant_keys\tapplied\n003_api_keys\tapplied\n004_policies\tapplied\n005_plugins\tapplied\n006_state_lists\tapplied\n007_subscriptions\tapplied\n008_media\tapplied\n009_idempotency_expiry\tapplied"},
		{[]string{"migrate", "down", "--database-url", url}, "008_media\tapplied\n009_idempotency_expiry\tpending"},
		{[]string{"migrate", "down", "--database-url", url, "--steps", "8"}, "001_init\tpending\n002_tenant_keys\tpending"},
		{[]string{"migrate", "up", "--database-url", url}, "009_idempotency_expiry\tapplied"},
	}
	for _, s := range steps {
		var out bytes.Buffer
		if err := run(ctx, s.args, &out, os.Stderr); err != nil {
			t.Fatalf("%v: %v", s.args, err)
		}
		if !strings.Contains(out.String(), s.want) {
			t.Fatalf("%v printed %q, want %q", s.args, out.String(), s.want)
		}
	}
	if err := run(ctx, []string{"migrate", "status", "--database-url", "mysql://nope"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a non-postgres URL was accepted")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The author's loop through the CLI: init, build, test; a broken
// expectation fails with a readable diff.
func TestPluginInitBuildTest(t *testing.T) {
	dir := t.TempDir()
	root, _ := filepath.Abs("../..")
	var out bytes.Buffer
	ctx := context.Background()
	plugin := filepath.Join(dir, "shop")
	if err := run(ctx, []string{"plugin", "init", "shop", "--dir", plugin, "--sdk", root}, &out, &out); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"plugin", "init", "shop", "--dir", plugin, "--sdk", root}, io.Discard, io.Discard); err == nil {
		t.Fatal("init over an existing directory succeeded")
	}
	// The checkout is named by a relative path: the module can move with it.
	if mod, _ := os.ReadFile(filepath.Join(plugin, "go.mod")); !strings.Contains(string(mod), "=> ../") || strings.Contains(string(mod), "=> /") {
		t.Fatalf("go.mod names the SDK by an absolute path:\n%s", mod)
	}
	if err := run(ctx, []string{"plugin", "init", "Bad_Name", "--sdk", root}, io.Discard, io.Discard); err == nil {
		t.Fatal("init accepted a bad name")
	}
	wasm := filepath.Join(dir, "shop.wasm")
	out.Reset()
	if err := run(ctx, []string{"plugin", "build", plugin, "--toolchain", "go", "-o", wasm}, &out, &out); err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "domain shop (revision 1): 2 commands, 2 events") {
		t.Fatalf("build said %q", out.String())
	}
	scenarios := filepath.Join(plugin, "scenarios.json")
	out.Reset()
	if err := run(ctx, []string{"plugin", "test", "--wasm", wasm, scenarios}, &out, &out); err != nil {
		t.Fatalf("test: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "3 passed, 0 failed") {
		t.Fatalf("test said %q", out.String())
	}
	// Break an expectation: the run fails and says where.
	b, _ := os.ReadFile(scenarios)
	os.WriteFile(scenarios, bytes.Replace(b, []byte(`"state": {"title": "First"`), []byte(`"state": {"title": "Second"`), 1), 0o644)
	out.Reset()
	if err := run(ctx, []string{"plugin", "test", "--wasm", wasm, scenarios}, &out, &out); err == nil {
		t.Fatal("a failing scenario passed")
	}
	if !strings.Contains(out.String(), `state.title: want "Second", got "First"`) || !strings.Contains(out.String(), "2 passed, 1 failed") {
		t.Fatalf("the failure is not readable:\n%s", out.String())
	}
	if err := run(ctx, []string{"plugin", "build", plugin, "--toolchain", "rust"}, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown toolchain was accepted")
	}
	if err := run(ctx, []string{"plugin", "test", "--wasm", filepath.Join(dir, "missing.wasm"), scenarios}, io.Discard, io.Discard); err == nil {
		t.Fatal("testing a missing module succeeded")
	}
}

// Development mode (no authentication) is refused on a listener others can
// reach, unless asked for; a JWT secret too short to be safe stops the start.
func TestServeRefusesUnsafeAuthentication(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", "0.0.0.0:0"}, "--insecure-dev"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--jwt-secret", "short"}, "secret"},
	} {
		args := append(c.args, "--data-dir", t.TempDir())
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	if !loopback("127.0.0.1:8080") || !loopback("[::1]:80") || !loopback("localhost:1") || loopback(":8080") || loopback("0.0.0.0:1") {
		t.Error("loopback() misjudges an address")
	}
}
