// Package miniotest gives tests an S3 server: the one named by
// FLUVIUS_TEST_S3_ENDPOINT, or a MinIO server this process starts (on
// 127.0.0.1, a free port and a temporary directory; under a second). Each
// test gets a bucket of its own, removed when it ends. Call Stop from
// TestMain after m.Run.
//
// The minio binary is FLUVIUS_MINIO, else the one scripts/install-minio.sh
// installs (${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/minio/bin/minio), else
// minio on PATH. Under CI=true a missing server fails the test; elsewhere
// it skips it with the reason.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"fluvius.dev/fluvius/blob"
)

// Variables pointing the tests at an existing server instead; the bucket
// of each test is created and removed with these credentials.
const (
	EnvEndpoint  = "FLUVIUS_TEST_S3_ENDPOINT" // host:port or URL
	EnvAccessKey = "FLUVIUS_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "FLUVIUS_TEST_S3_SECRET_KEY"
	EnvRegion    = "FLUVIUS_TEST_S3_REGION"
	EnvPathStyle = "FLUVIUS_TEST_S3_PATH_STYLE" // default true
	// EnvMinio names the minio binary to start.
	EnvMinio = "FLUVIUS_MINIO"
)

const installHint = "run scripts/install-minio.sh (it prints the path for " + EnvMinio + "), or set " + EnvEndpoint

var (
	once    sync.Once
	base    blob.S3Config // without a bucket
	server  *Server
	initErr error

	clientOnce sync.Once
	client     *minio.Client
	clientErr  error
)

// Server is a MinIO server this process started.
type Server struct {
	Endpoint             string // 127.0.0.1:port
	AccessKey, SecretKey string
	cmd                  *exec.Cmd
	exited               chan struct{}
	root                 string // data and log
}

// binary finds the minio binary.
func binary() (string, error) {
	if p := os.Getenv(EnvMinio); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvMinio, p, err)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "fluvius", "minio", "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", errors.New("no minio binary: " + installHint)
}

// ownerFile names the test process that started a server, and pidFile the
// server, so a later run can stop servers whose test process died without
// stopping them (a killed or timed-out test binary).
const ownerFile, pidFile = "owner.pid", "minio.pid"

// reap stops and removes servers left by test processes that are gone.
func reap() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fluvius-minio-*"))
	for _, dir := range dirs {
		owner, err := readPID(filepath.Join(dir, ownerFile))
		if err != nil || processAlive(owner) {
			continue
		}
		if pid, err := readPID(filepath.Join(dir, pidFile)); err == nil && processAlive(pid) {
			// Only if it is still that server: pids are reused.
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmdline), dir) {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		os.RemoveAll(dir)
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// StartServer starts a MinIO server with a fresh data directory.
func StartServer() (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	reap()
	dir, err := os.MkdirTemp("", "fluvius-minio-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port found free may be taken before minio binds it: try again.
	for attempt := 0; ; attempt++ {
		s, err := start(bin, dir)
		if err == nil || attempt == 2 {
			if err != nil {
				os.RemoveAll(dir)
			}
			return s, err
		}
	}
}

func start(bin, dir string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		AccessKey: "fluvius-" + randomHex(4),
		SecretKey: randomHex(16),
		exited:    make(chan struct{}),
		root:      dir,
	}
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "minio.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command(bin, "server", data, "--address", s.Endpoint, "--quiet")
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(s.cmd.Process.Pid)), 0o644)
	if err := s.waitLive(30 * time.Second); err != nil {
		s.kill()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("minio server on %s: %w\n%s", s.Endpoint, err, out)
	}
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// waitLive waits for the server's liveness probe to answer 200.
func (s *Server) waitLive(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get("http://" + s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited: %v", s.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not live after %v (last: %v)", limit, err)
		}
	}
}

func (s *Server) kill() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	s.kill()
	os.RemoveAll(s.root)
}

func setup() {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		base = blob.S3Config{
			Endpoint:  ep,
			AccessKey: os.Getenv(EnvAccessKey),
			SecretKey: os.Getenv(EnvSecretKey),
			Region:    os.Getenv(EnvRegion),
			PathStyle: true,
		}
		if v := os.Getenv(EnvPathStyle); v != "" {
			base.PathStyle, initErr = strconv.ParseBool(v)
		}
		return
	}
	server, initErr = StartServer()
	if initErr == nil {
		base = blob.S3Config{
			Endpoint:  server.Endpoint,
			AccessKey: server.AccessKey,
			SecretKey: server.SecretKey,
			Region:    "us-east-1",
			PathStyle: true,
		}
	}
}

// Base returns the test server's configuration without a bucket, starting
// the server if needed.
func Base(tb testing.TB) blob.S3Config {
	tb.Helper()
	once.Do(setup)
	if initErr != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("an S3 server is required under CI: %v", initErr)
		}
		tb.Skipf("no S3 server for this test: %v", initErr)
	}
	return base
}

// Client returns a minio-go client of the test server, for what the blob
// API does not do (listing uploads, removing buckets).
func Client(tb testing.TB) *minio.Client {
	tb.Helper()
	cfg := Base(tb)
	clientOnce.Do(func() { client, clientErr = newClient(cfg) })
	if clientErr != nil {
		tb.Fatalf("S3 client: %v", clientErr)
	}
	return client
}

func newClient(cfg blob.S3Config) (*minio.Client, error) {
	endpoint, secure := cfg.Endpoint, false
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		endpoint, secure = rest, true
	} else {
		endpoint = strings.TrimPrefix(endpoint, "http://")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	return minio.New(strings.TrimSuffix(endpoint, "/"), &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
}

// Config returns the configuration of a fresh, empty bucket for one test;
// the bucket and all in it are removed when the test ends.
func Config(tb testing.TB) blob.S3Config {
	tb.Helper()
	cfg := Base(tb)
	client := Client(tb)
	cfg.Bucket = "fluvius-test-" + randomHex(6)
	ctx := context.Background()
	if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		tb.Fatalf("creating bucket %s: %v", cfg.Bucket, err)
	}
	tb.Cleanup(func() {
		if err := RemoveBucket(context.Background(), client, cfg.Bucket); err != nil {
			tb.Errorf("removing bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

// RemoveBucket removes a bucket with its objects and unfinished uploads.
func RemoveBucket(ctx context.Context, client *minio.Client, bucket string) error {
	for u := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			return u.Err
		}
		if err := client.RemoveIncompleteUpload(ctx, bucket, u.Key); err != nil {
			return err
		}
	}
	objects := client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for r := range client.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		if r.Err != nil {
			return r.Err
		}
	}
	return client.RemoveBucket(ctx, bucket)
}

// Stop stops the server, if this process started one. Call it from
// TestMain after m.Run.
func Stop() {
	if server != nil {
		server.Stop()
		server = nil
	}
}
