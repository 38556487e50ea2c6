package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/miniotest"
	"fluvius.dev/fluvius/internal/wasmbuild"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// users: the user example; an update appends one event.
var users = &aggregateKind{
	domain: "user", resource: "user", create: "create-user", change: "update-user",
	createBody: func(key string) string {
		return `{"email":"` + key + `@example.com","name":"` + key + `"}`
	},
	changeBody:   func(key string, _ *rand.Rand) string { return `{"name":"name ` + key + `"}` },
	changeEvents: 1,
	check: func(state json.RawMessage, events []storedEvent) error {
		var s, last struct {
			Name string `json:"name"`
		}
		json.Unmarshal(state, &s)
		json.Unmarshal(events[len(events)-1].Data, &last)
		if s.Name != last.Name {
			return fmt.Errorf("the name is %q, the last event set %q", s.Name, last.Name)
		}
		return nil
	},
}

// ackedOf counts the acknowledged commands of a kind.
func (l *load) ackedOf(k *aggregateKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.sent {
		if c.kind == k && c.acked() {
			n++
		}
	}
	return n
}

// servedBy counts the acknowledged commands whose answer came from addr
// (the last host nginx tried).
func (l *load) servedBy(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.sent {
		if c.acked() && lastUpstream(c.upstream) == addr {
			n++
		}
	}
	return n
}

func lastUpstream(s string) string {
	if i := strings.LastIndex(s, ","); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// freeAddr returns a 127.0.0.1 address with a port free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// nginxBinary finds nginx on PATH, or in sbin where Debian puts it (off a
// non-root user's PATH). Under CI a missing nginx fails.
func nginxBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nginx")
	if err == nil {
		return p
	}
	if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("nginx is required under CI (Debian: apt-get install nginx, which puts it in sbin): %v", err)
	}
	t.Skipf("no nginx for this test (Debian: apt-get install nginx, which puts it in sbin): %v", err)
	return ""
}

// nginxConf is docs/deploying.md's configuration without TLS, with
// shorter timeouts, and with X-Upstream telling the test which hosts nginx
// tried for each request.
//
// Commands are POSTs, which nginx does not send to another upstream once
// they may have reached one, unless non_idempotent says so: a host that
// dies mid-command may have committed it. That retry is safe here because
// every command carries an Idempotency-Key, whose record commits in the
// command's transaction: the next host answers the stored result instead
// of applying the command again. Clients that send commands without keys
// must not be retried so.
const nginxConf = `%s
worker_processes 1;
error_log %[2]s/error.log warn;
pid %[2]s/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	upstream fluvius {
%[3]s		keepalive 32;
		keepalive_timeout 60s;
	}
	upstream fluvius_sticky {
		hash $remote_addr consistent;
%[3]s		keepalive 8;
	}
	map $http_upgrade $connection_upgrade {
		default upgrade;
		"" "";
	}
	server {
		listen %[4]s;
		proxy_http_version 1.1;
		proxy_set_header Host $host;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		proxy_set_header Upgrade $http_upgrade;
		proxy_set_header Connection $connection_upgrade;
		proxy_connect_timeout 1s;
		proxy_read_timeout 30s;
		client_max_body_size 1m;
		add_header X-Upstream $upstream_addr always;
		location / {
			proxy_pass http://fluvius;
			proxy_next_upstream error timeout non_idempotent;
			proxy_next_upstream_tries 3;
			proxy_next_upstream_timeout 10s;
		}
		location = /_admin/plugins {
			proxy_pass http://fluvius;
			client_max_body_size 64m;
		}
		location = /_media {
			proxy_pass http://fluvius;
			client_max_body_size 100m;
			proxy_request_buffering off;
		}
		location = /_events {
			proxy_pass http://fluvius;
			proxy_buffering off;
			proxy_read_timeout 1h;
			proxy_send_timeout 1h;
		}
		location = /mcp {
			proxy_pass http://fluvius_sticky;
			proxy_buffering off;
			proxy_read_timeout 1h;
		}
		location /admin {
			proxy_pass http://fluvius_sticky;
		}
		location = /metrics {
			return 404;
		}
	}
}
`

// startNginx runs nginx in front of hosts, in the foreground as a child,
// with every file it writes under dir, and waits until it answers.
func startNginx(t *testing.T, bin, dir string, hosts []string) string {
	t.Helper()
	listen := freeAddr(t)
	var servers strings.Builder
	for _, h := range hosts {
		// A host that fails is left alone for a second, then tried again.
		fmt.Fprintf(&servers, "\t\tserver %s max_fails=1 fail_timeout=1s;\n", h)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot enter the test's
		// private temp dir.
		user = "user root;"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, user, dir, servers.String(), listen)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-p", dir, "-g", "daemon off;")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx:\n%s%s", out.String(), log)
		}
	})
	base := "http://" + listen
	within(t, "nginx answers", 10*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", out.String())
		default:
		}
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return base
}

// useS3 points the hosts this test starts at a fresh bucket through the
// FLUVIUS_S3_* variables they read: the server of FLUVIUS_TEST_S3_ENDPOINT,
// or a MinIO server started for the test. It reports false when there is
// no MinIO (outside CI): the hosts then share a blobs dir.
func useS3(t *testing.T) bool {
	t.Helper()
	var cfg blob.S3Config
	if os.Getenv(miniotest.EnvEndpoint) != "" {
		cfg = miniotest.Config(t)
	} else {
		srv, err := miniotest.StartServer()
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("MinIO is required under CI: %v", err)
			}
			t.Logf("no MinIO (%v): the hosts share a blobs dir instead of S3", err)
			return false
		}
		t.Cleanup(srv.Stop)
		cfg = blob.S3Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			Region: "us-east-1", PathStyle: true, Bucket: "fluvius-scaleout", CreateBucket: true}
		if _, err := blob.NewS3(context.Background(), cfg); err != nil {
			t.Fatalf("creating the bucket: %v", err)
		}
	}
	for name, v := range map[string]string{
		blob.EnvS3Endpoint: cfg.Endpoint, blob.EnvS3Bucket: cfg.Bucket, blob.EnvS3AccessKey: cfg.AccessKey,
		blob.EnvS3SecretKey: cfg.SecretKey, blob.EnvS3Region: cfg.Region, blob.EnvS3PathStyle: strconv.FormatBool(cfg.PathStyle),
	} {
		t.Setenv(name, v)
	}
	return true
}

// Three hosts on one PostgreSQL (and one S3 bucket) behind nginx, under
// concurrent load through it. Meanwhile a plugin is pushed and activated
// through one host, and its commands join the load once every host serves
// it; one host is killed and restarted. nginx routes around the dead host
// and retries what was in flight on another; every acknowledged command is
// stored exactly once, and everything not acknowledged converges when
// retried with its key.
func TestScaleOutBehindNginx(t *testing.T) {
	nginx := nginxBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	plugins, bankWasm := filepath.Join(dir, "plugins"), filepath.Join(dir, "bank.wasm")
	if err := wasmbuild.GoBuild(ctx, "../../plugins/examples/user", filepath.Join(plugins, "user.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := wasmbuild.GoBuild(ctx, "../../plugins/examples/bank", bankWasm); err != nil {
		t.Fatal(err)
	}
	module, _ := os.ReadFile(bankWasm)
	sum := sha256.Sum256(module)
	bankSHA := hex.EncodeToString(sum[:])

	start := time.Now()
	dbURL := pgtest.URL(t)
	const key = "an-admin-key-for-the-scale-out-test"
	args := []string{"--database-url", dbURL, "--plugins-dir", plugins, "--admin-key", key}
	s3 := useS3(t)
	if !s3 {
		args = append(args, "--blobs-dir", filepath.Join(dir, "blobs"))
	}
	// Signed media URLs must verify on every host.
	secret := make([]byte, 32)
	crand.Read(secret)
	t.Setenv("FLUVIUS_MEDIA_SECRET", hex.EncodeToString(secret))
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	hostArgs := func(i int) []string {
		return slices.Concat(args, []string{"--listen", addrs[i], "--data-dir", filepath.Join(dir, "host"+strconv.Itoa(i))})
	}
	hosts := make([]*process, 3)
	for i := range hosts {
		hosts[i] = startProcess(t, hostArgs(i)...)
	}
	lb := startNginx(t, nginx, filepath.Join(dir, "nginx"), addrs)
	setup := time.Since(start)

	const clients = 16
	l := newLoad("scale", users)
	l.start(clients, lb)
	within(t, "the first acknowledged commands", 30*time.Second, func() bool { return l.acks.Load() >= 150 })

	// A new domain, pushed through the first host while the load runs.
	var out bytes.Buffer
	acksAtPush, pushed := l.acks.Load(), time.Now()
	if err := run(ctx, []string{"plugin", "push", bankWasm, "--activate", "--host", hosts[0].url, "--admin-key", key}, &out, &out); err != nil ||
		!strings.Contains(out.String(), "bank version 1 is active") {
		t.Fatalf("pushing bank: %v\n%s", err, out.String())
	}
	pushTook := time.Since(pushed)
	converged := within(t, "every host serves bank", 10*time.Second, func() bool {
		for _, h := range hosts {
			if h.served(t, key, "bank") != bankSHA {
				return false
			}
		}
		return true
	})
	l.addKind(bankAccounts)
	within(t, "bank commands acknowledged", 30*time.Second, func() bool { return l.ackedOf(bankAccounts) >= 100 })

	// The third host dies mid-load, and comes back on its port.
	victim := hosts[2]
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.cmd.Wait()
	acksAtKill := l.acks.Load()
	within(t, "the load goes on without the dead host", 30*time.Second, func() bool { return l.acks.Load() >= acksAtKill+300 })
	restarted := time.Now()
	hosts[2] = startProcess(t, hostArgs(2)...)
	restartTook := time.Since(restarted)
	if h := hosts[2].served(t, key, "bank"); h != bankSHA {
		t.Fatalf("the restarted host serves bank %q, not the activated %s", h, bankSHA)
	}
	servedBefore := l.servedBy(addrs[2])
	within(t, "nginx sends to the restarted host again", 30*time.Second, func() bool { return l.servedBy(addrs[2]) >= servedBefore+50 })
	l.halt()
	loadTook, checked := time.Since(start)-setup, time.Now()

	// What nginx saw: requests it had to try on a second host, and of
	// those how many the dead host had committed (answered by replay).
	perHost := map[string]int{}
	retriedByNginx, replayedByNginx := 0, 0
	for _, c := range l.sent {
		if c.acked() {
			perHost[lastUpstream(c.upstream)]++
		}
		if strings.Contains(c.upstream, ",") {
			retriedByNginx++
			if c.replayed {
				replayedByNginx++
			}
		}
	}
	acked, unacked := l.acked(), l.unacked()
	outcomes := statusCounts(unacked)
	r := l.retry(t, lb, unacked)
	l.replayAcked(t, lb, acked)

	// Every host serves the activated domain: a deposit sent to each.
	accounts := l.pool[bankAccounts]
	for i, h := range hosts {
		c := &sentCommand{kind: bankAccounts, key: "scale-direct-" + strconv.Itoa(i), command: "deposit",
			id: accounts[i%len(accounts)], body: `{"amount_cents":7}`, events: 1}
		c.send(l.client, h.url)
		if !c.acked() {
			t.Fatalf("host %d: a bank deposit answered %d %s %s", i, c.status, c.err, c.answer)
		}
		l.sent = append(l.sent, c)
	}
	a := auditStreams(t, l.client, hosts[1].url, l.sent, true)
	if a.commands != len(l.sent) {
		t.Fatalf("%d requests sent, %d stored", len(l.sent), a.commands)
	}

	// A file uploaded through one host is served by the others, and a URL
	// one host signed verifies on another.
	media := mediaAcrossHosts(t, lb, hosts)
	streamThroughNginx(t, lb)

	blobs := "a shared blobs dir"
	if s3 {
		blobs = "S3 (MinIO)"
	}
	t.Logf("3 hosts on PostgreSQL and %s behind nginx, up in %v; %d clients for %v", blobs, setup.Round(time.Millisecond), clients, loadTook.Round(time.Millisecond))
	t.Logf("bank pushed and activated through host 0 after %d acks (the push took %v); all three served it %v later",
		acksAtPush, pushTook.Round(time.Millisecond), converged.Round(time.Millisecond))
	t.Logf("host 2 killed after %d acks, restarted in %v, serving bank at once; acks by host: %v", acksAtKill, restartTook.Round(time.Millisecond), perHost)
	t.Logf("%d sent: %d acknowledged, %d not (%s); nginx tried %d on a second host, %d of them answered by replay (committed by the dead host)",
		len(l.sent)-len(hosts), len(acked), len(unacked), outcomes, retriedByNginx, replayedByNginx)
	t.Logf("retried with their keys: %d replayed, %d applied now (%d requests); %d acknowledged replayed identically", r.replayed, r.applied, r.attempts, len(acked))
	t.Logf("stored: %d streams, %d events, %d requests each exactly once; %s; checked in %v, %v in all",
		a.streams, a.events, a.commands, media, time.Since(checked).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// mediaAcrossHosts uploads a file through nginx and reads it through every
// host, and by a URL the first host signed: on S3 a presigned URL of the
// bucket, else one of the hosts' own, which the others verify with the
// shared FLUVIUS_MEDIA_SECRET.
func mediaAcrossHosts(t *testing.T, lb string, hosts []*process) string {
	t.Helper()
	content := []byte("a file every host can serve\n")
	res, err := http.Post(lb+"/_media?name=note.txt", "text/plain", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID string `json:"id"`
	}
	json.NewDecoder(res.Body).Decode(&m)
	res.Body.Close()
	if res.StatusCode != 201 || m.ID == "" {
		t.Fatalf("uploading: %d", res.StatusCode)
	}
	var signed struct {
		URL string `json:"url"`
	}
	if _, err := getJSON(http.DefaultClient, hosts[0].url+"/_media/"+m.ID+"/url", &signed); err != nil {
		t.Fatal(err)
	}
	urls := []string{signed.URL}
	if strings.HasPrefix(signed.URL, "/") {
		urls = []string{hosts[1].url + signed.URL, hosts[2].url + signed.URL}
	}
	for _, h := range hosts {
		urls = append(urls, h.url+"/_media/"+m.ID)
	}
	for _, u := range urls {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, content) {
			t.Fatalf("reading the file at %s: %d %q", u, res.StatusCode, got)
		}
	}
	return fmt.Sprintf("a file uploaded through nginx read back through every host and %d signed URL(s)", len(urls)-len(hosts))
}

// streamThroughNginx opens a live stream through nginx and waits for its
// first line: the /_events location does not hold it back in a buffer.
func streamThroughNginx(t *testing.T, lb string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", lb+"/_events?domain=bank", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a live stream through nginx: %v", err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if res.StatusCode != 200 || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("a live stream through nginx: %d %q %v", res.StatusCode, line, err)
	}
	if res, err := http.Get(lb + "/metrics"); err != nil || res.StatusCode != 404 {
		t.Fatalf("/metrics through nginx: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}
