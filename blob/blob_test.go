package blob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fluvius.dev/fluvius/blob"
)

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
	if _, err := s.Get(ctx, "sha256/00/none"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	for _, key := range []string{"", "../x", "a//b", "/abs", "a/./b", "A", "a\\b", "a/../../etc"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	// A failed Put leaves neither the blob nor a temporary file.
	if _, err := s.Put(ctx, "media/x", io.MultiReader(strings.NewReader("half"), failing{})); err == nil {
		t.Fatal("a failing reader was stored")
	}
	if _, err := s.Get(ctx, "media/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("after a failed put: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "media", ".put-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := s.Delete(ctx, blob.ContentKey(sum)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, blob.ContentKey(sum)); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
