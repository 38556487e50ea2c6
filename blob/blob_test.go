package blob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/blob/blobtest"
	"fluvius.dev/fluvius/blob/miniotest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	miniotest.Stop()
	if code == 0 {
		// Idle keep-alive connections to the S3 server are the transport's,
		// not leaks.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			os.Stderr.WriteString("goroutines leaked: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func TestLocalConformance(t *testing.T) {
	blobtest.Exercise(t, func(t *testing.T) blob.Store {
		s, err := blob.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := blob.PutContent(ctx, s, []byte("module bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := blob.GetContent(ctx, s, sum, 1<<20); err != nil || string(got) != "module bytes" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := blob.GetContent(ctx, s, sum, 3); err == nil {
		t.Error("a blob over the bound was read")
	}
	// Altered at rest: refused, not served.
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(blob.ContentKey(sum))), []byte("evil bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.GetContent(ctx, s, sum, 1<<20); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Errorf("an altered blob: %v", err)
	}
	// A failed Put leaves neither the blob nor a temporary file.
	if _, err := s.Put(ctx, "media/x", io.MultiReader(strings.NewReader("half"), failing{})); err == nil {
		t.Fatal("a failing reader was stored")
	}
	if _, err := s.Get(ctx, "media/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("after a failed put: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "media", ".put*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestLocalSweepSparesBlobs: a blob whose name looks like a temporary file
// is not a leftover (keys cannot hold the '~' temporary names have).
func TestLocalSweepSparesBlobs(t *testing.T) {
	ctx := context.Background()
	s, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "media/.put-123", strings.NewReader("a blob")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("swept %d: %v", n, err)
	}
	if _, err := s.Stat(ctx, "media/.put-123"); err != nil {
		t.Error(err)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
