package admin

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
)

// The management API's plugin lifecycle: upload, list, show, activate,
// roll back, disable, delete a version. Every route needs the admin role;
// what the registry refuses comes back as its problem.

type versionView struct {
	Domain     string          `json:"domain"`
	Version    int64           `json:"version"`
	SHA256     string          `json:"sha256"`
	Size       int64           `json:"size"`
	ABIVersion int             `json:"abi_version"`
	Toolchain  string          `json:"toolchain,omitempty"`
	Status     string          `json:"status"`
	UploadedBy string          `json:"uploaded_by"`
	UploadedAt time.Time       `json:"uploaded_at"`
	Manifest   json.RawMessage `json:"manifest,omitempty"`
}

func viewVersion(v *store.PluginVersion, withManifest bool) versionView {
	out := versionView{Domain: v.Domain, Version: v.Version, SHA256: v.SHA256, Size: v.Size, ABIVersion: v.ABIVersion,
		Toolchain: v.Toolchain, Status: v.Status, UploadedBy: v.UploadedBy, UploadedAt: v.UploadedAt}
	if withManifest {
		out.Manifest = json.RawMessage(v.Manifest)
	}
	return out
}

type domainView struct {
	Domain        string     `json:"domain"`
	ActiveVersion *int64     `json:"active_version"`
	Disabled      bool       `json:"disabled"`
	Revision      int64      `json:"revision"`
	UpdatedAt     *time.Time `json:"updated_at,omitempty"`
	UpdatedBy     string     `json:"updated_by,omitempty"`
	// ServedSHA256 is what this host serves for the domain, which follows
	// the registry within a second.
	ServedSHA256 string `json:"served_sha256,omitempty"`
}

func (s *Server) viewDomain(d *store.PluginDomain) domainView {
	out := domainView{Domain: d.Domain, Disabled: d.Disabled, Revision: d.Revision, UpdatedBy: d.UpdatedBy}
	if d.ActiveVersion != 0 {
		v := d.ActiveVersion
		out.ActiveVersion = &v
	}
	if !d.UpdatedAt.IsZero() {
		t := d.UpdatedAt
		out.UpdatedAt = &t
	}
	if p := s.host.Plugin(d.Domain); p != nil {
		out.ServedSHA256 = p.SHA256()
	}
	return out
}

type auditView struct {
	ID      int64           `json:"id"`
	Version int64           `json:"version,omitempty"`
	Action  string          `json:"action"`
	Actor   string          `json:"actor"`
	At      time.Time       `json:"at"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// revisionETag is a domain's entity tag: its registry revision.
func revisionETag(rev int64) string { return `"r` + strconv.FormatInt(rev, 10) + `"` }

// ifMatchRevision reads If-Match as a revision; 0 without one.
func ifMatchRevision(c *fiber.Ctx) (int64, error) {
	h := c.Get(fiber.HeaderIfMatch)
	if h == "" {
		return 0, nil
	}
	v := strings.TrimPrefix(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), "r")
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil || rev <= 0 {
		return 0, problemError(fiber.StatusBadRequest, "invalid-if-match", `If-Match takes the ETag a domain was answered with, like "r3"`)
	}
	return rev, nil
}

func (s *Server) uploadPlugin(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	module, err := s.readModule(c)
	if err != nil {
		return err
	}
	activate := c.Query("activate") == "true"
	u, err := s.registry.Upload(c.UserContext(), registry.Upload{Module: module, Actor: admin.UserID,
		Domain: strings.Clone(c.Query("domain")), Toolchain: strings.Clone(c.Query("toolchain"))})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if u.Existed {
		status = fiber.StatusOK
	}
	out := fiber.Map{"domain": u.Version.Domain, "version": viewVersion(u.Version, false), "existed": u.Existed}
	if !activate {
		s.registry.Release(u)
		return c.Status(status).JSON(out)
	}
	rev, err := ifMatchRevision(c)
	if err != nil {
		s.registry.Release(u)
		return err
	}
	a, err := s.registry.UploadAndActivate(c.UserContext(), u, registry.Activation{Actor: admin.UserID, Revision: rev,
		Force: c.Query("force") == "true", VerifyAll: c.Query("verify") == "all"})
	s.registry.Release(u)
	if err != nil {
		return err
	}
	out["version"], out["verification"] = viewVersion(a.Version, false), a.Report
	c.Set(fiber.HeaderETag, revisionETag(a.Domain.Revision))
	return c.Status(status).JSON(out)
}

// readModule reads an upload: a raw application/wasm body, or the part
// named "module" (or "file") of a multipart form, bounded by the module
// size limit whatever the Content-Length says.
func (s *Server) readModule(c *fiber.Ctx) ([]byte, error) {
	limit := s.maxModule
	tooLarge := problemError(fiber.StatusRequestEntityTooLarge, "module-too-large",
		"the module is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
	ct, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	// A form carries its framing besides the module.
	if n := c.Request().Header.ContentLength(); n > 0 && (ct != "multipart/form-data" && int64(n) > limit || int64(n) > limit+64<<10) {
		return nil, tooLarge
	}
	body := requestBody(c)
	var r io.Reader = body
	switch ct {
	case "application/wasm", "application/octet-stream":
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil, problemError(fiber.StatusBadRequest, "module-missing", `the form has no part named "module"`)
			}
			if err != nil {
				return nil, problemError(fiber.StatusBadRequest, "malformed-multipart", "the multipart body cannot be read: "+err.Error())
			}
			if n := part.FormName(); n == "module" || n == "file" {
				r = part
				break
			}
		}
	default:
		return nil, problemError(fiber.StatusUnsupportedMediaType, "unsupported-media-type",
			"send the module as application/wasm, or as the part \"module\" of multipart/form-data")
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, problemError(fiber.StatusBadRequest, "truncated", "the upload ended early: "+err.Error())
	}
	if int64(len(b)) > limit {
		return nil, tooLarge
	}
	if len(b) == 0 {
		return nil, problemError(fiber.StatusBadRequest, "module-missing", "the upload is empty")
	}
	return b, nil
}

func (s *Server) listPlugins(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	ds, err := s.registry.List(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]domainView, len(ds))
	for i, d := range ds {
		out[i] = s.viewDomain(d)
	}
	return c.JSON(fiber.Map{"plugins": out})
}

func (s *Server) showPlugin(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	d, err := s.registry.Get(c.UserContext(), c.Params("domain"))
	if err != nil {
		return err
	}
	versions := make([]versionView, len(d.Versions))
	for i, v := range d.Versions {
		versions[i] = viewVersion(v, v.Version == d.ActiveVersion)
	}
	history := make([]auditView, len(d.Audit))
	for i, a := range d.Audit {
		history[i] = auditView{ID: a.ID, Version: a.Version, Action: a.Action, Actor: a.Actor, At: a.At, Detail: json.RawMessage(a.Detail)}
	}
	c.Set(fiber.HeaderETag, revisionETag(d.Revision))
	return c.JSON(fiber.Map{"plugin": s.viewDomain(d.PluginDomain), "versions": versions, "history": history})
}

func (s *Server) showVersion(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	n, err := versionParam(c)
	if err != nil {
		return err
	}
	v, err := s.registry.Version(c.UserContext(), c.Params("domain"), n)
	if err != nil {
		return err
	}
	return c.JSON(viewVersion(v, true))
}

func versionParam(c *fiber.Ctx) (int64, error) {
	n, err := strconv.ParseInt(c.Params("version"), 10, 64)
	if err != nil || n <= 0 {
		return 0, problemError(fiber.StatusNotFound, "version-not-found", "versions are numbered from 1")
	}
	return n, nil
}

// activatePlugin serves POST .../activate and .../rollback.
func (s *Server) activatePlugin(rollback bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		admin, err := s.administrator(c)
		if err != nil {
			return err
		}
		rev, err := ifMatchRevision(c)
		if err != nil {
			return err
		}
		var req struct {
			Version int64  `json:"version"`
			Force   bool   `json:"force"`
			Verify  string `json:"verify"` // "sample" (default) or "all"
		}
		if body := c.Body(); len(body) > 0 {
			if err := decodeStrict(body, &req, `{"version": N, "force": false, "verify": "sample" or "all"}`); err != nil {
				return err
			}
		}
		if !rollback && req.Version <= 0 {
			return problemError(fiber.StatusBadRequest, "invalid-payload", `send {"version": N}, the version to activate`)
		}
		if req.Verify != "" && req.Verify != "sample" && req.Verify != "all" {
			return problemError(fiber.StatusBadRequest, "invalid-payload", `verify is "sample" or "all"`)
		}
		a := registry.Activation{Domain: strings.Clone(c.Params("domain")), Version: req.Version, Actor: admin.UserID,
			Revision: rev, Force: req.Force, VerifyAll: req.Verify == "all"}
		var res *registry.Activated
		if rollback {
			res, err = s.registry.Rollback(c.UserContext(), a)
		} else {
			res, err = s.registry.Activate(c.UserContext(), a)
		}
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, revisionETag(res.Domain.Revision))
		return c.JSON(fiber.Map{"plugin": s.viewDomain(res.Domain), "version": viewVersion(res.Version, false),
			"previous_version": res.Previous, "verification": res.Report})
	}
}

func (s *Server) disablePlugin(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	rev, err := ifMatchRevision(c)
	if err != nil {
		return err
	}
	d, err := s.registry.Disable(c.UserContext(), strings.Clone(c.Params("domain")), admin.UserID, rev)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, revisionETag(d.Revision))
	return c.JSON(fiber.Map{"plugin": s.viewDomain(d)})
}

func (s *Server) deleteVersion(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	n, err := versionParam(c)
	if err != nil {
		return err
	}
	if err := s.registry.DeleteVersion(c.UserContext(), strings.Clone(c.Params("domain")), n, admin.UserID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// testVersion runs the scenario file in the body against a version in a
// throwaway host; 200 with each scenario's outcome, passed or not.
func (s *Server) testVersion(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	n, err := versionParam(c)
	if err != nil {
		return err
	}
	rep, err := s.registry.Test(c.UserContext(), strings.Clone(c.Params("domain")), n, admin.UserID, c.Body())
	if err != nil {
		return err
	}
	return c.JSON(rep)
}
