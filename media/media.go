// Package media keeps files attached to aggregates (Fluvius's media
// module): uploads streamed into a blob store (local files or S3), their
// metadata in the host's store, their type sniffed and checked against an
// allow-list, their content de-duplicated within a tenant, and their reads
// decided by the rules of the aggregates they are attached to. There is no
// HTTP here: the admin package serves it at /_media.
package media

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// DefaultAllowed are the content types accepted when none are configured:
// images, PDF, plain text and a few common document and archive types.
// Anything a sniffer cannot name (application/octet-stream) is refused.
var DefaultAllowed = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
	"application/pdf", "text/plain", "text/csv", "application/zip",
	"audio/mpeg", "audio/wave", "video/mp4", "video/webm",
}

// Config configures a Service.
type Config struct {
	Blobs blob.Store
	// MaxBytes bounds an upload (default 100 MiB); past it the upload is
	// refused (413) and nothing of it is kept.
	MaxBytes int64
	// Allowed are the content types (without parameters) accepted;
	// default DefaultAllowed.
	Allowed []string
	// Secret signs the download URLs the host hands out (local blobs); at
	// least 32 bytes. Hosts sharing a store share it. Without one, signed
	// URLs are not offered.
	Secret []byte
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the media service of a host.
type Service struct {
	h     *host.Host
	st    store.MediaStore
	cfg   Config
	blobs blob.Store
}

// New makes the media service over the host's store.
func New(h *host.Host, cfg Config) (*Service, error) {
	st, ok := h.Store().(store.MediaStore)
	if !ok {
		return nil, fmt.Errorf("media: the %s store keeps no media", h.Store().Name())
	}
	if cfg.Blobs == nil {
		return nil, errors.New("media: no blob store")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 100 << 20
	}
	if len(cfg.Allowed) == 0 {
		cfg.Allowed = DefaultAllowed
	}
	if cfg.Secret != nil && len(cfg.Secret) < 32 {
		return nil, errors.New("media: the URL signing secret must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{h: h, st: st, cfg: cfg, blobs: cfg.Blobs}, nil
}

// MaxBytes is the upload limit.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

func errorf(kind host.Kind, code, format string, args ...any) error {
	return &host.Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// CleanName makes an uploaded file's name safe to show and to send back in
// Content-Disposition: its last path segment, without control characters,
// quotes or backslashes, at most 200 bytes; "file" when nothing is left.
// It never becomes a path: blobs are stored by id.
func CleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '"' || r == '\\' || r == '/' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// Upload streams r into the blob store as a new media of the caller's
// tenant: its type sniffed from its first bytes and checked against the
// allow-list before anything is stored, its size bounded, its SHA-256
// computed on the way. Content the tenant has stored already is not kept
// twice: the new media shares the blob. An upload that fails for any
// reason leaves nothing behind.
func (s *Service) Upload(ctx context.Context, caller abi.Caller, name string, r io.Reader) (*store.Media, error) {
	br := bufio.NewReaderSize(r, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, errorf(host.KindInvalid, "truncated", "the upload could not be read: %v", err)
	}
	if len(head) == 0 {
		return nil, errorf(host.KindInvalid, "media-empty", "the upload is empty")
	}
	ct := http.DetectContentType(head)
	base, _, _ := mime.ParseMediaType(ct)
	if !slices.Contains(s.cfg.Allowed, base) {
		return nil, errorf(host.KindUnsupportedMedia, "media-type-refused",
			"the file's content is %s, which this host does not accept (it accepts %s)", base, strings.Join(s.cfg.Allowed, ", "))
	}
	id := uuid.Must(uuid.NewV7()).String()
	m := &store.Media{ID: id, Tenant: caller.Tenant, Owner: caller.UserID, Name: CleanName(name), ContentType: ct,
		BlobKey: "media/" + id[:2] + "/" + id, CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond)}
	sum := sha256.New()
	lr := &limitReader{r: br, left: s.cfg.MaxBytes}
	size, err := s.blobs.Put(ctx, m.BlobKey, io.TeeReader(lr, sum))
	if lr.over {
		return nil, errorf(host.KindTooLarge, "media-too-large", "the file is larger than the limit of %d bytes", s.cfg.MaxBytes)
	}
	if err != nil {
		return nil, &host.Error{Kind: host.KindUnavailable, Code: "media-store-failed", Message: "storing the file failed: " + err.Error(), Err: err}
	}
	m.Size, m.SHA256 = size, hex.EncodeToString(sum.Sum(nil))
	// The same content in this tenant: share its blob, drop ours.
	own := m.BlobKey
	if prev, err := s.st.MediaBySHA256(ctx, m.Tenant, m.SHA256); err == nil {
		if err := s.st.MediaAdd(ctx, m, prev.ID); err == nil {
			s.deleteBlob(own)
			return m, nil
		}
		m.BlobKey = own
	}
	if err := s.st.MediaAdd(ctx, m, ""); err != nil {
		s.deleteBlob(own)
		return nil, err
	}
	return m, nil
}

func (s *Service) deleteBlob(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.cfg.Logger.Warn("deleting a media blob failed; it is left behind", "key", key, "err", err)
	}
}

// limitReader reads at most left bytes and marks an attempt to read more.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more says whether the limit is crossed.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, errors.New("media: the upload is larger than the limit")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// isAdmin: the admin role reads and deletes every media of its tenant.
func isAdmin(c abi.Caller) bool { return slices.Contains(c.Roles, "admin") }

// Info is a media with the aggregates it is attached to.
type Info struct {
	*store.Media
	Refs []store.MediaRef
}

// Get returns a media's metadata if caller may read it: its uploader, an
// admin of the tenant, or whoever may read one of the aggregates it is
// attached to (their read policies and roles). Anyone else is told it does
// not exist, as a media of another tenant.
func (s *Service) Get(ctx context.Context, caller abi.Caller, id string) (*Info, error) {
	m, err := s.st.MediaGet(ctx, caller.Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	refs, err := s.st.MediaRefs(ctx, caller.Tenant, id)
	if err != nil {
		return nil, err
	}
	if caller.UserID != "" && caller.UserID == m.Owner || isAdmin(caller) || caller.UserID == "" && m.Owner == "" {
		return &Info{Media: m, Refs: refs}, nil
	}
	for _, r := range refs {
		if _, err := s.h.AuthorizeRead(ctx, caller, r.Domain, r.Resource, r.AggregateID); err == nil {
			return &Info{Media: m, Refs: refs}, nil
		}
	}
	return nil, notFound(id)
}

func notFound(id string) error {
	return errorf(host.KindNotFound, "media-not-found", "there is no media %s", id)
}

// Open opens a media's bytes, from offset, length of them (-1: to the end),
// for a caller Get lets read it.
func (s *Service) Open(ctx context.Context, m *store.Media, offset, length int64) (io.ReadCloser, error) {
	if offset == 0 && (length < 0 || length == m.Size) {
		return s.blobs.Get(ctx, m.BlobKey)
	}
	return s.blobs.GetRange(ctx, m.BlobKey, offset, length)
}

// Delete deletes a media the caller uploaded (or any, for an admin of the
// tenant); one attached to an aggregate is refused (409). Its blob goes
// when no other media shares it.
func (s *Service) Delete(ctx context.Context, caller abi.Caller, id string) error {
	m, err := s.st.MediaGet(ctx, caller.Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	if m.Owner != caller.UserID && !isAdmin(caller) {
		if info, _ := s.Get(ctx, caller, id); info == nil {
			return notFound(id)
		}
		return errorf(host.KindForbidden, "forbidden", "only the uploader or an admin may delete media %s", id)
	}
	key, unused, err := s.st.MediaDelete(ctx, caller.Tenant, id)
	if errors.Is(err, store.ErrInUse) {
		return errorf(host.KindConflict, "media-in-use", "media %s is attached to an aggregate", id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	if unused {
		s.deleteBlob(key)
	}
	return nil
}

// SignedURL returns a URL that downloads the media for ttl without other
// credentials: the S3 backend's presigned URL when it has one, else a host
// URL (path and query, under base) signed with the configured secret.
func (s *Service) SignedURL(ctx context.Context, m *store.Media, base string, ttl time.Duration) (string, time.Time, error) {
	exp := s.cfg.Now().Add(ttl).Truncate(time.Second)
	if ps, ok := s.blobs.(interface {
		PresignGet(ctx context.Context, key string, ttl time.Duration, name, contentType string) (*url.URL, error)
	}); ok {
		u, err := ps.PresignGet(ctx, m.BlobKey, ttl, m.Name, m.ContentType)
		if err != nil {
			return "", time.Time{}, err
		}
		return u.String(), exp, nil
	}
	if s.cfg.Secret == nil {
		return "", time.Time{}, errorf(host.KindUnavailable, "signed-urls-off", "this host signs no download URLs (no media secret is configured)")
	}
	q := url.Values{"tenant": {m.Tenant}, "expires": {strconv.FormatInt(exp.Unix(), 10)}}
	q.Set("signature", s.sign(m.Tenant, m.ID, exp.Unix()))
	return base + "/_media/" + url.PathEscape(m.ID) + "?" + q.Encode(), exp, nil
}

func (s *Service) sign(tenant, id string, exp int64) string {
	mac := hmac.New(sha256.New, s.cfg.Secret)
	fmt.Fprintf(mac, "media\x00%s\x00%s\x00%d", tenant, id, exp)
	return hex.EncodeToString(mac.Sum(nil))
}

// Signed checks a signed URL's parameters and returns the media it opens.
func (s *Service) Signed(ctx context.Context, id, tenant, expires, signature string) (*store.Media, error) {
	if s.cfg.Secret == nil {
		return nil, errorf(host.KindForbidden, "invalid-signature", "this host signs no download URLs")
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !hmac.Equal([]byte(signature), []byte(s.sign(tenant, id, exp))) {
		return nil, errorf(host.KindForbidden, "invalid-signature", "the download URL's signature does not match")
	}
	if s.cfg.Now().Unix() > exp {
		return nil, errorf(host.KindForbidden, "url-expired", "the download URL expired at %s", time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	m, err := s.st.MediaGet(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(id)
	}
	return m, err
}
