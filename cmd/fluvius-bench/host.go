package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"fluvius.dev/fluvius/internal/wasmbuild"
)

// findRepo walks up from dir to the root of the fluvius module: the bench
// builds the host and the examples from source, so it runs inside the repo.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(b, []byte("module fluvius.dev/fluvius\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the fluvius repository (no go.mod of fluvius.dev/fluvius above the working directory)")
		}
		dir = parent
	}
}

// buildHost builds fluvius-host from the repo into dir.
func buildHost(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "fluvius-host")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/fluvius-host")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building fluvius-host: %w\n%s", err, out)
	}
	return bin, nil
}

// buildPlugin builds an example as `plugin build` does by default: TinyGo
// when installed, else Go's wasip1 port. It says which it used.
func buildPlugin(ctx context.Context, repo, example, out string) (wasmbuild.Toolchain, error) {
	tc := wasmbuild.Go
	if _, _, err := wasmbuild.FindTinyGo(); err == nil {
		tc = wasmbuild.TinyGo
	}
	return tc, wasmbuild.Build(ctx, tc, filepath.Join(repo, "plugins", "examples", example), out)
}

// hostProc is a fluvius-host serve child process.
type hostProc struct {
	cmd      *exec.Cmd
	url      string
	adminKey string
	logs     *tail
	exited   chan struct{}
}

// startHost runs `serve` on a free loopback port with args and waits for
// its "fluvius serving" log line.
func startHost(ctx context.Context, bin, adminKey string, args ...string) (*hostProc, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--admin-key", adminKey}, args...)...)
	setParentDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &hostProc{cmd: cmd, adminKey: adminKey, logs: &tail{max: 64 << 10}, exited: make(chan struct{})}
	type serving struct {
		listen  string
		plugins float64
	}
	ready := make(chan serving, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			var rec struct {
				Msg     string  `json:"msg"`
				Listen  string  `json:"listen"`
				Plugins float64 `json:"plugins"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "fluvius serving" {
				select {
				case ready <- serving{rec.Listen, rec.Plugins}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait() // only after the pipe is drained, as exec requires
		close(p.exited)
	}()
	select {
	case s := <-ready:
		p.url = "http://" + s.listen
		if s.plugins < 1 {
			p.stop()
			return nil, fmt.Errorf("the host serves no plugin:\n%s", p.logs)
		}
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the host exited before serving (%v):\n%s", cmd.ProcessState, p.logs)
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("the host never said it was serving:\n%s", p.logs)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the host to shut down and kills it if it takes over 30 s.
func (p *hostProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// metricsText is the host's /metrics, read with the admin key.
func (p *hostProc) metricsText(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.url+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+p.adminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("reading /metrics: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", fmt.Errorf("reading /metrics: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/metrics answered %d: %.200s", res.StatusCode, body)
	}
	return string(body), nil
}

// hostStats is what a host process holds at a moment.
type hostStats struct {
	At         float64 `json:"at_s"` // seconds since the soak started
	RSSBytes   int64   `json:"rss_bytes"`
	HeapBytes  int64   `json:"heap_alloc_bytes"`
	Goroutines int64   `json:"goroutines"`
}

// stats reads the host's resident memory from /proc and its heap and
// goroutines from its /metrics.
func (p *hostProc) stats(ctx context.Context) (hostStats, error) {
	var s hostStats
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		s.RSSBytes = parseVmRSS(string(b))
	}
	text, err := p.metricsText(ctx)
	if err != nil {
		return s, err
	}
	m := parseMetrics(text)
	s.HeapBytes, s.Goroutines = int64(m["go_memstats_heap_alloc_bytes"]), int64(m["go_goroutines"])
	return s, nil
}

// parseVmRSS reads the VmRSS line of /proc/PID/status, in bytes.
func parseVmRSS(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// parseMetrics reads the unlabelled samples of Prometheus text: enough for
// the runtime's gauges, which carry no labels.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || strings.ContainsRune(f[0], '{') {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

// metricSum adds up every sample of a metric, whatever its labels.
func metricSum(text, name string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest != "" && rest[0] == '{' {
			rest = rest[strings.LastIndexByte(rest, '}')+1:]
		}
		f := strings.Fields(rest) // value, then perhaps a timestamp
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// tail keeps the last max bytes written: enough of a host's log to say why
// it failed, without holding a long run's.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
