package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/sdk/scenario"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlite"
)

// TestReport is what running scenarios against a version found.
type TestReport struct {
	Domain    string           `json:"domain"`
	Version   int64            `json:"version"`
	Passed    int              `json:"passed"`
	Failed    int              `json:"failed"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// ScenarioResult is one scenario's outcome: what differs, when it failed.
type ScenarioResult struct {
	Name     string   `json:"name"`
	Passed   bool     `json:"passed"`
	Failures []string `json:"failures"`
}

// OK reports whether every scenario passed.
func (t *TestReport) OK() bool { return t.Failed == 0 }

// maxScenarioFile bounds a scenario file sent to be run.
const maxScenarioFile = 4 << 20

// Test runs a scenario file (the harness's format) against a version,
// which need not be active, in a throwaway host beside the live one: its
// own runtime and an empty store of its own, so that the plugin sees
// nothing of the live data. The run is recorded in the domain's history.
func (r *Registry) Test(ctx context.Context, domain string, version int64, actor string, file []byte) (*TestReport, error) {
	if len(file) > maxScenarioFile {
		return nil, errorf(host.KindTooLarge, "scenarios-too-large", "the scenario file is %d bytes; at most %d are run", len(file), maxScenarioFile)
	}
	f, err := scenario.Parse(file, "scenarios")
	if err != nil {
		return nil, errorf(host.KindInvalid, "invalid-scenarios", "%s", err.Error())
	}
	if f.Domain != domain {
		return nil, errorf(host.KindInvalid, "invalid-scenarios", "the scenarios are for domain %s, not %s", f.Domain, domain)
	}
	v, err := r.Version(ctx, domain, version)
	if err != nil {
		return nil, err
	}
	sandbox, cleanup, err := r.sandbox(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	wasm, err := r.module(ctx, v)
	if err != nil {
		return nil, err
	}
	p, err := sandbox.Prepare(ctx, fmt.Sprintf("%s@%d", domain, version), wasm)
	if err != nil {
		return nil, err
	}
	defer sandbox.Discard(p)
	outcomes, err := scenario.Run(ctx, host.ScenarioEngine(p), f)
	if err != nil {
		return nil, errorf(host.KindInvalid, "invalid-scenarios", "%s", err.Error())
	}
	rep := &TestReport{Domain: domain, Version: version, Scenarios: make([]ScenarioResult, len(outcomes))}
	for i, o := range outcomes {
		failures := o.Failures
		if failures == nil {
			failures = []string{}
		}
		rep.Scenarios[i] = ScenarioResult{Name: o.Name, Passed: o.Passed(), Failures: failures}
		if o.Passed() {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	detail, _ := json.Marshal(map[string]any{"passed": rep.Passed, "failed": rep.Failed})
	a := r.audit(domain, version, "test", actor, detail)
	// An upload whose scenarios all pass is verified; the run is in the
	// history either way.
	if rep.OK() && v.Status == store.PluginUploaded {
		err = r.store.PluginVersionStatus(ctx, domain, version, store.PluginVerified, a)
	} else {
		err = r.store.PluginAuditAdd(ctx, a)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// sandbox starts a throwaway host on an empty SQLite store in a temporary
// directory, sharing this host's compilation cache.
func (r *Registry) sandbox(ctx context.Context) (*host.Host, func(), error) {
	dir, err := os.MkdirTemp("", "fluvius-sandbox-")
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "sandbox.db"), sqlite.Options{})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cfg := r.host.SandboxConfig()
	cfg.Store = st
	h, err := host.New(ctx, cfg)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return h, func() {
		h.Close(context.Background())
		st.Close()
		os.RemoveAll(dir)
	}, nil
}
