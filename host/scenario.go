package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"fluvius.dev/fluvius/sdk/scenario"
	"fluvius.dev/fluvius/store"
)

// ScenarioEngine runs the harness's scenarios against a plugin of a
// throwaway host (one whose store holds nothing else): commands and folds
// go to the guest, and the aggregates a handler scenario gives are written
// to the host's store, each scenario's in a tenant of its own, so the
// handler reads them as committed state.
func ScenarioEngine(p *Plugin) scenario.Engine { return scenarioEngine{p} }

type scenarioEngine struct{ *Plugin }

func (e scenarioEngine) Seed(ctx context.Context, states []scenario.Seeded) (string, func(), error) {
	var b [8]byte
	rand.Read(b[:])
	tenant := "scenario-" + hex.EncodeToString(b[:])
	x := e.host.cfg.Store.Executor()
	for _, s := range states {
		if _, err := x.StatePut(ctx, &store.StatePutParams{StateKey: store.StateKey{Tenant: tenant, Domain: e.Domain(),
			Resource: s.Resource, ID: s.ID}, Data: s.State, Version: s.Version, ETag: ETag(s.Version), By: "scenario",
			Now: e.host.cfg.Now()}); err != nil {
			return "", nil, err
		}
	}
	return tenant, func() {}, nil
}
