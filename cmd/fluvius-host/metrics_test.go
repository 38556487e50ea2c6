package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --metrics-listen serves /metrics alone, without credentials, on an
// address of its own; the main listener still asks for the admin role.
func TestMetricsListen(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, "--data-dir", filepath.Join(dir, "data"), "--plugins-dir", filepath.Join(dir, "none"),
		"--admin-key", "an-admin-key-for-the-metrics-test", "--metrics-listen", "127.0.0.1:0")
	var addr string
	within(t, "the metrics listener is logged", 10*time.Second, func() bool {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "serving metrics" {
				addr, _ = rec["listen"].(string)
			}
		}
		return addr != ""
	})
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("http://" + addr + "/metrics"); code != 200 || !strings.Contains(body, "fluvius_store_up 1") ||
		!strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics listener: %d\n%.1000s", code, body)
	}
	if code, _ := get("http://" + addr + "/readyz"); code != 404 {
		t.Fatalf("the metrics listener serves more than /metrics: /readyz answered %d", code)
	}
	if code, _ := get(p.url + "/metrics"); code != 401 {
		t.Fatalf("/metrics on the main listener answered %d without credentials", code)
	}
}
