package admin

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/store"
)

// The media routes: files attached to aggregates.
//
//	POST   /_media              multipart/form-data with a "file" part, or a raw body (?name=)
//	GET    /_media/{id}         the bytes: Range, ETag/If-None-Match, the sniffed type
//	GET    /_media/{id}/meta    metadata and the aggregates it is attached to
//	GET    /_media/{id}/url     a download URL signed for ?ttl= seconds (default 300)
//	DELETE /_media/{id}

type mediaView struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Size        int64          `json:"size"`
	ContentType string         `json:"content_type"`
	SHA256      string         `json:"sha256"`
	Owner       string         `json:"owner,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	URL         string         `json:"url"`
	AttachedTo  []mediaRefView `json:"attached_to"`
}

type mediaRefView struct {
	Domain      string    `json:"domain"`
	Resource    string    `json:"resource"`
	AggregateID string    `json:"id"`
	At          time.Time `json:"at"`
}

func viewMedia(m *store.Media, refs []store.MediaRef) mediaView {
	v := mediaView{ID: m.ID, Name: m.Name, Size: m.Size, ContentType: m.ContentType, SHA256: m.SHA256, Owner: m.Owner,
		CreatedAt: m.CreatedAt, URL: "/_media/" + url.PathEscape(m.ID), AttachedTo: []mediaRefView{}}
	for _, r := range refs {
		v.AttachedTo = append(v.AttachedTo, mediaRefView{Domain: r.Domain, Resource: r.Resource, AggregateID: r.AggregateID, At: r.CreatedAt})
	}
	return v
}

func (s *Server) routeMedia() {
	s.app.Post("/_media", s.uploadMedia)
	s.app.Get("/_media/:id/meta", s.mediaMeta)
	s.app.Get("/_media/:id/url", s.mediaURL)
	s.app.Get("/_media/:id", s.downloadMedia)
	s.app.Delete("/_media/:id", s.deleteMedia)
}

// uploadMedia streams an upload into the media service: the file part of a
// form, or the whole body. Past the size limit it answers 413 and keeps
// nothing; the type is sniffed, never taken from the client.
func (s *Server) uploadMedia(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	limit := s.media.MaxBytes()
	tooLarge := problemError(fiber.StatusRequestEntityTooLarge, "media-too-large",
		"the file is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
	ct, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if n := c.Request().Header.ContentLength(); n > 0 && (ct != "multipart/form-data" && int64(n) > limit || int64(n) > limit+64<<10) {
		return tooLarge
	}
	body := requestBody(c)
	var r io.Reader = body
	name := strings.Clone(c.Query("name"))
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return problemError(fiber.StatusBadRequest, "media-missing", `the form has no part named "file"`)
			}
			if err != nil {
				return problemError(fiber.StatusBadRequest, "malformed-multipart", "the multipart body cannot be read: "+err.Error())
			}
			if part.FormName() == "file" {
				r = part
				if name == "" {
					name = part.FileName()
				}
				break
			}
		}
	} else if name == "" {
		if _, p, err := mime.ParseMediaType(c.Get(fiber.HeaderContentDisposition)); err == nil {
			name = p["filename"]
		}
	}
	m, err := s.media.Upload(c.UserContext(), caller, name, r)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/_media/"+url.PathEscape(m.ID))
	return c.Status(fiber.StatusCreated).JSON(viewMedia(m, nil))
}

func (s *Server) mediaMeta(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	info, err := s.media.Get(c.UserContext(), caller, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(viewMedia(info.Media, info.Refs))
}

func (s *Server) mediaURL(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	ttl := 300 * time.Second
	if q := c.Query("ttl"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 7*24*3600 {
			return problemError(fiber.StatusBadRequest, "invalid-parameter", "ttl is 1 to 604800 seconds")
		}
		ttl = time.Duration(n) * time.Second
	}
	info, err := s.media.Get(c.UserContext(), caller, c.Params("id"))
	if err != nil {
		return err
	}
	u, exp, err := s.media.SignedURL(c.UserContext(), info.Media, "", ttl)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": u, "expires_at": exp})
}

func (s *Server) deleteMedia(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	if err := s.media.Delete(c.UserContext(), caller, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// downloadMedia streams a media's bytes: to a caller who may read it, or
// to whoever holds a URL the host signed.
func (s *Server) downloadMedia(c *fiber.Ctx) error {
	id := c.Params("id")
	var m *store.Media
	if sig := c.Query("signature"); sig != "" {
		var err error
		if m, err = s.media.Signed(c.UserContext(), id, c.Query("tenant"), c.Query("expires"), sig); err != nil {
			return err
		}
	} else {
		caller, err := s.authenticate(c)
		if err != nil {
			return err
		}
		info, err := s.media.Get(c.UserContext(), caller, id)
		if err != nil {
			return err
		}
		m = info.Media
	}
	etag := `"` + m.SHA256 + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// Opened in a browser, a file is a document of its own origin: never
	// let it run anything.
	c.Set(fiber.HeaderContentSecurityPolicy, "sandbox; default-src 'none'")
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": m.Name}))
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	offset, length := int64(0), m.Size
	status := fiber.StatusOK
	if rh := c.Get(fiber.HeaderRange); rh != "" && (c.Get(fiber.HeaderIfRange) == "" || c.Get(fiber.HeaderIfRange) == etag) {
		start, n, ok, err := parseRange(rh, m.Size)
		if err != nil {
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", m.Size))
			return problemError(fiber.StatusRequestedRangeNotSatisfiable, "range-not-satisfiable", err.Error())
		}
		if ok {
			offset, length, status = start, n, fiber.StatusPartialContent
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, m.Size))
		}
	}
	c.Set(fiber.HeaderContentType, m.ContentType)
	c.Status(status)
	if c.Method() == fiber.MethodHead {
		c.Context().Response.Header.SetContentLength(int(length))
		return nil
	}
	rc, err := s.media.Open(c.UserContext(), m, offset, length)
	if err != nil {
		return err
	}
	// fasthttp streams the reader to the client and closes it.
	c.Context().SetBodyStream(rc, int(length))
	return nil
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// parseRange reads one byte range of a Range header (bytes=a-b, a-, -n).
// ok is false when the header is to be ignored (several ranges, another
// unit): the whole file is sent. An unsatisfiable range is an error.
func parseRange(h string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, errors.New("a range is bytes=first-last")
	}
	switch {
	case first == "":
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n <= 0 {
			return 0, 0, false, errors.New("a suffix range names a positive length")
		}
		n = min(n, size)
		return size - n, n, size > 0, nil
	default:
		a, perr := strconv.ParseInt(first, 10, 64)
		if perr != nil || a < 0 {
			return 0, 0, false, errors.New("a range's first byte is a number")
		}
		if a >= size {
			return 0, 0, false, fmt.Errorf("the file has %d bytes; the range starts at %d", size, a)
		}
		b := size - 1
		if last != "" {
			if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
				return 0, 0, false, errors.New("a range's last byte is a number not before its first")
			}
			b = min(b, size-1)
		}
		return a, b - a + 1, true, nil
	}
}
