package store

import (
	"context"
	"time"
)

// Statuses of a plugin version.
const (
	PluginUploaded = "uploaded" // stored and checked; never active
	PluginVerified = "verified" // its shadow verification passed; not active yet
	PluginActive   = "active"   // the version its domain serves
	PluginRetired  = "retired"  // was active, replaced or disabled since
	PluginFailed   = "failed"   // refused at activation (verification, load)
)

// PluginVersion is one uploaded module of a domain. Versions are numbered
// from 1 per domain in upload order; the module's bytes live in a blob
// store under their SHA-256.
type PluginVersion struct {
	Domain     string
	Version    int64
	SHA256     string // hex, lower case
	Size       int64
	ABIVersion int
	Manifest   []byte // the manifest as the module wrote it (JSON)
	Toolchain  string // "tinygo", "go", "assemblyscript", "" if unknown
	Status     string
	UploadedBy string
	UploadedAt time.Time
}

// PluginDomain is a domain's place in the registry: which version it
// serves, if any. Revision changes with every change of the active version
// or the disabled flag: writes that can race name the revision they saw.
type PluginDomain struct {
	Domain        string
	ActiveVersion int64 // 0: none
	Disabled      bool
	Revision      int64
	UpdatedAt     time.Time
	UpdatedBy     string
}

// PluginAudit is one lifecycle action: upload, activate, rollback, disable,
// delete, verify, test.
type PluginAudit struct {
	ID      int64 // increasing
	Domain  string
	Version int64 // 0 when the action concerns no one version
	Action  string
	Actor   string
	At      time.Time
	Detail  []byte // JSON object, or nil
}

// PluginStore is the plugin registry shared by every host (DO NOT IMPLEMENT
// outside this repository; it may grow).
type PluginStore interface {
	// PluginVersionAdd stores a new version of v.Domain, numbering it one
	// past the domain's highest (v.Version is set), and creates the domain
	// (inactive) on its first version. ErrDuplicate if the domain holds a
	// version with the same SHA256 already; v.Version is then set to it.
	PluginVersionAdd(ctx context.Context, v *PluginVersion, audit *PluginAudit) error
	// PluginVersionGet returns one version; ErrNotFound if there is none.
	PluginVersionGet(ctx context.Context, domain string, version int64) (*PluginVersion, error)
	// PluginVersions lists a domain's versions, oldest first (none: empty).
	PluginVersions(ctx context.Context, domain string) ([]*PluginVersion, error)
	// PluginVersionStatus sets a version's status (verified, failed);
	// ErrNotFound if there is no such version. The active version's status
	// is the registry's own and is not changed this way (ErrInUse).
	PluginVersionStatus(ctx context.Context, domain string, version int64, status string, audit *PluginAudit) error
	// PluginVersionDelete removes a version that is not active;
	// ErrNotFound if there is none, ErrInUse if it is active.
	PluginVersionDelete(ctx context.Context, domain string, version int64, audit *PluginAudit) error
	// PluginDomainGet returns a domain; ErrNotFound if it has no version.
	PluginDomainGet(ctx context.Context, domain string) (*PluginDomain, error)
	// PluginDomains lists every domain by name.
	PluginDomains(ctx context.Context) ([]*PluginDomain, error)
	// PluginActivate makes version the active one of its domain and
	// enables the domain: the previous active version becomes retired, the
	// new one active, the revision grows. If revision is not 0 the domain's
	// revision must equal it (ErrVersionConflict otherwise). ErrNotFound if
	// there is no such version. Returns the new revision.
	PluginActivate(ctx context.Context, domain string, version, revision int64, audit *PluginAudit) (int64, error)
	// PluginDisable stops the domain from being served: no version is
	// active (the last one becomes retired), the revision grows. Revision
	// as for PluginActivate.
	PluginDisable(ctx context.Context, domain string, revision int64, audit *PluginAudit) (int64, error)
	// PluginAuditList returns a domain's lifecycle actions, oldest first,
	// at most limit of them after the given id.
	PluginAuditList(ctx context.Context, domain string, afterID int64, limit int) ([]*PluginAudit, error)
	// PluginAuditAdd records an action that changes nothing else (a test
	// run, a refused activation).
	PluginAuditAdd(ctx context.Context, a *PluginAudit) error
	// PluginRegistryVersion changes whenever a version is added or a
	// domain's active version or disabled flag changes: hosts poll it to
	// prepare new modules and to converge on what is active.
	PluginRegistryVersion(ctx context.Context) (int64, error)
	// StreamsOf returns up to limit aggregates of a domain with a state
	// record, across every tenant, in key order after the given one (nil:
	// from the start): what a new version is verified against.
	StreamsOf(ctx context.Context, domain string, after *StateKey, limit int) ([]StateKey, error)
	// EventTypesOf returns the distinct event types stored in a domain's
	// streams (those named "domain.resource/id"), sorted.
	EventTypesOf(ctx context.Context, domain string) ([]string, error)
}
