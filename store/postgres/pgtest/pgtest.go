// Package pgtest gives tests a real PostgreSQL: the server named by
// FLUVIUS_TEST_DATABASE_URL, or a throwaway cluster this process starts with
// the machine's initdb and pg_ctl (on 127.0.0.1, a free port and a temporary
// directory; about a second). Each test gets a schema of its own.
//
// Under CI=true a missing PostgreSQL fails the test; elsewhere it skips it
// with the reason.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable pointing the tests at an existing server.
const EnvURL = "FLUVIUS_TEST_DATABASE_URL"

var (
	once    sync.Once
	baseURL string
	cluster *Cluster
	initErr error
)

// Cluster is a throwaway PostgreSQL cluster.
type Cluster struct {
	Dir  string // the data directory
	Port int
	bin  string
	root string // everything the cluster wrote: data, socket, log
}

// URL returns the URL of the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Stop stops the cluster and removes its files.
func (c *Cluster) Stop() error {
	err := c.run("pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.root)
	return err
}

// binDir finds the PostgreSQL server binaries.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			// A link on the PATH points into the server's own directory,
			// where the other binaries (pg_basebackup) are too.
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("no PostgreSQL server binaries (pg_ctl, initdb) found: install postgresql, or set " + EnvURL)
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// run runs a server binary, as the postgres OS user when this process is
// root (initdb and postgres refuse to run as root).
func (c *Cluster) run(name string, args ...string) error {
	bin := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// ownerFile names the test process that started a cluster, so a later run
// can stop clusters whose process died without stopping them (a killed or
// timed-out test binary).
const ownerFile = "owner.pid"

// reap stops and removes clusters left by test processes that are gone.
func reap(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "fluvius-pg-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		c := &Cluster{Dir: filepath.Join(dir, "data"), bin: bin, root: dir}
		c.Stop()
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// newRoot makes a cluster's directory (owned by the postgres OS user when
// this process is root) and picks a free port.
func newRoot() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	reap(bin)
	dir, err := os.MkdirTemp("", "fluvius-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres OS user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return &Cluster{Dir: filepath.Join(dir, "data"), Port: port, bin: bin, root: dir}, nil
}

// start starts the cluster's server on its port, loopback only.
func (c *Cluster) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c max_connections=200", c.Port, c.root)
	return c.run("pg_ctl", "-D", c.Dir, "-w", "-l", filepath.Join(c.root, "log"), "-o", opts, "start")
}

// StartCluster initialises and starts a new cluster.
func StartCluster() (*Cluster, error) {
	c, err := newRoot()
	if err != nil {
		return nil, err
	}
	if err := c.run("initdb", "-D", c.Dir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(c.root)
		return nil, err
	}
	if err := c.start(); err != nil {
		os.RemoveAll(c.root)
		return nil, err
	}
	return c, nil
}

// StartReplica makes a streaming replica of c with pg_basebackup (a hot
// standby, read-only, following c's WAL) and starts it.
func (c *Cluster) StartReplica() (*Cluster, error) {
	r, err := newRoot()
	if err != nil {
		return nil, err
	}
	if err := r.run("pg_basebackup", "-D", r.Dir, "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres",
		"-X", "stream", "-R", "--no-sync"); err != nil {
		os.RemoveAll(r.root)
		return nil, err
	}
	if err := r.start(); err != nil {
		os.RemoveAll(r.root)
		return nil, err
	}
	return r, nil
}

// Replicated starts a primary and a streaming replica of it for one test,
// stopped when it ends; it fails under CI=true and skips elsewhere when
// PostgreSQL's binaries are missing.
func Replicated(tb testing.TB) (primary, replica *Cluster) {
	tb.Helper()
	p, err := StartCluster()
	if err == nil {
		tb.Cleanup(func() { p.Stop() })
		var r *Cluster
		if r, err = p.StartReplica(); err == nil {
			tb.Cleanup(func() { r.Stop() })
			return p, r
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("a replicated PostgreSQL is required under CI: %v", err)
	}
	tb.Skipf("no replicated PostgreSQL for this test: %v", err)
	return nil, nil
}

func setup() {
	if u := os.Getenv(EnvURL); u != "" {
		baseURL = u
		return
	}
	cluster, initErr = StartCluster()
	if initErr == nil {
		baseURL = cluster.URL()
	}
}

// BaseURL returns the URL of the test server, starting it if needed.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	once.Do(setup)
	if initErr != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL is required under CI: %v", initErr)
		}
		tb.Skipf("no PostgreSQL for this test: %v", initErr)
	}
	return baseURL
}

// URL returns the URL of a fresh, empty schema for one test; it is dropped
// when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	base := BaseURL(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parsing %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Stop stops the throwaway cluster, if this process started one. Call it
// from TestMain after m.Run.
func Stop() {
	if cluster != nil {
		cluster.Stop()
		cluster = nil
	}
}
