package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound: no blob has that key.
var ErrNotFound = errors.New("blob: not found")

// Store keeps blobs by key. Keys are relative slash-separated paths of
// lower-case letters, digits, '-', '_' and '.' (no empty, "." or ".."
// segment): callers make them, never clients.
//
// Local and S3 implement it; blobtest.Exercise is the suite an
// implementation passes.
type Store interface {
	// Put stores what r yields, up to io.EOF, under key, whole or not at
	// all: a reader never sees half a blob, and a failed Put (r failing, ctx
	// ending) leaves nothing behind; an existing blob of that key is then
	// kept. A successful Put replaces it. Put streams: its memory does not
	// grow with the size of what r yields, which need not be known.
	Put(ctx context.Context, key string, r io.Reader) (size int64, err error)
	// Get opens a blob; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange opens length bytes of a blob from offset on; length -1 reads
	// to the end. A range past the end is cut at the end (so an offset at
	// or past it yields no bytes), as io.SectionReader does: callers
	// answering HTTP Range requests Stat first and answer 416 themselves.
	// ErrNotFound if there is no blob.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes a blob; ErrNotFound if there is none.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes a blob; deleting what is not there is no error.
	Delete(ctx context.Context, key string) error
}

// Info describes a stored blob.
type Info struct {
	Size    int64
	ModTime time.Time // when it was last put
}

// Presigner is implemented by stores whose blobs a client can fetch
// directly, without the bytes passing through the host (S3).
type Presigner interface {
	// PresignGet returns a URL that reads the blob with a plain GET until
	// ttl has passed. A non-empty downloadName makes browsers save it
	// under that name (Content-Disposition: attachment); a non-empty
	// contentType is the Content-Type it is served with. Whether the blob
	// exists is not checked: the URL then answers 404.
	PresignGet(ctx context.Context, key string, ttl time.Duration, downloadName, contentType string) (*url.URL, error)
}

// Sweeper is implemented by stores in which a Put cut short by the end of
// its process (a crash, kill -9) leaves parts behind: temporary files,
// unfinished multipart uploads. A Put that fails cleans up itself; these
// are for what no Put lived to clean, swept at start or on a schedule.
type Sweeper interface {
	// Leftovers lists what unfinished Puts begun before the given time
	// left behind.
	Leftovers(ctx context.Context, before time.Time) ([]Leftover, error)
	// Sweep removes what Leftovers lists and says how many it removed.
	// Puts still running when it was begun before fail.
	Sweep(ctx context.Context, before time.Time) (int, error)
}

// Leftover is part of an unfinished Put.
type Leftover struct {
	Name    string // what is left: a temporary file, a key and upload id
	Started time.Time
}

// ErrRange reports an offset or length GetRange cannot take (negative, or
// a length under -1).
var ErrRange = errors.New("blob: invalid range")

func checkRange(offset, length int64) error {
	if offset < 0 || length < -1 {
		return fmt.Errorf("%w: offset %d, length %d", ErrRange, offset, length)
	}
	return nil
}

// ContentKey is the key of content-addressed data with the given SHA-256
// (hex): "sha256/ab/abcdef...".
func ContentKey(sum string) string { return "sha256/" + sum[:2] + "/" + sum }

// PutContent stores b under its SHA-256 and returns the hex digest. Data
// already there is not written again.
func PutContent(ctx context.Context, s Store, b []byte) (string, error) {
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	if _, err := s.Stat(ctx, ContentKey(sum)); err == nil {
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

// ErrKey: a key that is not a clean relative path (see Store).
var ErrKey = errors.New("blob: invalid key")

// CheckKey refuses a key that is not a clean relative path.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("%w %q: 1 to 512 bytes", ErrKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w %q: empty, . or .. segment", ErrKey, key)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("%w %q: character %q", ErrKey, key, c)
			}
		}
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

// readCloser joins a reader of part of a blob to what closes it.
type readCloser struct {
	io.Reader
	io.Closer
}

// noBytes opens no bytes: a range at or past the end of a blob.
func noBytes() io.ReadCloser { return io.NopCloser(bytes.NewReader(nil)) }
