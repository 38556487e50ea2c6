package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fluvius.dev/fluvius/store"
)

var _ store.PluginStore = (*Driver)(nil)

// Every write of the registry is one transaction that first locks its
// domain's row (SELECT ... FOR UPDATE): writes of one domain run one after
// another, so two uploads never get the same number and an activation never
// races a delete of the version it activates. Activations and disables also
// update the one plugin_registry_version row; they are rare.

const pluginVersionColumns = `domain, version, sha256, size, abi_version, manifest, toolchain, status, uploaded_by, uploaded_at`

// pluginDomainVisible: a domain exists for readers while it has a version
// (its row stays after its last version is deleted, to keep numbering).
const pluginDomainVisible = `EXISTS (SELECT 1 FROM plugin_versions v WHERE v.domain = plugins.domain)`

func nowMicro() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (d *Driver) pluginTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	return nil
}

// lockPluginDomain locks a domain's row for the rest of tx and returns its
// active version and revision; ErrNotFound if there is no row.
func lockPluginDomain(ctx context.Context, tx pgx.Tx, domain string) (active, revision int64, err error) {
	err = tx.QueryRow(ctx, `SELECT active_version, revision FROM plugins WHERE domain = $1 FOR UPDATE`, domain).Scan(&active, &revision)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("no such plugin domain: %w", store.ErrNotFound)
	}
	return active, revision, err
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

func insertPluginAudit(ctx context.Context, q querier, a *store.PluginAudit) (int64, error) {
	var detail *string
	if len(a.Detail) > 0 {
		s := string(a.Detail)
		detail = &s
	}
	var id int64
	if err := q.QueryRow(ctx, `INSERT INTO plugin_audit (domain, version, action, actor, at, detail) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`, a.Domain, a.Version, a.Action, a.Actor, a.At, detail).Scan(&id); err != nil {
		return 0, fmt.Errorf("recording %s: %w", a.Action, err)
	}
	return id, nil
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
	err := d.pluginTx(ctx, "adding a version of plugin "+v.Domain, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO plugins (domain, updated_at, updated_by) VALUES ($1, $2, $3)
			ON CONFLICT (domain) DO NOTHING`, v.Domain, at, v.UploadedBy); err != nil {
			return err
		}
		if _, _, err := lockPluginDomain(ctx, tx, v.Domain); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT version FROM plugin_versions WHERE domain = $1 AND sha256 = $2`, v.Domain, v.SHA256).Scan(&version)
		if err == nil {
			return fmt.Errorf("version %d has SHA-256 %s: %w", version, v.SHA256, store.ErrDuplicate)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE plugins SET last_version = last_version + 1 WHERE domain = $1 RETURNING last_version`,
			v.Domain).Scan(&version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO plugin_versions (`+pluginVersionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			v.Domain, version, v.SHA256, v.Size, v.ABIVersion, string(v.Manifest), v.Toolchain, status, v.UploadedBy, at); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE plugin_registry_version SET version = version + 1`); err != nil {
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

func scanPluginVersion(row pgx.Row) (*store.PluginVersion, error) {
	v := &store.PluginVersion{}
	var manifest string
	if err := row.Scan(&v.Domain, &v.Version, &v.SHA256, &v.Size, &v.ABIVersion, &manifest, &v.Toolchain, &v.Status,
		&v.UploadedBy, &v.UploadedAt); err != nil {
		return nil, err
	}
	if manifest != "" {
		v.Manifest = []byte(manifest)
	}
	v.UploadedAt = v.UploadedAt.UTC()
	return v, nil
}

// PluginVersionGet implements store.PluginStore.
func (d *Driver) PluginVersionGet(ctx context.Context, domain string, version int64) (*store.PluginVersion, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	v, err := scanPluginVersion(d.pool.QueryRow(ctx, `SELECT `+pluginVersionColumns+` FROM plugin_versions
		WHERE domain = $1 AND version = $2`, domain, version))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := d.pool.Query(ctx, `SELECT `+pluginVersionColumns+` FROM plugin_versions WHERE domain = $1 ORDER BY version`, domain)
	if err != nil {
		return nil, fmt.Errorf("listing versions of plugin %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []*store.PluginVersion{}
	for rows.Next() {
		v, err := scanPluginVersion(rows)
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

// lockVersion locks a version's domain and returns the domain's active
// version; ErrNotFound if there is no such version.
func lockVersion(ctx context.Context, tx pgx.Tx, domain string, version int64) (int64, error) {
	active, _, err := lockPluginDomain(ctx, tx, domain)
	if err != nil {
		return 0, err
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM plugin_versions WHERE domain = $1 AND version = $2)`,
		domain, version).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, fmt.Errorf("no such version: %w", store.ErrNotFound)
	}
	return active, nil
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
	err := d.pluginTx(ctx, what, func(tx pgx.Tx) error {
		active, err := lockVersion(ctx, tx, domain, version)
		if err != nil {
			return err
		}
		if active == version {
			return fmt.Errorf("it is the active version: %w", store.ErrInUse)
		}
		if status == store.PluginActive {
			return fmt.Errorf("a version becomes active by activation only: %w", store.ErrInUse)
		}
		if _, err := tx.Exec(ctx, `UPDATE plugin_versions SET status = $1 WHERE domain = $2 AND version = $3`, status, domain, version); err != nil {
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
	err := d.pluginTx(ctx, fmt.Sprintf("deleting plugin %s version %d", domain, version), func(tx pgx.Tx) error {
		active, err := lockVersion(ctx, tx, domain, version)
		if err != nil {
			return err
		}
		if active == version {
			return fmt.Errorf("it is the active version: %w", store.ErrInUse)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM plugin_versions WHERE domain = $1 AND version = $2`, domain, version); err != nil {
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

func scanPluginDomain(row pgx.Row) (*store.PluginDomain, error) {
	p := &store.PluginDomain{}
	if err := row.Scan(&p.Domain, &p.ActiveVersion, &p.Disabled, &p.Revision, &p.UpdatedAt, &p.UpdatedBy); err != nil {
		return nil, err
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// PluginDomainGet implements store.PluginStore.
func (d *Driver) PluginDomainGet(ctx context.Context, domain string) (*store.PluginDomain, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	p, err := scanPluginDomain(d.pool.QueryRow(ctx, `SELECT `+pluginDomainColumns+` FROM plugins
		WHERE domain = $1 AND `+pluginDomainVisible, domain))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading plugin domain %s: %w", domain, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading plugin domain %s: %w", domain, translate(err))
	}
	return p, nil
}

// PluginDomains implements store.PluginStore. Names sort byte-wise (as on
// SQLite), whatever the database's collation.
func (d *Driver) PluginDomains(ctx context.Context) ([]*store.PluginDomain, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.pool.Query(ctx, `SELECT `+pluginDomainColumns+` FROM plugins WHERE `+pluginDomainVisible+` ORDER BY domain COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("listing plugin domains: %w", translate(err))
	}
	defer rows.Close()
	out := []*store.PluginDomain{}
	for rows.Next() {
		p, err := scanPluginDomain(rows)
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
	err := d.pluginTx(ctx, what, func(tx pgx.Tx) error {
		active, current, err := lockPluginDomain(ctx, tx, domain)
		if err != nil {
			return err
		}
		// A domain whose versions were all deleted does not exist for
		// readers; nor for this.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM plugin_versions WHERE domain = $1 AND ($2 = 0 OR version = $2))`,
			domain, version).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("no such version: %w", store.ErrNotFound)
		}
		if revision != 0 && revision != current {
			return fmt.Errorf("the domain is at revision %d, not %d: %w", current, revision, store.ErrVersionConflict)
		}
		if active != 0 && active != version {
			if _, err := tx.Exec(ctx, `UPDATE plugin_versions SET status = $1 WHERE domain = $2 AND version = $3`,
				store.PluginRetired, domain, active); err != nil {
				return err
			}
		}
		if version != 0 {
			if _, err := tx.Exec(ctx, `UPDATE plugin_versions SET status = $1 WHERE domain = $2 AND version = $3`,
				store.PluginActive, domain, version); err != nil {
				return err
			}
		}
		at, by := nowMicro(), ""
		if audit != nil {
			prepareAudit(audit, domain, version)
			at, by = audit.At, audit.Actor
		}
		if err := tx.QueryRow(ctx, `UPDATE plugins SET active_version = $1, disabled = $2, revision = revision + 1,
			updated_at = $3, updated_by = $4 WHERE domain = $5 RETURNING revision`,
			version, version == 0, at, by, domain).Scan(&newRevision); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE plugin_registry_version SET version = version + 1`); err != nil {
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
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := d.pool.Query(ctx, `SELECT id, domain, version, action, actor, at, detail FROM plugin_audit
		WHERE domain = $1 AND id > $2 ORDER BY id LIMIT $3`, domain, afterID, lim)
	if err != nil {
		return nil, fmt.Errorf("listing the audit of plugin %s: %w", domain, translate(err))
	}
	defer rows.Close()
	out := []*store.PluginAudit{}
	for rows.Next() {
		a := &store.PluginAudit{}
		var detail *string
		if err := rows.Scan(&a.ID, &a.Domain, &a.Version, &a.Action, &a.Actor, &a.At, &detail); err != nil {
			return nil, fmt.Errorf("listing the audit of plugin %s: %w", domain, translate(err))
		}
		a.At = a.At.UTC()
		if detail != nil {
			a.Detail = []byte(*detail)
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
	if d.closed.Load() {
		return store.ErrClosed
	}
	if a.At.IsZero() {
		a.At = nowMicro()
	}
	id, err := insertPluginAudit(ctx, d.pool, a)
	if err != nil {
		return fmt.Errorf("recording an action of plugin %s: %w", a.Domain, translate(err))
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
	if err := d.pool.QueryRow(ctx, `SELECT version FROM plugin_registry_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the plugin registry version: %w", translate(err))
	}
	return v, nil
}

// StreamsOf implements store.PluginStore: state records not deleted, in the
// primary key's (tenant, domain, resource, id) order (the database's
// collation). Only after's tenant, resource and id count (the domain is the
// one asked for). A limit of 0 or less means no limit.
func (d *Driver) StreamsOf(ctx context.Context, domain string, after *store.StateKey, limit int) ([]store.StateKey, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	query := `SELECT tenant, domain, resource, id FROM states WHERE domain = $1 AND deleted_at IS NULL`
	args := []any{domain, lim}
	if after != nil {
		query += ` AND (tenant, resource, id) > ($3, $4, $5)`
		args = append(args, after.Tenant, after.Resource, after.ID)
	}
	query += ` ORDER BY tenant, resource, id LIMIT $2`
	rows, err := d.pool.Query(ctx, query, args...)
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
// from "domain." up to, not including, "domain/" ('/' follows '.') in byte
// order (COLLATE "C": a language collation would not keep prefixes
// together): a prefix match without LIKE and its wildcards. It reads every
// tenant's events: an administrative query, not one for the command path.
func (d *Driver) EventTypesOf(ctx context.Context, domain string) ([]string, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	rows, err := d.pool.Query(ctx, `SELECT DISTINCT type COLLATE "C" AS t FROM events
		WHERE stream COLLATE "C" >= $1 AND stream COLLATE "C" < $2 ORDER BY t`, domain+".", domain+"/")
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
