package host_test

import (
	"testing"

	"fluvius.dev/fluvius/host"
)

// Two hosts share a store. Each caches the states it wrote; a host whose
// cached state another host has made stale still decides on the current
// state (its conditional write conflicts, it drops the entry and decides
// again), and If-Match is judged against the store, never the cache.
func TestStateCacheAcrossHosts(t *testing.T) { onDrivers(t, testStateCacheAcrossHosts) }

func testStateCacheAcrossHosts(t *testing.T, driver string) {
	a := newEnvOn(t, driver, nil)
	b, err := host.New(ctx, host.Config{Store: a.store, CacheDir: cacheDir, Logger: a.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if _, err := b.Load(ctx, "user.wasm", userWasm); err != nil {
		t.Fatal(err)
	}
	created := createUser(t, a.host, "ann@example.com") // A caches version 1
	update := func(h *host.Host, payload, ifMatch string) answer {
		t.Helper()
		_, got := dispatch(t, h, host.Command{Domain: "user", Name: "update-user", Resource: "user", AggregateID: created.ID,
			Payload: []byte(payload), IfMatch: ifMatch, Caller: alice})
		return got
	}
	update(b, `{"name":"Named by B"}`, "") // version 2, behind A's back
	got := update(a.host, `{"email":"new@example.com"}`, "")
	if got.Version != 3 || got.Data["name"] != "Named by B" || got.Data["email"] != "new@example.com" {
		t.Fatalf("A decided on its stale cache: %+v", got)
	}
	update(b, `{"name":"Again B"}`, "") // version 4
	if got := update(a.host, `{"name":"A with If-Match"}`, "4"); got.Version != 5 {
		t.Fatalf("If-Match 4 on version 4: %+v", got)
	}
	rec, err := a.host.State(ctx, alice, "user", "user", created.ID)
	if err != nil || rec.Version != 5 {
		t.Fatalf("stored %+v %v", rec, err)
	}
}
