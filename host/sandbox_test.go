package host_test

import (
	"strings"
	"sync"
	"testing"

	"fluvius.dev/fluvius/host"
)

func thing(name, id string) *host.Command {
	return &host.Command{Domain: "faulty", Name: name, Resource: "thing", AggregateID: id}
}

// A guest that panics (Go's runtime exits the module) costs its instance;
// the host answers 500 and serves the next command on a fresh instance.
func TestTrapDiscardsInstance(t *testing.T) {
	e := newEnv(t, nil)
	dispatch(t, e.host, *thing("create", "a"))
	_, err := e.host.Dispatch(ctx, thing("panic", "a"))
	he := wantError(t, err, host.KindInternal, "plugin-failed")
	if !strings.Contains(he.Err.Error(), "deliberate panic") {
		t.Fatalf("the log line does not carry the guest's panic: %v", he.Err)
	}
	_, a := dispatch(t, e.host, *thing("touch", "a"))
	if a.Version != 2 {
		t.Fatalf("after the trap: %+v", a)
	}
	// Other domains never noticed.
	createUser(t, e.host, "ann@example.com")
}

// A guest that never returns runs out of fuel: it costs its instance, and
// the same command stops the same way every time.
func TestFuelStopsLoopingGuest(t *testing.T) {
	e := newEnv(t, func(c *host.Config) { c.Fuel = 50_000_000 })
	dispatch(t, e.host, *thing("create", "a"))
	for i := 0; i < 2; i++ {
		_, err := e.host.Dispatch(ctx, thing("spin", "a"))
		he := wantError(t, err, host.KindInternal, "plugin-fuel-exhausted")
		if !strings.Contains(he.Message, "50000000 units") {
			t.Fatalf("the problem does not name the budget: %s", he.Message)
		}
	}
	dispatch(t, e.host, *thing("touch", "a"))
}

// A guest that allocates without end hits the memory cap and traps.
func TestMemoryCapStopsHoardingGuest(t *testing.T) {
	e := newEnv(t, func(c *host.Config) { c.MemoryLimitPages = 256 }) // 16 MiB
	dispatch(t, e.host, *thing("create", "a"))
	_, err := e.host.Dispatch(ctx, thing("hoard", "a"))
	wantError(t, err, host.KindInternal, "plugin-failed")
	dispatch(t, e.host, *thing("touch", "a"))
}

// Many goroutines hammer one plugin while some of them crash instances:
// every command that was not meant to fail succeeds, and each is stored.
// (That the pool never lends an instance twice is TestPoolNeverLendsAnInstanceTwice.)
func TestPoolUnderLoadWithTraps(t *testing.T) {
	e := newEnv(t, func(c *host.Config) { c.MaxInstances = 3; c.MaxConflictRetries = 100 })
	dispatch(t, e.host, *thing("create", "a"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	touched := 0
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if (g+i)%7 == 0 {
					if _, err := e.host.Dispatch(ctx, thing("panic", "a")); err == nil {
						t.Error("a panicking command succeeded")
					}
					continue
				}
				if _, err := e.host.Dispatch(ctx, thing("touch", "a")); err != nil {
					t.Errorf("touch: %v", err)
					continue
				}
				mu.Lock()
				touched++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rec, _ := e.host.State(ctx, nobody, "faulty", "thing", "a")
	if rec.Version != int64(1+touched) {
		t.Fatalf("version %d after %d touches", rec.Version, touched)
	}
}

// Loading a new module for a domain swaps it in; commands keep working and
// the old plugin is retired.
func TestReloadSwapsPlugin(t *testing.T) {
	e := newEnv(t, nil)
	old := e.host.Plugin("user")
	created := createUser(t, e.host, "ann@example.com")
	p, err := e.host.Load(ctx, "user-again.wasm", userWasm)
	if err != nil {
		t.Fatal(err)
	}
	if e.host.Plugin("user") != p || p == old || p.Source() != "user-again.wasm" {
		t.Fatal("the new plugin is not active")
	}
	if old.Instances() != 0 {
		t.Fatalf("the retired plugin keeps %d instances", old.Instances())
	}
	dispatch(t, e.host, host.Command{Domain: "user", Name: "update-user", Resource: "user",
		AggregateID: created.ID, Payload: []byte(`{"name":"Swapped"}`)})
}

func TestRejectsModulesThatAreNotPlugins(t *testing.T) {
	e := newEnv(t, nil)
	// A module importing env.foo and exporting nothing, assembled by hand.
	foreign := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
		0x02, 0x0b, 0x01, 0x03, 'e', 'n', 'v', 0x03, 'f', 'o', 'o', 0x00, 0x00, // import env.foo
	}
	cases := map[string]struct {
		wasm []byte
		want []string
	}{
		"not wasm":       {[]byte("hello, world"), []string{"not a WebAssembly module"}},
		"truncated":      {userWasm[:len(userWasm)/2], []string{"unexpected end"}},
		"foreign module": {foreign, []string{`unknown host module "env"`, "does not export fluvius_handle", `memory as "memory"`}},
	}
	for name, c := range cases {
		_, err := e.host.Load(ctx, name, c.wasm)
		if err == nil {
			t.Fatalf("%s: loaded", name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
	}
	// Too big.
	small := bareEnv(t, func(c *host.Config) { c.MaxModuleBytes = 1000 })
	if _, err := small.host.Load(ctx, "user.wasm", userWasm); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized module: %v", err)
	}
	// A failed load leaves the serving plugin alone.
	createUser(t, e.host, "ann@example.com")
}

// Closing a host while modules compile and load waits for them instead of
// pulling the runtime from under them; those that come later are refused.
func TestCloseWhileCompiling(t *testing.T) {
	e := bareEnv(t, func(c *host.Config) { c.CacheDir = t.TempDir() })
	done := make(chan error, 2)
	go func() { done <- e.host.Precompile(ctx, userWasm) }()
	go func() { _, err := e.host.Prepare(ctx, "user.wasm", userWasm); done <- err }()
	e.host.Close(ctx)
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil && !strings.Contains(err.Error(), "shutting down") {
			t.Errorf("a compile racing Close: %v", err)
		}
	}
	if _, err := e.host.Prepare(ctx, "user.wasm", userWasm); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("a load after Close: %v", err)
	}
}
