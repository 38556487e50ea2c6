// Package wasmbuild compiles Go plugin packages to WebAssembly reactors, with
// Go's own wasip1 port or with TinyGo, for the CLI and for tests that need
// real modules.
package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Toolchain names a compiler.
type Toolchain string

// Toolchains.
const (
	Go     Toolchain = "go"
	TinyGo Toolchain = "tinygo"
)

// TinyGoToolchain is the Go release TinyGo 0.34 runs with (it supports Go
// 1.19-1.23); the go command fetches it through the module proxy.
const TinyGoToolchain = "go1.23.12"

// FindTinyGo locates a TinyGo install: $TINYGOROOT/build/tinygo, the default
// prefix of scripts/install-tinygo.sh, or tinygo on PATH. It returns the
// binary and its TINYGOROOT ("" when the binary knows its own).
func FindTinyGo() (bin, root string, err error) {
	candidates := []string{os.Getenv("TINYGOROOT")}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "fluvius", "tinygo"))
	}
	for _, r := range candidates {
		if r == "" {
			continue
		}
		if b := filepath.Join(r, "build", "tinygo"); isExecutable(b) {
			return b, r, nil
		}
	}
	if b, err := exec.LookPath("tinygo"); err == nil {
		return b, "", nil
	}
	return "", "", errors.New("TinyGo not found: run scripts/install-tinygo.sh, or set TINYGOROOT")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Build compiles the main package in dir with the toolchain to out.
func Build(ctx context.Context, tc Toolchain, dir, out string) error {
	return BuildWith(ctx, tc, dir, out)
}

// BuildWith is Build with more flags for the Go toolchain's build (say
// "-ldflags=-X=main.variant=v2"); TinyGo takes none.
func BuildWith(ctx context.Context, tc Toolchain, dir, out string, goFlags ...string) error {
	var cmd *exec.Cmd
	switch tc {
	case Go:
		args := append([]string{"build", "-buildmode=c-shared", "-trimpath"}, goFlags...)
		cmd = exec.CommandContext(ctx, "go", append(args, "-o", out, ".")...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	case TinyGo:
		if len(goFlags) > 0 {
			return fmt.Errorf("the TinyGo build takes no extra flags, got %q", goFlags)
		}
		bin, root, err := FindTinyGo()
		if err != nil {
			return err
		}
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		// -scheduler=none: reactors need no goroutine scheduler, and the
		// default one ran each call on a fresh goroutine, 40x slower.
		cmd = exec.CommandContext(ctx, bin, "build", "-target=wasip1", "-buildmode=c-shared", "-no-debug",
			"-scheduler=none", "-opt=2", "-o", abs, ".")
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+TinyGoToolchain)
		if root != "" {
			cmd.Env = append(cmd.Env, "TINYGOROOT="+root)
		}
	default:
		return fmt.Errorf("unknown toolchain %q (go or tinygo)", tc)
	}
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s with %s: %w\n%s", dir, tc, err, stderr.Bytes())
	}
	return nil
}

// GoBuild builds with Go's wasip1 port.
func GoBuild(ctx context.Context, dir, out string) error { return Build(ctx, Go, dir, out) }
