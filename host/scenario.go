package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"fluvius.dev/fluvius/abi"
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

func (e scenarioEngine) Seed(ctx context.Context, states []scenario.Seeded, media []abi.MediaInfo) (string, func(), error) {
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
	if len(media) > 0 {
		ms, ok := e.host.cfg.Store.(store.MediaStore)
		if !ok {
			return "", nil, errors.New("the harness's store keeps no media")
		}
		for _, m := range media {
			if err := ms.MediaAdd(ctx, &store.Media{ID: m.ID, Tenant: tenant, Owner: m.Owner, Name: m.Name, Size: m.Size,
				ContentType: m.ContentType, SHA256: m.SHA256, BlobKey: "scenario/" + m.ID, CreatedAt: e.host.cfg.Now()}, ""); err != nil {
				return "", nil, err
			}
		}
	}
	return tenant, func() {}, nil
}
