package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"fluvius.dev/fluvius/store"
)

func pluginStore(t *testing.T, d store.Driver) store.PluginStore {
	t.Helper()
	ps, ok := d.(store.PluginStore)
	if !ok {
		t.Fatalf("%s does not keep plugins (store.PluginStore)", d.Name())
	}
	return ps
}

func fakeSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func registryVersion(t *testing.T, ps store.PluginStore) int64 {
	t.Helper()
	v, err := ps.PluginRegistryVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pluginStatuses(t *testing.T, ps store.PluginStore, domain string) map[int64]string {
	t.Helper()
	vs, err := ps.PluginVersions(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, v := range vs {
		out[v.Version] = v.Status
	}
	return out
}

func pluginDomain(t *testing.T, ps store.PluginStore, domain string) *store.PluginDomain {
	t.Helper()
	p, err := ps.PluginDomainGet(ctx, domain)
	if err != nil {
		t.Fatalf("domain %s: %v", domain, err)
	}
	return p
}

// Plugin versions: numbered from 1 per domain and never reused, refused
// twice with the same module, listed oldest first with every field as
// written; the domain appears with its first version.
func testPluginVersions(t *testing.T, d store.Driver) {
	ps := pluginStore(t, d)
	r0 := registryVersion(t, ps)
	if _, err := ps.PluginDomainGet(ctx, "bank"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a domain without versions: %v", err)
	}
	if vs, err := ps.PluginVersions(ctx, "bank"); err != nil || len(vs) != 0 {
		t.Fatalf("versions of an unknown domain: %v %v", vs, err)
	}
	if ds, err := ps.PluginDomains(ctx); err != nil || len(ds) != 0 {
		t.Fatalf("domains of an empty registry: %v %v", ds, err)
	}

	t0 := time.Date(2026, 11, 2, 10, 0, 0, 123456000, time.UTC)
	manifest := []byte(`{"name": "bank",  "commands": ["open", "deposit"], "z": 1, "a": 2}`)
	v1 := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("one"), Size: 1234, ABIVersion: 2, Manifest: manifest,
		Toolchain: "tinygo", UploadedBy: "ann", UploadedAt: t0}
	up1 := &store.PluginAudit{Action: "upload", Actor: "ann", At: t0, Detail: []byte(`{"size":1234}`)}
	if err := ps.PluginVersionAdd(ctx, v1, up1); err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v1.Status != store.PluginUploaded {
		t.Fatalf("the first version: %d %q", v1.Version, v1.Status)
	}
	if up1.ID == 0 || up1.Domain != "bank" || up1.Version != 1 {
		t.Fatalf("the upload's audit record: %+v", up1)
	}
	// Stored in another zone, read back in UTC.
	t1 := time.Date(2026, 11, 2, 12, 30, 0, 654321000, time.FixedZone("X", 2*3600))
	v2 := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("two"), Size: 99, ABIVersion: 1,
		Manifest: []byte(`{}`), UploadedBy: "bob", UploadedAt: t1}
	rAdd := registryVersion(t, ps)
	if err := ps.PluginVersionAdd(ctx, v2, nil); err != nil || v2.Version != 2 {
		t.Fatalf("the second version: %d %v", v2.Version, err)
	}
	// An upload moves the registry version: hosts prepare new modules.
	if v := registryVersion(t, ps); v != rAdd+1 {
		t.Fatalf("an upload moved the registry version from %d to %d", rAdd, v)
	}
	dup := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("one"), Size: 1234, ABIVersion: 2, Manifest: manifest}
	if err := ps.PluginVersionAdd(ctx, dup, &store.PluginAudit{Action: "upload"}); !errors.Is(err, store.ErrDuplicate) || dup.Version != 1 {
		t.Fatalf("the same module again: version %d, %v", dup.Version, err)
	}
	// The same module in another domain is another version.
	other := &store.PluginVersion{Domain: "shop", SHA256: fakeSHA("one"), Size: 1, ABIVersion: 1, UploadedAt: t0}
	if err := ps.PluginVersionAdd(ctx, other, nil); err != nil || other.Version != 1 {
		t.Fatalf("the same module in another domain: %d %v", other.Version, err)
	}

	vs, err := ps.PluginVersions(ctx, "bank")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %v %v", vs, err)
	}
	for i, want := range []*store.PluginVersion{v1, v2} {
		got := vs[i]
		if got.Domain != "bank" || got.Version != int64(i+1) || got.SHA256 != want.SHA256 || got.Size != want.Size ||
			got.ABIVersion != want.ABIVersion || !bytes.Equal(got.Manifest, want.Manifest) || got.Toolchain != want.Toolchain ||
			got.Status != store.PluginUploaded || got.UploadedBy != want.UploadedBy {
			t.Fatalf("version %d read back as %+v, written %+v", i+1, got, want)
		}
		if !got.UploadedAt.Equal(want.UploadedAt) || got.UploadedAt.Location() != time.UTC {
			t.Fatalf("version %d uploaded at %v, written %v", i+1, got.UploadedAt, want.UploadedAt)
		}
	}
	got, err := ps.PluginVersionGet(ctx, "bank", 1)
	if err != nil || !bytes.Equal(got.Manifest, manifest) || got.Toolchain != "tinygo" || !got.UploadedAt.Equal(t0) {
		t.Fatalf("version 1: %+v %v", got, err)
	}
	for _, k := range []struct {
		domain  string
		version int64
	}{{"bank", 3}, {"bank", 0}, {"nope", 1}} {
		if _, err := ps.PluginVersionGet(ctx, k.domain, k.version); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s version %d: %v", k.domain, k.version, err)
		}
	}
	p := pluginDomain(t, ps, "bank")
	if p.Domain != "bank" || p.ActiveVersion != 0 || p.Disabled || p.Revision != 0 {
		t.Fatalf("a new domain: %+v", p)
	}

	// Numbers are never reused, and a deleted module can come back (under
	// a new number).
	rDel := registryVersion(t, ps)
	if err := ps.PluginVersionDelete(ctx, "bank", 2, nil); err != nil {
		t.Fatal(err)
	}
	if v := registryVersion(t, ps); v != rDel {
		t.Fatalf("a delete moved the registry version from %d to %d", rDel, v)
	}
	if _, err := ps.PluginVersionGet(ctx, "bank", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted version: %v", err)
	}
	if err := ps.PluginVersionDelete(ctx, "bank", 2, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a version deleted twice: %v", err)
	}
	v3 := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("three"), ABIVersion: 2}
	if err := ps.PluginVersionAdd(ctx, v3, nil); err != nil || v3.Version != 3 {
		t.Fatalf("a version after a delete: %d %v", v3.Version, err)
	}
	if v3.UploadedAt.IsZero() || v3.Manifest != nil {
		t.Fatalf("a version without a time or manifest: %+v", v3)
	}
	again := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("two"), ABIVersion: 2}
	if err := ps.PluginVersionAdd(ctx, again, nil); err != nil || again.Version != 4 {
		t.Fatalf("a deleted module uploaded again: %d %v", again.Version, err)
	}
	// Deleting the latest version does not free its number either.
	if err := ps.PluginVersionDelete(ctx, "bank", 4, nil); err != nil {
		t.Fatal(err)
	}
	v5 := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA("five"), ABIVersion: 2}
	if err := ps.PluginVersionAdd(ctx, v5, nil); err != nil || v5.Version != 5 {
		t.Fatalf("a version after deleting the latest: %d %v", v5.Version, err)
	}

	// A domain whose versions are all deleted is gone, but keeps counting.
	gone := &store.PluginVersion{Domain: "gone", SHA256: fakeSHA("g"), ABIVersion: 1}
	if err := ps.PluginVersionAdd(ctx, gone, nil); err != nil {
		t.Fatal(err)
	}
	if err := ps.PluginVersionDelete(ctx, "gone", gone.Version, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.PluginDomainGet(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a domain without versions left: %v", err)
	}
	if _, err := ps.PluginDisable(ctx, "gone", 0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disabling a domain without versions left: %v", err)
	}

	for _, dom := range []string{"zoo", "bank-x", "alpha"} {
		if err := ps.PluginVersionAdd(ctx, &store.PluginVersion{Domain: dom, SHA256: fakeSHA(dom), ABIVersion: 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := ps.PluginDomains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ds {
		names = append(names, p.Domain)
	}
	if want := []string{"alpha", "bank", "bank-x", "shop", "zoo"}; !slices.Equal(names, want) {
		t.Fatalf("domains %v, want %v", names, want)
	}
	if v := registryVersion(t, ps); v <= r0 {
		t.Fatalf("uploads left the registry version at %d", v)
	}
}

// The lifecycle: activation retires the previous version, rollback is an
// activation of an older one, disable retires the active one; every change
// of what is served grows the domain's revision and the registry version,
// stale revisions are refused, the active version cannot be deleted or have
// its status set, and every action is in the audit, in order.
func testPluginLifecycle(t *testing.T, d store.Driver) {
	ps := pluginStore(t, d)
	var want []string // the audit's actions
	for i := range 3 {
		a := &store.PluginAudit{Action: "upload", Actor: "ann"}
		v := &store.PluginVersion{Domain: "bank", SHA256: fakeSHA(fmt.Sprint(i)), ABIVersion: 2, Manifest: []byte(`{}`)}
		if err := ps.PluginVersionAdd(ctx, v, a); err != nil {
			t.Fatal(err)
		}
		want = append(want, "upload")
	}
	r0 := registryVersion(t, ps)

	at := time.Date(2026, 11, 3, 9, 0, 0, 1000, time.UTC)
	act := &store.PluginAudit{Action: "activate", Actor: "bob", At: at, Detail: []byte(`{"shadow":"passed"}`)}
	rev1, err := ps.PluginActivate(ctx, "bank", 1, 0, act)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "activate")
	if act.ID == 0 || act.Version != 1 || act.Domain != "bank" {
		t.Fatalf("the activation's audit record: %+v", act)
	}
	p := pluginDomain(t, ps, "bank")
	if p.ActiveVersion != 1 || p.Disabled || p.Revision != rev1 || rev1 <= 0 || p.UpdatedBy != "bob" || !p.UpdatedAt.Equal(at) {
		t.Fatalf("after activating 1 (revision %d): %+v", rev1, p)
	}
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginActive || st[2] != store.PluginUploaded {
		t.Fatalf("statuses after activating 1: %v", st)
	}
	if v := registryVersion(t, ps); v <= r0 {
		t.Fatalf("an activation left the registry version at %d", v)
	}

	// Refusals change nothing.
	r1 := registryVersion(t, ps)
	if _, err := ps.PluginActivate(ctx, "bank", 2, rev1+7, &store.PluginAudit{Action: "activate"}); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("a stale revision: %v", err)
	}
	if _, err := ps.PluginActivate(ctx, "bank", 9, 0, &store.PluginAudit{Action: "activate"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown version: %v", err)
	}
	if _, err := ps.PluginActivate(ctx, "nope", 1, 0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown domain: %v", err)
	}
	if err := ps.PluginVersionDelete(ctx, "bank", 1, &store.PluginAudit{Action: "delete"}); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("deleting the active version: %v", err)
	}
	if err := ps.PluginVersionStatus(ctx, "bank", 1, store.PluginFailed, &store.PluginAudit{Action: "verify"}); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("setting the active version's status: %v", err)
	}
	if err := ps.PluginVersionStatus(ctx, "bank", 2, store.PluginActive, nil); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("setting a status of active: %v", err)
	}
	if err := ps.PluginVersionStatus(ctx, "bank", 9, store.PluginVerified, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the status of an unknown version: %v", err)
	}
	if p := pluginDomain(t, ps, "bank"); p.Revision != rev1 || p.ActiveVersion != 1 || registryVersion(t, ps) != r1 {
		t.Fatalf("refused changes changed %+v", p)
	}

	// Statuses of other versions.
	if err := ps.PluginVersionStatus(ctx, "bank", 2, store.PluginVerified, &store.PluginAudit{Action: "verify", Actor: "ci"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "verify")
	if err := ps.PluginVersionStatus(ctx, "bank", 3, store.PluginFailed, &store.PluginAudit{Action: "verify", Actor: "ci"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "verify")
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginActive || st[2] != store.PluginVerified || st[3] != store.PluginFailed {
		t.Fatalf("statuses: %v", st)
	}
	if registryVersion(t, ps) != r1 || pluginDomain(t, ps, "bank").Revision != rev1 {
		t.Fatal("a status change moved the registry version or the revision")
	}

	// Activate 2, then roll back to 1.
	rev2, err := ps.PluginActivate(ctx, "bank", 2, rev1, &store.PluginAudit{Action: "activate", Actor: "bob"})
	if err != nil || rev2 <= rev1 {
		t.Fatalf("activating 2 at revision %d: %d %v", rev1, rev2, err)
	}
	want = append(want, "activate")
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginRetired || st[2] != store.PluginActive {
		t.Fatalf("statuses after activating 2: %v", st)
	}
	r2 := registryVersion(t, ps)
	if r2 <= r1 {
		t.Fatalf("registry version %d after a second activation from %d", r2, r1)
	}
	if _, err := ps.PluginActivate(ctx, "bank", 1, rev1, nil); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("a rollback at the old revision: %v", err)
	}
	rev3, err := ps.PluginActivate(ctx, "bank", 1, rev2, &store.PluginAudit{Action: "rollback", Actor: "carol"})
	if err != nil || rev3 <= rev2 {
		t.Fatalf("rolling back: %d %v", rev3, err)
	}
	want = append(want, "rollback")
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginActive || st[2] != store.PluginRetired || st[3] != store.PluginFailed {
		t.Fatalf("statuses after the rollback: %v", st)
	}
	if p := pluginDomain(t, ps, "bank"); p.ActiveVersion != 1 || p.Revision != rev3 || p.UpdatedBy != "carol" {
		t.Fatalf("after the rollback: %+v", p)
	}
	r3 := registryVersion(t, ps)
	if r3 <= r2 {
		t.Fatal("a rollback left the registry version")
	}
	// A retired version can go now.
	if err := ps.PluginVersionDelete(ctx, "bank", 2, &store.PluginAudit{Action: "delete", Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "delete")

	// Disable.
	if _, err := ps.PluginDisable(ctx, "bank", rev2, nil); !errors.Is(err, store.ErrVersionConflict) {
		t.Fatalf("disabling at a stale revision: %v", err)
	}
	if _, err := ps.PluginDisable(ctx, "nope", 0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disabling an unknown domain: %v", err)
	}
	rev4, err := ps.PluginDisable(ctx, "bank", rev3, &store.PluginAudit{Action: "disable", Actor: "dave"})
	if err != nil || rev4 <= rev3 {
		t.Fatalf("disabling: %d %v", rev4, err)
	}
	want = append(want, "disable")
	if p := pluginDomain(t, ps, "bank"); p.ActiveVersion != 0 || !p.Disabled || p.Revision != rev4 || p.UpdatedBy != "dave" {
		t.Fatalf("after disabling: %+v", p)
	}
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginRetired {
		t.Fatalf("statuses after disabling: %v", st)
	}
	r4 := registryVersion(t, ps)
	if r4 <= r3 {
		t.Fatal("disabling left the registry version")
	}
	// Activation enables again.
	rev5, err := ps.PluginActivate(ctx, "bank", 3, 0, &store.PluginAudit{Action: "activate", Actor: "dave"})
	if err != nil || rev5 <= rev4 {
		t.Fatalf("activating after disabling: %d %v", rev5, err)
	}
	want = append(want, "activate")
	if p := pluginDomain(t, ps, "bank"); p.ActiveVersion != 3 || p.Disabled {
		t.Fatalf("after activating a disabled domain: %+v", p)
	}
	if st := pluginStatuses(t, ps, "bank"); st[1] != store.PluginRetired || st[3] != store.PluginActive {
		t.Fatalf("statuses after enabling: %v", st)
	}
	if registryVersion(t, ps) <= r4 {
		t.Fatal("enabling left the registry version")
	}

	// Actions that change nothing else.
	r5 := registryVersion(t, ps)
	test := &store.PluginAudit{Domain: "bank", Version: 3, Action: "test", Actor: "erin", Detail: []byte(`{"passed":4,"failed":0}`)}
	if err := ps.PluginAuditAdd(ctx, test); err != nil || test.ID == 0 || test.At.IsZero() {
		t.Fatalf("recording a test: %+v %v", test, err)
	}
	want = append(want, "test")
	if err := ps.PluginAuditAdd(ctx, &store.PluginAudit{Domain: "shop", Action: "test"}); err != nil {
		t.Fatal(err)
	}
	if registryVersion(t, ps) != r5 || pluginDomain(t, ps, "bank").Revision != rev5 {
		t.Fatal("an audit record changed the registry")
	}

	// The audit, whole and in pages.
	all, err := ps.PluginAuditList(ctx, "bank", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i, a := range all {
		actions = append(actions, a.Action)
		if a.Domain != "bank" || (i > 0 && a.ID <= all[i-1].ID) || a.At.Location() != time.UTC {
			t.Fatalf("audit record %d: %+v", i, a)
		}
	}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit %v, want %v", actions, want)
	}
	first := all[3] // the first activation
	if first.ID != act.ID || first.Version != 1 || first.Actor != "bob" || !first.At.Equal(at) ||
		string(first.Detail) != `{"shadow":"passed"}` {
		t.Fatalf("the activation read back as %+v", first)
	}
	if all[0].Detail != nil || all[0].Version != 1 || all[2].Version != 3 {
		t.Fatalf("an upload read back as %+v", all[0])
	}
	last := all[len(all)-1]
	if last.ID != test.ID || last.Version != 3 || last.Actor != "erin" || !last.At.Equal(test.At) ||
		string(last.Detail) != string(test.Detail) {
		t.Fatalf("the test read back as %+v, written %+v", last, test)
	}
	var paged []*store.PluginAudit
	for after := int64(0); ; {
		page, err := ps.PluginAuditList(ctx, "bank", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d records at limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	if len(paged) != len(all) {
		t.Fatalf("paging read %d records of %d", len(paged), len(all))
	}
	for i := range paged {
		if paged[i].ID != all[i].ID {
			t.Fatalf("paging: record %d is %d, want %d", i, paged[i].ID, all[i].ID)
		}
	}
	if rest, err := ps.PluginAuditList(ctx, "bank", all[len(all)-2].ID, 10); err != nil || len(rest) != 1 || rest[0].ID != test.ID {
		t.Fatalf("after the second last: %+v %v", rest, err)
	}
	if none, err := ps.PluginAuditList(ctx, "nope", 0, 10); err != nil || len(none) != 0 {
		t.Fatalf("the audit of an unknown domain: %v %v", none, err)
	}
}

// Uploads to one domain at once get distinct, consecutive numbers.
func testPluginConcurrentUploads(t *testing.T, d store.Driver) {
	ps := pluginStore(t, d)
	const n = 8
	versions := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &store.PluginVersion{Domain: "busy", SHA256: fakeSHA(fmt.Sprint("busy", i)), ABIVersion: 1}
			errs[i] = ps.PluginVersionAdd(ctx, v, &store.PluginAudit{Action: "upload"})
			versions[i] = v.Version
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("concurrent uploads got versions %v", versions)
		}
	}
	if vs, err := ps.PluginVersions(ctx, "busy"); err != nil || len(vs) != n {
		t.Fatalf("versions after concurrent uploads: %d %v", len(vs), err)
	}
	if as, err := ps.PluginAuditList(ctx, "busy", 0, 0); err != nil || len(as) != n {
		t.Fatalf("audit after concurrent uploads: %d %v", len(as), err)
	}
}

// What a new version is checked against: a domain's aggregates across
// tenants, in pages, and the event types of its streams, where a domain
// that is a prefix of another (or holds a LIKE wildcard) does not take the
// other's streams.
func testPluginStreamsAndEventTypes(t *testing.T, d store.Driver) {
	ps := pluginStore(t, d)
	type agg struct {
		tenant, domain, resource, id string
		types                        []string
	}
	aggs := []agg{
		{"globex", "bank", "loan", "l9", []string{"granted"}},
		{"", "bank", "account", "a2", []string{"opened"}},
		{"acme", "bank", "account", "a1", []string{"opened", "withdrawn"}},
		{"", "bank", "account", "a1", []string{"opened", "deposited", "deposited"}},
		{"", "bank", "loan", "l1", []string{"granted", "repaid"}},
		{"", "bank-x", "account", "1", []string{"x-only"}},
		{"acme", "banking", "account", "1", []string{"banking-only"}},
		{"", "b_nk", "account", "1", []string{"wild"}},
		{"", "shop", "cart", "c1", []string{"added"}},
	}
	var cmds []*store.CommandWrite
	for i, a := range aggs {
		evs := make([]store.NewEvent, len(a.types))
		for j, typ := range a.types {
			evs[j] = store.NewEvent{ID: fmt.Sprintf("ev-%d-%d", i, j), Type: typ, Data: []byte(`{}`), Metadata: []byte(`{}`)}
		}
		n := int64(len(evs))
		cmds = append(cmds, &store.CommandWrite{
			Append: &store.EventsAppendParams{StreamKey: store.StreamKey{Tenant: a.tenant, Stream: a.domain + "." + a.resource + "/" + a.id},
				Events: evs},
			State: &store.StatePutParams{StateKey: store.StateKey{Tenant: a.tenant, Domain: a.domain, Resource: a.resource, ID: a.id},
				Data: []byte(`{}`), Version: n, ETag: fmt.Sprint(n), By: "test"},
		})
	}
	res, err := d.CommitCommands(ctx, cmds)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range res {
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}

	// A stream of the domain's name alone is none of its.
	mustAppend(t, d.Executor(), "bank", 0, []store.NewEvent{{ID: "bare", Type: "bare", Data: []byte(`{}`)}})

	want := []store.StateKey{
		{Tenant: "", Domain: "bank", Resource: "account", ID: "a1"},
		{Tenant: "", Domain: "bank", Resource: "account", ID: "a2"},
		{Tenant: "", Domain: "bank", Resource: "loan", ID: "l1"},
		{Tenant: "acme", Domain: "bank", Resource: "account", ID: "a1"},
		{Tenant: "globex", Domain: "bank", Resource: "loan", ID: "l9"},
	}
	all, err := ps.StreamsOf(ctx, "bank", nil, 0)
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("the aggregates of bank: %v %v, want %v", all, err, want)
	}
	for _, size := range []int{1, 2, 3} {
		var paged []store.StateKey
		var after *store.StateKey
		for range len(want) + 2 {
			page, err := ps.StreamsOf(ctx, "bank", after, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size {
				t.Fatalf("a page of %d at limit %d", len(page), size)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			k := page[len(page)-1]
			after = &k
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("pages of %d: %v, want %v", size, paged, want)
		}
	}
	if got, err := ps.StreamsOf(ctx, "bank", &want[len(want)-1], 10); err != nil || len(got) != 0 {
		t.Fatalf("after the last: %v %v", got, err)
	}
	if got, err := ps.StreamsOf(ctx, "nope", nil, 10); err != nil || len(got) != 0 {
		t.Fatalf("the aggregates of an unknown domain: %v %v", got, err)
	}
	if got, err := ps.StreamsOf(ctx, "b_nk", nil, 10); err != nil || len(got) != 1 || got[0].Domain != "b_nk" {
		t.Fatalf("the aggregates of b_nk: %v %v", got, err)
	}

	for domain, want := range map[string][]string{
		"bank":    {"deposited", "granted", "opened", "repaid", "withdrawn"},
		"bank-x":  {"x-only"},
		"banking": {"banking-only"},
		"b_nk":    {"wild"},
		"b":       {},
		"ban":     {},
		"nope":    {},
	} {
		got, err := ps.EventTypesOf(ctx, domain)
		if err != nil || len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Fatalf("the event types of %s: %v %v, want %v", domain, got, err, want)
		}
	}
}
