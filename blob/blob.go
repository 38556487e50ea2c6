// Package blob keeps large immutable objects (plugin modules now, media
// later) behind one small interface, so that hosts sharing a database can
// share them through a shared backend. Local files are the embedded
// default; an S3 backend implements the same interface.
package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound: no blob has that key.
var ErrNotFound = errors.New("blob: not found")

// Store keeps blobs by key. Keys are relative slash-separated paths of
// lower-case letters, digits, '-', '_' and '.' (no empty, "." or ".."
// segment): callers make them, never clients.
type Store interface {
	// Put stores what r yields under key, whole or not at all: a reader
	// never sees half a blob, and a failed Put leaves nothing behind. An
	// existing blob of that key is replaced.
	Put(ctx context.Context, key string, r io.Reader) (size int64, err error)
	// Get opens a blob; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes a blob; deleting what is not there is no error.
	Delete(ctx context.Context, key string) error
}

// ContentKey is the key of content-addressed data with the given SHA-256
// (hex): "sha256/ab/abcdef...".
func ContentKey(sum string) string { return "sha256/" + sum[:2] + "/" + sum }

// PutContent stores b under its SHA-256 and returns the hex digest. Data
// already there is not written again.
func PutContent(ctx context.Context, s Store, b []byte) (string, error) {
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	if rc, err := s.Get(ctx, ContentKey(sum)); err == nil {
		rc.Close()
		return sum, nil
	}
	_, err := s.Put(ctx, ContentKey(sum), bytes.NewReader(b))
	return sum, err
}

// GetContent reads content-addressed data and checks it is what its key
// says: a blob altered at rest is an error, never served.
func GetContent(ctx context.Context, s Store, sum string, max int64) ([]byte, error) {
	rc, err := s.Get(ctx, ContentKey(sum))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", sum, max)
	}
	got := sha256.Sum256(b)
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("blob %s does not hash to its name: it was altered", sum)
	}
	return b, nil
}

// CheckKey refuses a key that is not a clean relative path.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("blob key %q: 1 to 512 bytes", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("blob key %q: empty, . or .. segment", key)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("blob key %q: character %q", key, c)
			}
		}
	}
	return nil
}

// Local keeps blobs as files under a directory.
type Local struct{ dir string }

// NewLocal returns a store of files under dir, creating it.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blob: creating %s: %w", dir, err)
	}
	return &Local{dir: dir}, nil
}

func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file beside the blob, syncs it and renames it
// into place, so a crash leaves the old blob or the new one.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	path, err := l.path(key)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	ok = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

// Get opens the blob's file.
func (l *Local) Get(_ context.Context, key string) (io.ReadCloser, error) {
	path, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, err
}

// Delete removes the blob's file.
func (l *Local) Delete(_ context.Context, key string) error {
	path, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
