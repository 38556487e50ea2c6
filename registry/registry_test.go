package registry_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
)

// A domain's life: uploaded (twice: the second is the same version),
// activated, rebuilt, refused by verification (a changed applier, a lost
// applier) unless forced, rolled back to the previous and to a named
// version, disabled, served again; a version in use cannot be deleted.
func TestLifecycle(t *testing.T) { onDrivers(t, testLifecycle) }

func testLifecycle(t *testing.T, where string) {
	r := newRig(t, where, t.TempDir(), registry.Options{})
	v1 := r.upload(t, tally)
	if v1.Version != 1 || v1.Status != store.PluginUploaded || v1.Domain != "tally" || v1.Toolchain != "go" || v1.ABIVersion != 1 {
		t.Fatalf("first upload: %+v", v1)
	}
	again, err := r.reg.Upload(ctx, registry.Upload{Module: tally, Actor: "ops"})
	if err != nil || !again.Existed || again.Version.Version != 1 {
		t.Fatalf("the same module again: %+v %v", again, err)
	}
	r.reg.Release(again)
	wantCode(t, r.send("open", "", 1), host.KindNotFound, "unknown-domain")

	if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	ids := r.open(t, 30)
	for _, id := range ids[:10] {
		if err := r.send("add", id, 5); err != nil {
			t.Fatal(err)
		}
	}
	// A rebuild behaves the same: verified against every stream.
	v2 := r.upload(t, tallySame)
	a, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v2.Version, Actor: "ops"})
	if err != nil || a.Report.Checked != 30 || !a.Report.OK() || a.Previous != 1 {
		t.Fatalf("activating a rebuild: %+v %v", a, err)
	}
	if r.host.Plugin("tally").SHA256() != v2.SHA256 {
		t.Fatal("the host does not serve the activated version")
	}
	// A changed applier: every stream rebuilds differently.
	v3 := r.upload(t, tallyDouble)
	_, err = r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v3.Version, Actor: "ops"})
	he := wantCode(t, err, host.KindConflict, "verification-failed")
	rep := he.Details.(*registry.Report)
	if rep.Differing != 30 || rep.Checked != 30 || len(rep.Cases) != 20 || rep.Cases[0].Stored == nil || rep.Cases[0].Rebuilt == nil {
		t.Fatalf("report: %+v", rep)
	}
	if got, _ := r.reg.Version(ctx, "tally", v3.Version); got.Status != store.PluginFailed {
		t.Fatalf("a refused version is %s", got.Status)
	}
	if r.host.Plugin("tally").SHA256() != v2.SHA256 {
		t.Fatal("a refused version is served")
	}
	if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v3.Version, Actor: "ops", Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if r.host.Plugin("tally").SHA256() != v3.SHA256 {
		t.Fatal("the forced version is not served")
	}
	// Back to the previous one.
	back, err := r.reg.Rollback(ctx, registry.Activation{Domain: "tally", Actor: "ops"})
	if err != nil || back.Version.Version != v2.Version || back.Previous != v3.Version {
		t.Fatalf("rollback: %+v %v", back, err)
	}
	// A version without an applier for stored events is refused before
	// anything is replayed.
	v4 := r.upload(t, tallyRenamed)
	_, err = r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v4.Version, Actor: "ops"})
	he = wantCode(t, err, host.KindConflict, "verification-failed")
	if rep := he.Details.(*registry.Report); !slices.Equal(rep.MissingAppliers, []string{"added"}) || rep.Checked != 0 {
		t.Fatalf("report: %+v", rep)
	}
	// A named version; a stale revision is refused.
	d, _ := r.reg.Get(ctx, "tally")
	if _, err := r.reg.Rollback(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops", Revision: d.Revision + 1}); err == nil {
		t.Fatal("a stale revision was accepted")
	}
	if _, err := r.reg.Rollback(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops", Revision: d.Revision}); err != nil {
		t.Fatal(err)
	}
	if r.host.Plugin("tally").SHA256() != v1.SHA256 {
		t.Fatal("not rolled back to version 1")
	}
	wantCode(t, r.reg.DeleteVersion(ctx, "tally", 1, "ops"), host.KindConflict, "version-active")
	if err := r.reg.DeleteVersion(ctx, "tally", v3.Version, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.reg.Disable(ctx, "tally", "ops", 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.send("add", ids[0], 1), host.KindNotFound, "unknown-domain")
	if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := r.send("add", ids[0], 1); err != nil {
		t.Fatalf("served again: %v", err)
	}
	d, _ = r.reg.Get(ctx, "tally")
	var actions []string
	for _, e := range d.Audit {
		actions = append(actions, e.Action)
	}
	want := []string{"upload", "activate", "upload", "activate", "upload", "verify-failed", "activate", "rollback",
		"upload", "verify-failed", "rollback", "delete", "disable", "activate"}
	if !slices.Equal(actions, want) {
		t.Fatalf("history %q, want %q", actions, want)
	}
}

// Shadow verification replays a sample unless asked for all.
func TestVerifySample(t *testing.T) {
	r := newRig(t, t.TempDir(), t.TempDir(), registry.Options{VerifySample: 10})
	r.upload(t, tally)
	if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	r.open(t, 25)
	v := r.upload(t, tallySame)
	a, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v.Version, Actor: "ops"})
	if err != nil || a.Report.Checked != 10 || !a.Report.Sampled {
		t.Fatalf("sample: %+v %v", a.Report, err)
	}
	a, err = r.reg.Rollback(ctx, registry.Activation{Domain: "tally", Actor: "ops", VerifyAll: true})
	if err != nil || a.Report.Checked != 25 || a.Report.Sampled {
		t.Fatalf("all: %+v %v", a.Report, err)
	}
}

// What a host refuses to load is refused at upload, with a code saying
// why, and nothing is stored.
func TestUploadRefusals(t *testing.T) {
	r := newRig(t, t.TempDir(), t.TempDir(), registry.Options{MaxModuleBytes: int64(len(tally))})
	// A module importing a function no host module provides.
	foreign := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // one type: () -> ()
		"\x02\x09\x01\x03env\x01f\x00\x00") // import env.f
	for name, c := range map[string]struct {
		module []byte
		domain string
		kind   host.Kind
		code   string
	}{
		"not wasm":       {[]byte("#!/bin/sh\nrm -rf /\n"), "", host.KindInvalid, "not-wasm"},
		"truncated":      {tally[:len(tally)/2], "", host.KindInvalid, "module-refused"},
		"foreign import": {foreign, "", host.KindInvalid, "abi-mismatch"},
		"too large":      {append(slices.Clone(tally), 0), "", host.KindTooLarge, "module-too-large"},
		"another domain": {tally, "bank", host.KindConflict, "domain-mismatch"},
	} {
		_, err := r.reg.Upload(ctx, registry.Upload{Module: c.module, Domain: c.domain, Actor: "ops"})
		he := wantCode(t, err, c.kind, c.code)
		if he.Message == "" {
			t.Errorf("%s: no message", name)
		}
	}
	if list, err := r.reg.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("refused uploads left %d domains: %v", len(list), err)
	}
}

// Commands sent without pause through 20 activations and rollbacks: none
// fails, none is lost.
func TestNoFailedCommandsThroughActivations(t *testing.T) {
	r := newRig(t, t.TempDir(), t.TempDir(), registry.Options{})
	r.upload(t, tally)
	v2 := r.upload(t, tallySame)
	if _, err := r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: 1, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	ids := r.open(t, 4)
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.send("add", id, 1); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				sent.Add(1)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		var err error
		if i%2 == 0 {
			_, err = r.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v2.Version, Actor: "ops"})
		} else {
			_, err = r.reg.Rollback(ctx, registry.Activation{Domain: "tally", Actor: "ops"})
		}
		if err != nil {
			t.Fatalf("activation %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d commands failed; first: %v", failed.Load(), sent.Load(), firstErr.Load())
	}
	// Every add landed: the totals are what was sent.
	var total int64
	for i, id := range ids {
		rec, err := r.host.State(ctx, callerOf(i), "tally", "tally", id)
		if err != nil {
			t.Fatal(err)
		}
		total += rec.Version - 1
	}
	if total != sent.Load() {
		t.Fatalf("%d adds stored, %d sent", total, sent.Load())
	}
	t.Logf("%d commands through 20 activations, none failed", sent.Load())
}

// Two hosts on one PostgreSQL: what is activated on one is served by the
// other within a second; a disable there stops it here.
func TestHostsConverge(t *testing.T) {
	url, blobs := pgURL(t), t.TempDir()
	a := newRig(t, url, blobs, registry.Options{})
	b := newRig(t, url, blobs, registry.Options{})
	v := a.upload(t, tally)
	start := time.Now()
	if _, err := a.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v.Version, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.host.Plugin("tally") != nil })
	t.Logf("converged in %v", time.Since(start).Round(time.Millisecond))
	if err := b.send("open", "", 3); err != nil {
		t.Fatalf("the other host: %v", err)
	}
	if _, err := b.reg.Disable(ctx, "tally", "ops", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return a.host.Plugin("tally") == nil })
	// A host that starts later serves what the registry says.
	c := newRig(t, url, blobs, registry.Options{})
	if c.host.Plugin("tally") != nil {
		t.Fatal("a disabled domain is served by a new host")
	}
	if _, err := c.reg.Activate(ctx, registry.Activation{Domain: "tally", Version: v.Version, Actor: "ops"}); err != nil {
		t.Fatal(err)
	}
	d := newRig(t, url, blobs, registry.Options{})
	if d.host.Plugin("tally") == nil {
		t.Fatal("a new host does not serve the active version")
	}
}

// The plugins directory seeds an empty registry; once a domain has an
// active version, a module in the directory is registered but not served.
func TestSeed(t *testing.T) {
	where, blobs, plugins := t.TempDir(), t.TempDir(), t.TempDir()
	r := newRig(t, where, blobs, registry.Options{})
	writeFile(t, plugins, "tally.wasm", tally)
	if err := r.reg.Seed(ctx, plugins); err != nil {
		t.Fatal(err)
	}
	if r.host.Plugin("tally") == nil {
		t.Fatal("the seed is not served")
	}
	writeFile(t, plugins, "tally.wasm", tallySame)
	if err := r.reg.Seed(ctx, plugins); err != nil {
		t.Fatal(err)
	}
	d, err := r.reg.Get(ctx, "tally")
	if err != nil || len(d.Versions) != 2 || d.ActiveVersion != 1 {
		t.Fatalf("after a second seed: %+v %v", d, err)
	}
	// Two modules of one domain: neither is activated by the seed.
	empty := newRig(t, t.TempDir(), t.TempDir(), registry.Options{})
	writeFile(t, plugins, "tally-again.wasm", tally)
	if err := empty.reg.Seed(ctx, plugins); err == nil || empty.host.Plugin("tally") != nil {
		t.Fatalf("two modules of one domain: %v", err)
	}
}

// Scenarios run against an uploaded version in a throwaway host: the
// rebuilt tally passes, the one with a changed applier fails with the
// difference; each run is in the history; scenarios of another domain are
// refused.
func TestScenariosBeforeActivation(t *testing.T) {
	r := newRig(t, t.TempDir(), t.TempDir(), registry.Options{})
	good, bad := r.upload(t, tally), r.upload(t, tallyDouble)
	file := []byte(`{"domain": "tally", "scenarios": [
	  {"name": "adds", "given": [{"type": "added", "data": {"n": 2}}],
	   "when": {"command": "add", "resource": "tally", "payload": {"n": 3}},
	   "then": {"events": [{"type": "added", "data": {"n": 3}}], "state": {"n": 5}}},
	  {"name": "bounds", "when": {"command": "open", "resource": "tally", "payload": {"n": 5000}},
	   "then": {"error": {"code": "invalid-payload"}}}]}`)
	rep, err := r.reg.Test(ctx, "tally", good.Version, "ops", file)
	if err != nil || !rep.OK() || rep.Passed != 2 {
		t.Fatalf("the good version: %+v %v", rep, err)
	}
	if v, _ := r.reg.Version(ctx, "tally", good.Version); v.Status != store.PluginVerified {
		t.Fatalf("a version whose scenarios pass is %s", v.Status)
	}
	rep, err = r.reg.Test(ctx, "tally", bad.Version, "ops", file)
	if err != nil || rep.OK() || rep.Failed != 1 || rep.Scenarios[0].Passed ||
		!slices.Contains(rep.Scenarios[0].Failures, "state.n: want 5, got 10") {
		t.Fatalf("the changed version: %+v %v", rep, err)
	}
	_, err = r.reg.Test(ctx, "bank", good.Version, "ops", file)
	wantCode(t, err, host.KindInvalid, "invalid-scenarios")
	_, err = r.reg.Test(ctx, "tally", good.Version, "ops", []byte(`{"domain": "tally"`))
	wantCode(t, err, host.KindInvalid, "invalid-scenarios")
	_, err = r.reg.Test(ctx, "tally", 9, "ops", file)
	wantCode(t, err, host.KindNotFound, "version-not-found")
	d, _ := r.reg.Get(ctx, "tally")
	tests := 0
	for _, e := range d.Audit {
		if e.Action == "test" {
			tests++
		}
	}
	if tests != 2 {
		t.Fatalf("%d test runs in the history, want 2", tests)
	}
	if r.host.Plugin("tally") != nil {
		t.Fatal("testing served the domain")
	}
}
