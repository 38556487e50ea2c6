package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// docs/plugins.md is a walkthrough a new user follows; its sh blocks run
// here, in order, as one script, with the real binary on PATH.
func TestDocsPluginsWalkthrough(t *testing.T) {
	page, err := os.ReadFile("../../docs/plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	// Whatever happens, the server the page starts must not outlive it.
	script.WriteString("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n")
	for _, m := range shBlock.FindAllStringSubmatch(string(page), -1) {
		script.WriteString(m[1])
	}
	if !strings.Contains(script.String(), "plugin init") || !strings.Contains(script.String(), "curl") {
		t.Fatalf("the walkthrough lost its commands:\n%s", script.String())
	}
	bin := filepath.Dir(hostBinary(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = t.TempDir()
	// No checkout: the page's plugin builds against the SDK the binary
	// ships, as on a machine where only Go and fluvius-host are installed.
	cmd.Env = append(withoutEnv(os.Environ(), "FLUVIUS_SDK"), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PORT="+strconv.Itoa(port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	mod, err := os.ReadFile(filepath.Join(cmd.Dir, "notes", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "=> ./fluvius/sdk") || strings.Contains(string(mod), "=> /") {
		t.Errorf("the plugin's go.mod does not build anywhere:\n%s", mod)
	}
	for _, want := range []string{"created notes/domain.go", "3 passed, 0 failed", "domain notes (revision 1): 2 commands", "notes uploaded as version 1", "notes version 1 is active", `"title":"Buy tea"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, out)
		}
	}
}

// withoutEnv drops a variable from an environment.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
