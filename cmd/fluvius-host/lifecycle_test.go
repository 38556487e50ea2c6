package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// hostBinary builds fluvius-host once for the package's tests.
func hostBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "fluvius-bin"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "fluvius-host")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("building fluvius-host: %v\n%s", binErr, binPath)
	}
	return binPath
}

// buildPlugins builds Go plugin sources (directories, relative to this
// package) into dir as NAME.wasm, and returns dir.
func buildPlugins(t *testing.T, dir string, sources ...string) string {
	t.Helper()
	for _, src := range sources {
		if err := wasmbuild.GoBuild(context.Background(), src, filepath.Join(dir, filepath.Base(src)+".wasm")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// process is a fluvius-host serve process.
type process struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
}

// startProcess runs serve with args and waits until it says it serves.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(hostBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: &syncBuffer{}}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "fluvius serving" {
				listening <- rec["listen"].(string)
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("host log:\n%s", p.logs.String())
		}
	})
	select {
	case addr := <-listening:
		p.url = "http://" + addr
	case <-time.After(90 * time.Second):
		t.Fatalf("the host never said it was serving:\n%s", p.logs.String())
	}
	return p
}

// createUser sends a command and returns the status.
func (p *process) createUser(t *testing.T) int {
	t.Helper()
	res, err := http.Post(p.url+"/user:create-user/user/:new", "application/json",
		strings.NewReader(`{"email":"ann@example.com","name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// served returns the SHA-256 of the module a host serves for a domain.
func (p *process) served(t *testing.T, key, domain string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/_admin/plugins/"+domain, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Plugin struct {
			Served string `json:"served_sha256"`
		} `json:"plugin"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	return out.Plugin.Served
}

func within(t *testing.T, what string, d time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Two host processes on one PostgreSQL, driven by the CLI: a version
// pushed and activated on one is served by the other within a second;
// a rollback and a disable made on either reach both.
func TestTwoHostProcessesConverge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	user := filepath.Join(dir, "user.wasm")
	if err := wasmbuild.GoBuild(ctx, "../../plugins/examples/user", user); err != nil {
		t.Fatal(err)
	}
	module, _ := os.ReadFile(user)
	rebuilt := filepath.Join(dir, "user-rebuilt.wasm")
	// The same plugin in other bytes: a custom section appended.
	os.WriteFile(rebuilt, append(append([]byte{}, module...), 0, 7, 5, 'b', 'u', 'i', 'l', 'd', '2'), 0o644)
	url, blobs, key := pgtest.URL(t), filepath.Join(dir, "blobs"), "an-admin-key-for-two-hosts-test"
	a := startProcess(t, "--data-dir", filepath.Join(dir, "a"), "--database-url", url, "--blobs-dir", blobs, "--admin-key", key)
	b := startProcess(t, "--data-dir", filepath.Join(dir, "b"), "--database-url", url, "--blobs-dir", blobs, "--admin-key", key)
	if got := b.createUser(t); got != 404 {
		t.Fatalf("before any upload: %d", got)
	}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append(args, "--admin-key", key), &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := cli("plugin", "push", user, "--activate", "--host", a.url); !strings.Contains(out, "user uploaded as version 1") ||
		!strings.Contains(out, "user version 1 is active") {
		t.Fatalf("push said %q", out)
	}
	took := within(t, "the other host serves the pushed version", 2*time.Second, func() bool { return b.createUser(t) == 201 })
	t.Logf("the other host converged %v after the push answered", took.Round(time.Millisecond))
	if out := cli("plugin", "list", "--host", b.url); !strings.Contains(out, "user") || !strings.Contains(out, "  1  ") {
		t.Fatalf("list said %q", out)
	}
	// Uploaded now, activated later: the other host compiles the upload
	// meanwhile, so the activation reaches it without a compile.
	// Its scenarios run on the host before anything is activated; a failing
	// one keeps the upload inactive.
	scenarios := "../../plugins/examples/user/scenarios.json"
	if out := cli("plugin", "push", rebuilt, "--host", b.url, "--test", scenarios); !strings.Contains(out, "user uploaded as version 2") ||
		!strings.Contains(out, " passed, 0 failed on the host") {
		t.Fatalf("push said %q", out)
	}
	broken := filepath.Join(dir, "broken.json")
	sc, _ := os.ReadFile(scenarios)
	os.WriteFile(broken, bytes.Replace(sc, []byte(`"then": {`), []byte(`"then": {"error": {"code": "nope"}, `), 1), 0o644)
	var pushOut bytes.Buffer
	err := run(ctx, []string{"plugin", "push", rebuilt, "--host", b.url, "--test", broken, "--activate", "--admin-key", key}, &pushOut, &pushOut)
	if err == nil || !strings.Contains(err.Error(), "stays inactive") || !strings.Contains(pushOut.String(), "FAIL") {
		t.Fatalf("a failing scenario: %v\n%s", err, pushOut.String())
	}
	time.Sleep(time.Second) // not needed for correctness: it only lets the compile finish first
	cli("plugin", "activate", "user", "2", "--host", b.url)
	sum := sha256.Sum256(module)
	v1 := hex.EncodeToString(sum[:])
	took = within(t, "the first host serves version 2", 2*time.Second, func() bool { return a.served(t, key, "user") != v1 })
	t.Logf("with the upload compiled ahead, the other host converged %v after the activation answered", took.Round(time.Millisecond))
	if out := cli("plugin", "rollback", "user", "--host", a.url); !strings.Contains(out, "user version 1 is active (was 2)") {
		t.Fatalf("rollback said %q", out)
	}
	within(t, "the other host rolls back", 2*time.Second, func() bool { return b.served(t, key, "user") == v1 })
	cli("plugin", "disable", "user", "--host", b.url)
	within(t, "the first host stops serving", 2*time.Second, func() bool { return a.createUser(t) == 404 })
	// Refusals come back readable.
	var out bytes.Buffer
	err = run(ctx, []string{"plugin", "activate", "user", "9", "--host", a.url, "--admin-key", key}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "version-not-found") {
		t.Fatalf("activating a missing version: %v", err)
	}
	err = run(ctx, []string{"plugin", "list", "--host", a.url, "--admin-key", "wrong"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "401 unauthenticated") {
		t.Fatalf("a wrong key: %v", err)
	}
}
