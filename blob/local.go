package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Local keeps blobs as files under a directory.
type Local struct{ dir string }

var (
	_ Store   = (*Local)(nil)
	_ Sweeper = (*Local)(nil)
)

// NewLocal returns a store of files under dir, creating it.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blob: creating %s: %w", dir, err)
	}
	return &Local{dir: dir}, nil
}

// tempPrefix starts the names of files being written. '~' is in no key, so
// no blob is ever taken for a leftover and swept.
const tempPrefix = ".put~"

func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file beside the blob, syncs it and renames it
// into place, so a crash leaves the old blob or the new one (and perhaps
// the temporary file: see Sweep).
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	path, err := l.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// io.Copy ends at io.EOF only: a reader failing with
	// io.ErrUnexpectedEOF (a request body cut short) fails the Put.
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	ok = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

// open opens the blob's file; a directory (the parent of other keys) is no
// blob.
func (l *Local) open(key string) (*os.File, os.FileInfo, error) {
	path, err := l.path(key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("blob: opening %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("blob: opening %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, fi, nil
}

// Get opens the blob's file.
func (l *Local) Get(_ context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.open(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// GetRange opens the blob's file at offset.
func (l *Local) GetRange(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, err
	}
	f, fi, err := l.open(key)
	if err != nil {
		return nil, err
	}
	if offset >= fi.Size() || length == 0 {
		f.Close()
		return noBytes(), nil
	}
	if length < 0 || length > fi.Size()-offset {
		length = fi.Size() - offset
	}
	// A section reader, not Seek then Read: the file is replaced by rename,
	// never written in place, so what was opened stays whole.
	return readCloser{io.NewSectionReader(f, offset, length), f}, nil
}

// Stat describes the blob's file.
func (l *Local) Stat(_ context.Context, key string) (Info, error) {
	path, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	return Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes the blob's file.
func (l *Local) Delete(_ context.Context, key string) error {
	path, err := l.path(key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && fi.IsDir() {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob: deleting %s: %w", key, err)
	}
	return nil
}

// Leftovers lists the temporary files of Puts that did not finish, last
// written before the given time. A Put writing now keeps its file's time
// recent, so sweeping what is older than a few minutes spares it.
func (l *Local) Leftovers(ctx context.Context, before time.Time) ([]Leftover, error) {
	var left []Leftover
	err := filepath.WalkDir(l.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) { // removed while walking
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone since: renamed into place or removed
		}
		if fi.ModTime().Before(before) {
			rel, _ := filepath.Rel(l.dir, path)
			left = append(left, Leftover{Name: filepath.ToSlash(rel), Started: fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return left, fmt.Errorf("blob: listing leftovers: %w", err)
	}
	return left, nil
}

// Sweep removes the temporary files Leftovers lists.
func (l *Local) Sweep(ctx context.Context, before time.Time) (int, error) {
	left, err := l.Leftovers(ctx, before)
	n := 0
	for _, lo := range left {
		if rerr := os.Remove(filepath.Join(l.dir, filepath.FromSlash(lo.Name))); rerr == nil {
			n++
		} else if !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("blob: sweeping: %w", rerr)
		}
	}
	return n, err
}
