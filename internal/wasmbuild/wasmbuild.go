// Package wasmbuild compiles Go plugin packages to WebAssembly reactors, for
// the CLI and for tests that need real modules.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
)

// Go builds the main package in dir with Go's wasip1 port as a reactor
// (-buildmode=c-shared) and writes the module to out.
func Go(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s for wasip1: %w\n%s", dir, err, stderr.Bytes())
	}
	return nil
}
