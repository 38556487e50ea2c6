package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps blobs as objects in a bucket of an S3-compatible server.
type S3 struct {
	core   minio.Core // Core: the multipart calls one by one (see Put)
	bucket string
	t      s3Target
	parts  sync.Pool // *[]byte of t.partSize
}

var (
	_ Store     = (*S3)(nil)
	_ Presigner = (*S3)(nil)
	_ Sweeper   = (*S3)(nil)
)

// abortTimeout bounds the cleanup of a failed Put, which outlives the
// caller's context (a cancelled Put must still abort its upload).
const abortTimeout = time.Minute

// NewS3 connects to cfg's server and checks that its bucket exists,
// creating it if cfg.CreateBucket says so.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	t, err := cfg.check()
	if err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(t.host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       t.secure,
		Region:       t.region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: S3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &S3{core: minio.Core{Client: client}, bucket: cfg.Bucket, t: t}
	s.parts.New = func() any {
		b := make([]byte, t.partSize)
		return &b
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: checking S3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("blob: S3 bucket %s does not exist at %s", cfg.Bucket, cfg.Endpoint)
		}
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: t.region})
		if code := s3Code(err); err != nil && code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("blob: creating S3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
		}
	}
	return s, nil
}

// object is the name in the bucket of the blob of key.
func (s *S3) object(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return s.t.prefix + key, nil
}

// Put reads one part (PartSize, 16 MiB by default) at a time into a
// buffer and uploads it, so a Put holds one part of memory whatever the
// size of the blob; buffers are pooled across Puts. What fits in one part
// goes in a single PUT; more goes as a multipart upload, which the server
// makes visible whole when it is completed, and which is aborted if
// anything fails before (so no parts are left to pay for).
//
// minio-go's own PutObject with an unknown size does the same multipart
// upload but allocates a fresh part buffer per call (64 MiB by default
// when no PartSize is given) and uses multipart even for small blobs.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	bp := s.parts.Get().(*[]byte)
	defer s.parts.Put(bp)
	buf := *bp
	r = ctxReader{ctx, r}
	n, err := readPart(r, buf)
	if err == io.EOF { // all of it fits in one part
		if _, err := s.core.PutObject(ctx, s.bucket, name, bytes.NewReader(buf[:n]), int64(n), "", "", minio.PutObjectOptions{}); err != nil {
			return 0, fmt.Errorf("blob: putting %s: %w", key, err)
		}
		return int64(n), nil
	}
	if err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	size, err := s.putParts(ctx, name, r, buf)
	if err != nil {
		return 0, fmt.Errorf("blob: putting %s: %w", key, err)
	}
	return size, nil
}

// putParts uploads buf, which is full, and the rest of r as a multipart
// upload, aborting it on failure.
func (s *S3) putParts(ctx context.Context, name string, r io.Reader, buf []byte) (size int64, err error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, name, minio.PutObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			// NoSuchUpload: gone already (swept, or expired by a rule).
			if aerr := s.core.AbortMultipartUpload(actx, s.bucket, name, id); aerr != nil && s3Code(aerr) != minio.NoSuchUpload {
				err = errors.Join(err, fmt.Errorf("aborting upload %s (left for Sweep): %w", id, aerr))
			}
		}
	}()
	var parts []minio.CompletePart
	chunk := buf
	for num := 1; ; num++ {
		if num > maxParts {
			return 0, fmt.Errorf("more than %d parts of %d bytes", maxParts, len(buf))
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, name, id, num, bytes.NewReader(chunk), int64(len(chunk)), minio.PutObjectPartOptions{})
		if err != nil {
			return 0, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		size += int64(len(chunk))
		if len(chunk) < len(buf) {
			break // the last, short part
		}
		n, rerr := readPart(r, buf)
		if rerr != nil && rerr != io.EOF {
			return 0, rerr
		}
		if n == 0 {
			break // the previous part ended exactly at the end
		}
		chunk = buf[:n]
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, name, id, parts, minio.PutObjectOptions{}); err != nil {
		return 0, err
	}
	return size, nil
}

// readPart fills buf from r. It returns io.EOF (with what it read) when r
// ended cleanly before buf was full, nil when buf is full, and r's error
// otherwise. Unlike io.ReadFull it passes a reader's own
// io.ErrUnexpectedEOF on as a failure (a request body cut short) rather
// than taking it for a short last part.
func readPart(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Get opens the blob's object.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	// Core's GetObject answers the response body itself; minio.Object would
	// add a goroutine per object and defer errors to the first Read.
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail("getting", key, err)
	}
	return rc, nil
}

// GetRange opens a range of the blob's object.
func (s *S3) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkRange(offset, length); err != nil {
		return nil, err
	}
	if length > 0 && offset > (1<<63-1)-length {
		length = -1 // past any end
	}
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	var opts minio.GetObjectOptions
	switch {
	case length == 0:
		// S3 ranges cannot say "no bytes"; the blob must still exist.
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return noBytes(), nil
	case length < 0 && offset == 0:
		return s.Get(ctx, key)
	case length < 0:
		err = opts.SetRange(offset, 0) // bytes=offset-
	default:
		err = opts.SetRange(offset, offset+length-1)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRange, err)
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, name, opts)
	if s3Code(err) == minio.InvalidRange {
		// 416: the blob exists and offset is at or past its end.
		return noBytes(), nil
	}
	if err != nil {
		return nil, s.fail("getting", key, err)
	}
	return rc, nil
}

// Stat describes the blob's object.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.fail("stat", key, err)
	}
	return Info{Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete removes the blob's object.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	// S3 answers 204 whether or not the object was there.
	if err := s.core.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return s.fail("deleting", key, err)
	}
	return nil
}

// fail says what was being done, turning "no such key" into ErrNotFound.
func (s *S3) fail(doing, key string, err error) error {
	if s3Code(err) == minio.NoSuchKey {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("blob: %s %s: %w", doing, key, err)
}

// s3Code is the S3 error code of err ("NoSuchKey"), or "".
func s3Code(err error) string {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// PresignGet signs a GET of the blob's object, with the response headers
// S3 lets a signed request set: Content-Disposition (attachment, with the
// file name in ASCII and in UTF-8 per RFC 6266) and Content-Type. S3 takes
// ttl from 1 second to 7 days.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration, downloadName, contentType string) (*url.URL, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if downloadName != "" {
		q.Set("response-content-disposition", attachment(downloadName))
	}
	if contentType != "" {
		if _, _, err := mime.ParseMediaType(contentType); err != nil {
			return nil, fmt.Errorf("blob: presigning %s: content type %q: %w", key, contentType, err)
		}
		q.Set("response-content-type", contentType)
	}
	u, err := s.core.PresignedGetObject(ctx, s.bucket, name, ttl, q)
	if err != nil {
		return nil, fmt.Errorf("blob: presigning %s: %w", key, err)
	}
	return u, nil
}

// attachment is a Content-Disposition saving a download as name: an ASCII
// fallback for old clients, and the exact name in filename* (RFC 5987),
// which browsers prefer. Path separators and control characters are
// dropped from both: the name is the client's, the header is ours.
func attachment(name string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, name)
	ascii := strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || r == '"' || r == '%' {
			return '_'
		}
		return r
	}, clean)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, rfc5987(clean))
}

// rfc5987 percent-encodes all but RFC 5987's attr-char.
func rfc5987(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Leftovers lists the multipart uploads under the store's prefix begun
// before the given time and never completed nor aborted. (On AWS, a
// bucket lifecycle rule, AbortIncompleteMultipartUpload, does the same.)
func (s *S3) Leftovers(ctx context.Context, before time.Time) ([]Leftover, error) {
	ups, err := s.uploads(ctx, s.t.prefix, before)
	var left []Leftover
	for _, u := range ups {
		left = append(left, Leftover{Name: strings.TrimPrefix(u.Key, s.t.prefix) + " upload " + u.UploadID, Started: u.Initiated})
	}
	return left, err
}

// Sweep aborts the uploads Leftovers lists.
func (s *S3) Sweep(ctx context.Context, before time.Time) (int, error) {
	ups, err := s.uploads(ctx, s.t.prefix, before)
	n := 0
	for _, u := range ups {
		aerr := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
		if aerr == nil || s3Code(aerr) == minio.NoSuchUpload {
			n++
		} else if err == nil {
			err = fmt.Errorf("blob: sweeping %s: %w", u.Key, aerr)
		}
	}
	return n, err
}

func (s *S3) uploads(ctx context.Context, prefix string, before time.Time) ([]minio.ObjectMultipartInfo, error) {
	var ups []minio.ObjectMultipartInfo
	for u := range s.core.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
		if u.Err != nil {
			return ups, fmt.Errorf("blob: listing uploads: %w", u.Err)
		}
		if u.Initiated.Before(before) {
			ups = append(ups, u)
		}
	}
	return ups, nil
}
