package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"fluvius.dev/fluvius/store"
)

var _ store.PluginStore = (*Driver)(nil)

// Every write of the registry is one transaction on the writer connection
// (BEGIN IMMEDIATE), so writes of one domain never interleave: numbering a
// new version needs no lock of its own.

const pluginVersionColumns = `domain, version, sha256, size, abi_version, manifest, toolchain, status, uploaded_by, uploaded_at`

// pluginDomainVisible: a domain exists for readers while it has a version
// (its row stays after its last version is deleted, to keep numbering).
const pluginDomainVisible = `EXISTS (SELECT 1 FROM plugin_versions v WHERE v.domain = plugins.domain)`

func nowMicro() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (d *Driver) pluginTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	return nil
}

// prepareAudit fills what the store decides of an audit record: its domain,
// its version (unless 0 is passed: the caller's stays) and its time.
func prepareAudit(a *store.PluginAudit, domain string, version int64) {
	a.Domain = domain
	if version != 0 {
		a.Version = version
	}
	if a.At.IsZero() {
		a.At = nowMicro()
	}
}

func insertPluginAudit(ctx context.Context, tx *sql.Tx, a *store.PluginAudit) (int64, error) {
	var detail any
	if len(a.Detail) > 0 {
		detail = string(a.Detail)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO plugin_audit (domain, version, action, actor, at, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Domain, a.Version, a.Action, a.Actor, nanos(a.At), detail)
	if err != nil {
		return 0, fmt.Errorf("recording %s: %w", a.Action, err)
	}
	return res.LastInsertId()
}

// PluginVersionAdd implements store.PluginStore. An empty v.Status is
// stored as uploaded, a zero v.UploadedAt as now; both are set in v.
func (d *Driver) PluginVersionAdd(ctx context.Context, v *store.PluginVersion, audit *store.PluginAudit) error {
	if v.Domain == "" {
		return errors.New("adding a plugin version: no domain")
	}
	status := v.Status
	switch status {
	case "":
		status = store.PluginUploaded
	case store.PluginActive:
		return fmt.Errorf("adding a version of plugin %s: a version becomes active by activation only", v.Domain)
	}
	at := v.UploadedAt
	if at.IsZero() {
		at = nowMicro()
	}
	var version, auditID int64
	err := d.pluginTx(ctx, "adding a version of plugin "+v.Domain, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO plugins (domain, updated_at, updated_by) VALUES (?, ?, ?)
			ON CONFLICT (domain) DO NOTHING`, v.Domain, nanos(at), v.UploadedBy); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT version FROM plugin_versions WHERE domain = ? AND sha256 = ?`, v.Domain, v.SHA256).Scan(&version)
		if err == nil {
			return fmt.Errorf("version %d has SHA-256 %s: %w", version, v.SHA256, store.ErrDuplicate)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, `UPDATE plugins SET last_version = last_version + 1 WHERE domain = ? RETURNING last_version`,
			v.Domain).Scan(&version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_versions (`+pluginVersionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.Domain, version, v.SHA256, v.Size, v.ABIVersion, string(v.Manifest), v.Toolchain, status, v.UploadedBy, nanos(at)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_registry_version SET version = version + 1`); err != nil {
			return err
		}
		if audit != nil {
			prepareAudit(audit, v.Domain, version)
			if auditID, err = insertPluginAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrDuplicate) && version != 0 {
			v.Version = version
		}
		return err
	}
	v.Version, v.Status, v.UploadedAt = version, status, at
	if audit != nil {
		audit.ID = auditID
	}
	return nil
}

func scanPluginVersion(scan func(...any) error) (*store.PluginVersion, error) {
	v := &store.PluginVersion{}
	var manifest string
	var at int64
	if err := scan(&v.Domain, &v.Version, &v.SHA256, &v.Size, &v.ABIVersion, &manifest, &v.Toolchain, &v.Status, &v.UploadedBy, &at); err != nil {
		return nil, err
	}
	if manifest != "" {
		v.Manifest = []byte(manifest)
	}
	v.UploadedAt = fromNanos(at)
	return v, nil
}

// PluginVersionGet implements store.PluginStore.
func (d *Driver) PluginVersionGet(ctx context.Context, domain string, version int64) (*store.PluginVersion, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	v, err := scanPluginVersion(d.reader.QueryRowContext(ctx, `SELECT `+pluginVersionColumns+` FROM plugin_versions
		WHERE domain = ? AND version = ?`, domain, version).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading plugin %s version %d: %w", domain, version, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading plugin %s version %d: %w", domain, version, translate(err))
	}
	return v, nil
}

// PluginVersions implements store.PluginStore.
func (d *Driver) PluginVersions(ctx context.Context, domain string) ([]*store.PluginVersion, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+pluginVersionColumns+` FROM plugin_versions WHERE domain = ? ORDER BY version`, domain)
	if err != nil {
		return nil, fmt.Errorf("listing versions of plugin %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []*store.PluginVersion{}
	for rows.Next() {
		v, err := scanPluginVersion(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("listing versions of plugin %s: %w", domain, translate(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing versions of plugin %s: %w", domain, translate(err))
	}
	return out, nil
}

// activeVersion reads a version's domain's active version in tx;
// ErrNotFound if there is no such version.
func activeVersion(ctx context.Context, tx *sql.Tx, domain string, version int64) (int64, error) {
	var active int64
	err := tx.QueryRowContext(ctx, `SELECT p.active_version FROM plugin_versions v JOIN plugins p ON p.domain = v.domain
		WHERE v.domain = ? AND v.version = ?`, domain, version).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return active, err
}

func validPluginStatus(status string) bool {
	switch status {
	case store.PluginUploaded, store.PluginVerified, store.PluginActive, store.PluginRetired, store.PluginFailed:
		return true
	}
	return false
}

// PluginVersionStatus implements store.PluginStore.
func (d *Driver) PluginVersionStatus(ctx context.Context, domain string, version int64, status string, audit *store.PluginAudit) error {
	what := fmt.Sprintf("setting the status of plugin %s version %d to %s", domain, version, status)
	if !validPluginStatus(status) {
		return fmt.Errorf("%s: unknown status", what)
	}
	var auditID int64
	err := d.pluginTx(ctx, what, func(tx *sql.Tx) error {
		active, err := activeVersion(ctx, tx, domain, version)
		if err != nil {
			return err
		}
		if active == version {
			return fmt.Errorf("it is the active version: %w", store.ErrInUse)
		}
		if status == store.PluginActive {
			return fmt.Errorf("a version becomes active by activation only: %w", store.ErrInUse)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_versions SET status = ? WHERE domain = ? AND version = ?`, status, domain, version); err != nil {
			return err
		}
		if audit != nil {
			prepareAudit(audit, domain, version)
			auditID, err = insertPluginAudit(ctx, tx, audit)
		}
		return err
	})
	if err == nil && audit != nil {
		audit.ID = auditID
	}
	return err
}

// PluginVersionDelete implements store.PluginStore.
func (d *Driver) PluginVersionDelete(ctx context.Context, domain string, version int64, audit *store.PluginAudit) error {
	var auditID int64
	err := d.pluginTx(ctx, fmt.Sprintf("deleting plugin %s version %d", domain, version), func(tx *sql.Tx) error {
		active, err := activeVersion(ctx, tx, domain, version)
		if err != nil {
			return err
		}
		if active == version {
			return fmt.Errorf("it is the active version: %w", store.ErrInUse)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_versions WHERE domain = ? AND version = ?`, domain, version); err != nil {
			return err
		}
		if audit != nil {
			prepareAudit(audit, domain, version)
			auditID, err = insertPluginAudit(ctx, tx, audit)
		}
		return err
	})
	if err == nil && audit != nil {
		audit.ID = auditID
	}
	return err
}

const pluginDomainColumns = `domain, active_version, disabled, revision, updated_at, updated_by`

func scanPluginDomain(scan func(...any) error) (*store.PluginDomain, error) {
	p := &store.PluginDomain{}
	var at int64
	if err := scan(&p.Domain, &p.ActiveVersion, &p.Disabled, &p.Revision, &at, &p.UpdatedBy); err != nil {
		return nil, err
	}
	p.UpdatedAt = fromNanos(at)
	return p, nil
}

// PluginDomainGet implements store.PluginStore.
func (d *Driver) PluginDomainGet(ctx context.Context, domain string) (*store.PluginDomain, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	p, err := scanPluginDomain(d.reader.QueryRowContext(ctx, `SELECT `+pluginDomainColumns+` FROM plugins
		WHERE domain = ? AND `+pluginDomainVisible, domain).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading plugin domain %s: %w", domain, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading plugin domain %s: %w", domain, translate(err))
	}
	return p, nil
}

// PluginDomains implements store.PluginStore.
func (d *Driver) PluginDomains(ctx context.Context) ([]*store.PluginDomain, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT `+pluginDomainColumns+` FROM plugins WHERE `+pluginDomainVisible+` ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("listing plugin domains: %w", translate(err))
	}
	defer rows.Close()
	out := []*store.PluginDomain{}
	for rows.Next() {
		p, err := scanPluginDomain(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("listing plugin domains: %w", translate(err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing plugin domains: %w", translate(err))
	}
	return out, nil
}

// setActive is PluginActivate and PluginDisable: version 0 disables.
func (d *Driver) setActive(ctx context.Context, what, domain string, version, revision int64, audit *store.PluginAudit) (int64, error) {
	var newRevision, auditID int64
	err := d.pluginTx(ctx, what, func(tx *sql.Tx) error {
		var active, current int64
		err := tx.QueryRowContext(ctx, `SELECT active_version, revision FROM plugins WHERE domain = ? AND `+pluginDomainVisible,
			domain).Scan(&active, &current)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no such plugin domain: %w", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if version != 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM plugin_versions WHERE domain = ? AND version = ?)`,
				domain, version).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("no such version: %w", store.ErrNotFound)
			}
		}
		if revision != 0 && revision != current {
			return fmt.Errorf("the domain is at revision %d, not %d: %w", current, revision, store.ErrVersionConflict)
		}
		if active != 0 && active != version {
			if _, err := tx.ExecContext(ctx, `UPDATE plugin_versions SET status = ? WHERE domain = ? AND version = ?`,
				store.PluginRetired, domain, active); err != nil {
				return err
			}
		}
		if version != 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE plugin_versions SET status = ? WHERE domain = ? AND version = ?`,
				store.PluginActive, domain, version); err != nil {
				return err
			}
		}
		at, by := nowMicro(), ""
		if audit != nil {
			prepareAudit(audit, domain, version)
			at, by = audit.At, audit.Actor
		}
		disabled := 0
		if version == 0 {
			disabled = 1
		}
		if err := tx.QueryRowContext(ctx, `UPDATE plugins SET active_version = ?, disabled = ?, revision = revision + 1,
			updated_at = ?, updated_by = ? WHERE domain = ? RETURNING revision`,
			version, disabled, nanos(at), by, domain).Scan(&newRevision); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plugin_registry_version SET version = version + 1`); err != nil {
			return err
		}
		if audit != nil {
			auditID, err = insertPluginAudit(ctx, tx, audit)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if audit != nil {
		audit.ID = auditID
	}
	return newRevision, nil
}

// PluginActivate implements store.PluginStore. Activating the version that
// is active already still grows the revision and the registry version.
func (d *Driver) PluginActivate(ctx context.Context, domain string, version, revision int64, audit *store.PluginAudit) (int64, error) {
	if version <= 0 {
		return 0, fmt.Errorf("activating plugin %s version %d: %w", domain, version, store.ErrNotFound)
	}
	return d.setActive(ctx, fmt.Sprintf("activating plugin %s version %d", domain, version), domain, version, revision, audit)
}

// PluginDisable implements store.PluginStore. ErrNotFound if the domain has
// no version. Disabling a disabled domain still grows the revision.
func (d *Driver) PluginDisable(ctx context.Context, domain string, revision int64, audit *store.PluginAudit) (int64, error) {
	return d.setActive(ctx, "disabling plugin "+domain, domain, 0, revision, audit)
}

// PluginAuditList implements store.PluginStore. A limit of 0 or less means
// no limit.
func (d *Driver) PluginAuditList(ctx context.Context, domain string, afterID int64, limit int) ([]*store.PluginAudit, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT id, domain, version, action, actor, at, detail FROM plugin_audit
		WHERE domain = ? AND id > ? ORDER BY id LIMIT ?`, domain, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("listing the audit of plugin %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []*store.PluginAudit{}
	for rows.Next() {
		a := &store.PluginAudit{}
		var at int64
		var detail sql.NullString
		if err := rows.Scan(&a.ID, &a.Domain, &a.Version, &a.Action, &a.Actor, &at, &detail); err != nil {
			return nil, fmt.Errorf("listing the audit of plugin %s: %w", domain, translate(err))
		}
		a.At = fromNanos(at)
		if detail.Valid {
			a.Detail = []byte(detail.String)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the audit of plugin %s: %w", domain, translate(err))
	}
	return out, nil
}

// PluginAuditAdd implements store.PluginStore. A zero a.At is set to now;
// a.ID is set.
func (d *Driver) PluginAuditAdd(ctx context.Context, a *store.PluginAudit) error {
	if a.At.IsZero() {
		a.At = nowMicro()
	}
	var id int64
	err := d.pluginTx(ctx, "recording an action of plugin "+a.Domain, func(tx *sql.Tx) (err error) {
		id, err = insertPluginAudit(ctx, tx, a)
		return err
	})
	if err != nil {
		return err
	}
	a.ID = id
	return nil
}

// PluginRegistryVersion implements store.PluginStore.
func (d *Driver) PluginRegistryVersion(ctx context.Context) (int64, error) {
	if d.closed.Load() {
		return 0, store.ErrClosed
	}
	var v int64
	if err := d.reader.QueryRowContext(ctx, `SELECT version FROM plugin_registry_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the plugin registry version: %w", translate(err))
	}
	return v, nil
}

// StreamsOf implements store.PluginStore: state records not deleted, in
// (tenant, domain, resource, id) order. Only after's tenant, resource and id
// count (the domain is the one asked for). A limit of 0 or less means no
// limit.
func (d *Driver) StreamsOf(ctx context.Context, domain string, after *store.StateKey, limit int) ([]store.StateKey, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	if limit <= 0 {
		limit = -1
	}
	query := `SELECT tenant, domain, resource, id FROM states WHERE domain = ? AND deleted_at IS NULL`
	args := []any{domain}
	if after != nil {
		query += ` AND (tenant, resource, id) > (?, ?, ?)`
		args = append(args, after.Tenant, after.Resource, after.ID)
	}
	query += ` ORDER BY tenant, resource, id LIMIT ?`
	args = append(args, limit)
	rows, err := d.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing the aggregates of %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []store.StateKey{}
	for rows.Next() {
		var k store.StateKey
		if err := rows.Scan(&k.Tenant, &k.Domain, &k.Resource, &k.ID); err != nil {
			return nil, fmt.Errorf("listing the aggregates of %s: %w", domain, translate(err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the aggregates of %s: %w", domain, translate(err))
	}
	return out, nil
}

// EventTypesOf implements store.PluginStore. The domain's streams are those
// from "domain." up to, not including, "domain/" ('/' follows '.'): a
// prefix match without LIKE and its wildcards. It reads every tenant's
// events: an administrative query, not one for the command path.
func (d *Driver) EventTypesOf(ctx context.Context, domain string) ([]string, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.reader.QueryContext(ctx, `SELECT DISTINCT type FROM events WHERE stream >= ? AND stream < ? ORDER BY type`,
		domain+".", domain+"/")
	if err != nil {
		return nil, fmt.Errorf("listing the event types of %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("listing the event types of %s: %w", domain, translate(err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the event types of %s: %w", domain, translate(err))
	}
	return out, nil
}
