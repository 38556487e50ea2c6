package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Upload is what an upload asks for.
type Upload struct {
	Module []byte
	Actor  string // who uploads
	// Domain, when set, is the domain the uploader means to update: a
	// module serving another is refused (domain-mismatch).
	Domain string
	// Toolchain names the compiler, when the uploader knows it; otherwise
	// it is read from the module where it says.
	Toolchain string
}

// Uploaded is a stored version, and whether it was there already.
type Uploaded struct {
	Version *store.PluginVersion
	Existed bool // the same module was uploaded before: nothing was added
	plugin  *host.Plugin
}

// Upload checks a module the way a host loads it (compiled, metered,
// instantiated, its manifest read and checked) and stores it as its
// domain's next version. Nothing is stored for a module that fails.
func (r *Registry) Upload(ctx context.Context, u Upload) (*Uploaded, error) {
	if int64(len(u.Module)) > r.opts.MaxModuleBytes {
		return nil, errorf(host.KindTooLarge, "module-too-large", "the module is %d bytes, more than the limit of %d", len(u.Module), r.opts.MaxModuleBytes)
	}
	p, err := r.host.Prepare(ctx, "upload", u.Module)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			r.host.Discard(p)
		}
	}()
	if u.Domain != "" && p.Domain() != u.Domain {
		return nil, errorf(host.KindConflict, "domain-mismatch", "the module serves domain %s, not %s", p.Domain(), u.Domain)
	}
	sum, err := blob.PutContent(ctx, r.blobs, u.Module)
	if err != nil {
		return nil, fmt.Errorf("storing the module: %w", err)
	}
	toolchain := u.Toolchain
	if toolchain == "" {
		toolchain = Toolchain(u.Module)
	}
	m := p.Manifest()
	v := &store.PluginVersion{Domain: p.Domain(), SHA256: sum, Size: int64(len(u.Module)), ABIVersion: m.ABIVersion,
		Manifest: p.ManifestJSON(), Toolchain: toolchain, Status: store.PluginUploaded, UploadedBy: u.Actor, UploadedAt: r.now()}
	detail, _ := json.Marshal(map[string]any{"sha256": sum, "size": len(u.Module), "toolchain": toolchain})
	err = r.store.PluginVersionAdd(ctx, v, r.audit(v.Domain, 0, "upload", u.Actor, detail))
	if errors.Is(err, store.ErrDuplicate) {
		existing, gerr := r.store.PluginVersionGet(ctx, v.Domain, v.Version)
		if gerr != nil {
			return nil, gerr
		}
		keep = true
		return &Uploaded{Version: existing, Existed: true, plugin: p}, nil
	}
	if err != nil {
		return nil, err
	}
	keep = true
	return &Uploaded{Version: v, plugin: p}, nil
}

// Release drops what an upload prepared, when it is not activated.
func (r *Registry) Release(u *Uploaded) {
	if u != nil && u.plugin != nil {
		r.host.Discard(u.plugin)
		u.plugin = nil
	}
}

// Activation is what an activation asks for.
type Activation struct {
	Domain  string
	Version int64
	Actor   string
	// Revision, when not 0, is the domain's revision the caller saw
	// (If-Match): a change made since refuses the activation.
	Revision int64
	// Force activates despite missing appliers or a failed verification.
	Force bool
	// VerifyAll replays every stream, not a sample.
	VerifyAll bool
	// Action names it in the audit log: "activate" or "rollback".
	Action string
	// prepared is the upload's plugin, when activating right after it.
	prepared *Uploaded
}

// Activated is an activation's outcome.
type Activated struct {
	Domain   *store.PluginDomain
	Version  *store.PluginVersion
	Report   *Report
	Previous int64 // the version that was active before, 0 for none
}

// Activate checks a version against the domain's stored events and
// streams, records it as the active one, and serves it on this host at
// once (other hosts within a poll). A refused verification marks the
// version failed and answers verification-failed with the report.
func (r *Registry) Activate(ctx context.Context, a Activation) (*Activated, error) {
	if a.Action == "" {
		a.Action = "activate"
	}
	v, err := r.store.PluginVersionGet(ctx, a.Domain, a.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(host.KindNotFound, "version-not-found", "domain %s has no version %d", a.Domain, a.Version)
	}
	if err != nil {
		return nil, err
	}
	d, err := r.store.PluginDomainGet(ctx, a.Domain)
	if err != nil {
		return nil, err
	}
	if a.Revision != 0 && a.Revision != d.Revision {
		return nil, errorf(host.KindPreconditionFailed, "precondition-failed", "domain %s is at revision %d, not %d", a.Domain, d.Revision, a.Revision)
	}
	var p *host.Plugin
	if a.prepared != nil && a.prepared.plugin != nil && a.prepared.plugin.SHA256() == v.SHA256 {
		p, a.prepared.plugin = a.prepared.plugin, nil
	} else if p, err = r.prepare(ctx, v); err != nil {
		return nil, err
	}
	served := false
	defer func() {
		if !served {
			r.host.Discard(p)
		}
	}()
	report, err := r.verify(ctx, p, a.VerifyAll)
	if err != nil {
		return nil, err
	}
	detail, _ := json.Marshal(map[string]any{"report": report, "force": a.Force, "from": d.ActiveVersion})
	if !report.OK() && !a.Force {
		if v.Status != store.PluginActive {
			_ = r.store.PluginVersionStatus(ctx, a.Domain, a.Version, store.PluginFailed, r.audit(a.Domain, a.Version, "verify-failed", a.Actor, detail))
		}
		return nil, &host.Error{Kind: host.KindConflict, Code: "verification-failed",
			Message: fmt.Sprintf("version %d of %s does not rebuild the stored state: %s", a.Version, a.Domain, report.Summary()),
			Details: report}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rev, err := r.store.PluginActivate(ctx, a.Domain, a.Version, a.Revision, r.audit(a.Domain, a.Version, a.Action, a.Actor, detail))
	if errors.Is(err, store.ErrVersionConflict) {
		return nil, errorf(host.KindPreconditionFailed, "precondition-failed", "domain %s changed while version %d was verified", a.Domain, a.Version)
	}
	if err != nil {
		return nil, err
	}
	if cur := r.host.Plugin(a.Domain); cur == nil || cur.SHA256() != v.SHA256 {
		if err := r.host.Activate(p); err != nil {
			return nil, err
		}
		served = true
	}
	d, err = r.store.PluginDomainGet(ctx, a.Domain)
	if err != nil {
		return nil, err
	}
	v.Status = store.PluginActive
	r.log.Info("registry: version activated", "domain", a.Domain, "version", a.Version, "revision", rev, "by", a.Actor,
		"verified", report.Checked, "action", a.Action)
	return &Activated{Domain: d, Version: v, Report: report, Previous: previousOf(detail)}, nil
}

func previousOf(detail []byte) int64 {
	var d struct {
		From int64 `json:"from"`
	}
	_ = json.Unmarshal(detail, &d)
	return d.From
}

// UploadAndActivate activates an upload at once, reusing its prepared
// plugin.
func (r *Registry) UploadAndActivate(ctx context.Context, u *Uploaded, a Activation) (*Activated, error) {
	a.Domain, a.Version, a.prepared = u.Version.Domain, u.Version.Version, u
	return r.Activate(ctx, a)
}

// Rollback activates an earlier version: to, or when to is 0 the one that
// was active before the current one.
func (r *Registry) Rollback(ctx context.Context, a Activation) (*Activated, error) {
	a.Action = "rollback"
	if a.Version == 0 {
		prev, err := r.previous(ctx, a.Domain)
		if err != nil {
			return nil, err
		}
		a.Version = prev
	}
	return r.Activate(ctx, a)
}

// previous is the version most recently active before the current one
// that still exists.
func (r *Registry) previous(ctx context.Context, domain string) (int64, error) {
	d, err := r.store.PluginDomainGet(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return 0, errorf(host.KindNotFound, "unknown-domain", "the registry has no domain %q", domain)
	}
	if err != nil {
		return 0, err
	}
	var log []*store.PluginAudit
	for after := int64(0); ; {
		page, err := r.store.PluginAuditList(ctx, domain, after, 500)
		if err != nil {
			return 0, err
		}
		log = append(log, page...)
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if (e.Action == "activate" || e.Action == "rollback") && e.Version != d.ActiveVersion {
			if _, err := r.store.PluginVersionGet(ctx, domain, e.Version); err == nil {
				return e.Version, nil
			}
		}
	}
	return 0, errorf(host.KindConflict, "no-previous-version", "domain %s has no earlier active version to roll back to", domain)
}

// Disable stops serving a domain on every host; activating a version
// serves it again.
func (r *Registry) Disable(ctx context.Context, domain, actor string, revision int64) (*store.PluginDomain, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.store.PluginDisable(ctx, domain, revision, r.audit(domain, 0, "disable", actor, nil))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errorf(host.KindNotFound, "unknown-domain", "the registry has no domain %q", domain)
	case errors.Is(err, store.ErrVersionConflict):
		return nil, errorf(host.KindPreconditionFailed, "precondition-failed", "domain %s changed since revision %d", domain, revision)
	case err != nil:
		return nil, err
	}
	r.host.Unload(domain)
	r.log.Info("registry: domain disabled", "domain", domain, "by", actor)
	return r.store.PluginDomainGet(ctx, domain)
}

// DeleteVersion removes a version that is not active. Its module stays in
// the blob store while another domain's version has the same bytes.
func (r *Registry) DeleteVersion(ctx context.Context, domain string, version int64, actor string) error {
	err := r.store.PluginVersionDelete(ctx, domain, version, r.audit(domain, version, "delete", actor, nil))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(host.KindNotFound, "version-not-found", "domain %s has no version %d", domain, version)
	case errors.Is(err, store.ErrInUse):
		return errorf(host.KindConflict, "version-active", "version %d is the active version of %s: activate another or disable the domain first", version, domain)
	}
	return err
}

// Domain is a domain's whole record: its place, versions and history.
type Domain struct {
	*store.PluginDomain
	Versions []*store.PluginVersion
	Audit    []*store.PluginAudit
}

// Get returns a domain with its versions and lifecycle history.
func (r *Registry) Get(ctx context.Context, domain string) (*Domain, error) {
	d, err := r.store.PluginDomainGet(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(host.KindNotFound, "unknown-domain", "the registry has no domain %q", domain)
	}
	if err != nil {
		return nil, err
	}
	out := &Domain{PluginDomain: d}
	if out.Versions, err = r.store.PluginVersions(ctx, domain); err != nil {
		return nil, err
	}
	if out.Audit, err = r.store.PluginAuditList(ctx, domain, 0, 1000); err != nil {
		return nil, err
	}
	return out, nil
}

// Version returns one version.
func (r *Registry) Version(ctx context.Context, domain string, version int64) (*store.PluginVersion, error) {
	v, err := r.store.PluginVersionGet(ctx, domain, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(host.KindNotFound, "version-not-found", "domain %s has no version %d", domain, version)
	}
	return v, err
}

// List returns every domain of the registry.
func (r *Registry) List(ctx context.Context) ([]*store.PluginDomain, error) {
	return r.store.PluginDomains(ctx)
}

// Seed registers the modules of a directory and activates each whose
// domain has no active version and is not disabled, so a fresh install
// serves its plugins directory as before. Two modules of one domain are
// both registered and neither is activated by the seed.
func (r *Registry) Seed(ctx context.Context, dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var errs []error
	byDomain := map[string][]*Uploaded{}
	var order []string
	for _, path := range paths {
		wasm, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u, err := r.Upload(ctx, Upload{Module: wasm, Actor: "seed:" + filepath.Base(path)})
		if err != nil {
			errs = append(errs, fmt.Errorf("seeding %s: %w", filepath.Base(path), err))
			continue
		}
		d := u.Version.Domain
		if byDomain[d] == nil {
			order = append(order, d)
		}
		byDomain[d] = append(byDomain[d], u)
	}
	for _, domain := range order {
		us := byDomain[domain]
		d, err := r.store.PluginDomainGet(ctx, domain)
		if err != nil {
			errs = append(errs, err)
		}
		switch {
		case err != nil || d.ActiveVersion != 0 || d.Disabled:
			for _, u := range us {
				if err == nil && u.Version.Version != d.ActiveVersion {
					r.log.Warn("registry: the plugins dir holds a version that is not active; activate it to serve it",
						"domain", domain, "version", u.Version.Version, "active", d.ActiveVersion, "disabled", d.Disabled,
						"activate", fmt.Sprintf("fluvius-host plugin activate %s %d", domain, u.Version.Version))
				}
				r.Release(u)
			}
		case len(us) > 1:
			for _, u := range us {
				r.Release(u)
			}
			errs = append(errs, fmt.Errorf("seeding: %d modules of the plugins directory serve domain %s; none is activated", len(us), domain))
		default:
			if _, err := r.UploadAndActivate(ctx, us[0], Activation{Actor: us[0].Version.UploadedBy}); err != nil {
				r.Release(us[0])
				errs = append(errs, fmt.Errorf("seeding domain %s: %w", domain, err))
			}
		}
	}
	return errors.Join(errs...)
}
