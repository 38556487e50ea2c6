package host_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fluvius.dev/fluvius/host"
)

// hostileManifest declares one command, go, on a thing.
const hostileManifest = `{"abi_version":1,"domain":"hostile","meta":{"revision":1},` +
	`"aggregates":[{"name":"thing","resources":["thing"]}],` +
	`"commands":[{"name":"go","aggregate":"thing","resources":["thing"],"new":true}],"events":[]}`

// hostile is a hand-written plugin: a valid ABI v1 module whose parts can
// be replaced by misbehaving code.
type hostile struct {
	manifestJSON string // the manifest; hostileManifest if empty
	memory       string // the memory's limits
	manifest     string // fluvius_manifest's body
	handle       string // fluvius_handle's body
	extra        string // more module fields
}

func (h hostile) wat() string {
	if h.memory == "" {
		h.memory = "2"
	}
	if h.manifestJSON == "" {
		h.manifestJSON = hostileManifest
	}
	if h.manifest == "" {
		h.manifest = "(i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const " + strconv.Itoa(len(h.manifestJSON)) + "))"
	}
	if h.handle == "" {
		h.handle = "(i64.const 0)"
	}
	return `(module
  (memory (export "memory") ` + h.memory + `)
  (data (i32.const 1024) "` + strings.ReplaceAll(h.manifestJSON, `"`, `\"`) + `")
  (func (export "fluvius_abi_version") (result i32) (i32.const 1))
  (func (export "fluvius_buffer") (param i32) (result i32) (i32.const 65536))
  (func (export "fluvius_manifest") (result i64) ` + h.manifest + `)
  (func (export "fluvius_handle") (param i32 i32) (result i64) ` + h.handle + `)
  (func (export "fluvius_apply") (param i32 i32) (result i64) (i64.const 0))
  ` + h.extra + `
)`
}

// assemble turns WAT into a module with Debian's wat2wasm (wabt), which
// .ci/run installs; elsewhere its absence skips the test.
func assemble(t *testing.T, wat string) []byte {
	t.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI assembles the hostile modules with wat2wasm (apt-get install wabt)")
		}
		t.Skip("wat2wasm not found (apt-get install wabt)")
	}
	dir := t.TempDir()
	src, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(src, []byte(wat), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(tool, "--enable-all", src, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s\n%s", err, msg, wat)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// Hand-written hostile modules cost one instance each, at load as at run
// time: every one is stopped by fuel or refused with a clear message, in
// bounded time, and a well-behaved plugin keeps serving throughout.
func TestHostileModules(t *testing.T) {
	loop := "(loop $l (br $l)) (unreachable)"
	exponential := `(func $f (param i32) (result i32)
	  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
	    (else (i32.add (call $f (i32.sub (local.get 0) (i32.const 1))) (call $f (i32.sub (local.get 0) (i32.const 1)))))))`
	atLoad := []struct {
		name string
		mod  hostile
		want string
	}{
		{"a loop in _initialize", hostile{extra: `(func (export "_initialize") ` + loop + `)`}, "ran out of fuel"},
		{"a loop in fluvius_manifest", hostile{manifest: loop}, "ran out of fuel"},
		{"a loop in the start function", hostile{extra: `(func $s ` + loop + `) (start $s)`}, "instantiating"},
		{"an exponential call tree in _initialize", hostile{extra: exponential + `(func (export "_initialize") (drop (call $f (i32.const 60))))`}, "ran out of fuel"},
		{"a 300 KiB manifest", hostile{memory: "10", manifest: "(i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 307200))"}, "at most 262144"},
		{"a manifest outside memory", hostile{manifest: "(i64.const 0x7fff000000000010)"}, "outside guest memory"},
	}
	atRun := []struct {
		name string
		mod  hostile
	}{
		{"a loop", hostile{handle: loop}},
		{"unbounded recursion", hostile{handle: "(call $r) (unreachable)", extra: `(func $r (call $r))`}},
		{"an exponential call tree without a loop", hostile{handle: "(drop (call $f (i32.const 60))) (unreachable)", extra: exponential}},
		{"a table.fill over a large table", hostile{handle: "(table.fill 0 (i32.const 0) (ref.null func) (i32.const 60000)) (unreachable)",
			extra: "(table 60000 60000 funcref)"}},
		{"a memory.fill of 64 MiB", hostile{memory: "1024", handle: "(memory.fill (i32.const 0) (i32.const 1) (i32.const 67108864)) (unreachable)"}},
	}
	// A call of the hostile domain gets 500 units: less than one table.fill
	// of 60,000 elements (938) or a memory.fill of 64 MiB (a million) costs.
	e := newEnv(t, func(c *host.Config) { c.InitFuel, c.FuelByDomain = 50_000_000, map[string]int64{"hostile": 500} })
	for _, c := range atLoad {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := e.host.Load(ctx, "hostile.wasm", assemble(t, c.mod.wat()))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("loading: %v; want an error saying %q", err, c.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("refusing it took %v", took)
			}
			createUser(t, e.host, "ann@example.com")
		})
	}
	for _, c := range atRun {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.host.Load(ctx, "hostile.wasm", assemble(t, c.mod.wat())); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				_, err := e.host.Dispatch(ctx, &host.Command{Domain: "hostile", Name: "go", Resource: "thing", New: true})
				wantError(t, err, host.KindInternal, "plugin-fuel-exhausted")
			}
			if n := e.host.Plugin("hostile").Instances(); n != 0 {
				t.Fatalf("%d instances kept after they ran out of fuel", n)
			}
			createUser(t, e.host, "ann@example.com")
		})
	}
}

// A plugin needing what this host lacks is refused by naming the
// features, before any field this host does not know is read; what it
// requires and the host has loads.
func TestRequires(t *testing.T) {
	e := bareEnv(t, nil)
	manifest := func(requires, extra string) string {
		return `{"abi_version":1,"requires":` + requires + `,"domain":"hostile","meta":{"revision":1},` + extra +
			`"aggregates":[{"name":"thing","resources":["thing"],"roles":{"owner":"owner"}}],` +
			`"commands":[{"name":"go","aggregate":"thing","resources":["thing"],"new":true}],"events":[]}`
	}
	for name, c := range map[string]struct {
		manifest string
		want     []string
	}{
		"an unknown feature and a newer version": {manifest(`{"teleport":1,"aggregate-roles":2}`, `"teleportation":{},`),
			[]string{"aggregate-roles v2; this host has v1", "teleport v1, which this host does not have", "upgrade the host"}},
		"a version below 1": {manifest(`{"aggregate-roles":0}`, ""), []string{"versions start at 1"}},
	} {
		_, err := e.host.Load(ctx, "hostile.wasm", assemble(t, hostile{manifestJSON: c.manifest}.wat()))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want it to say %q", name, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s: the refusal names a field, not the features: %v", name, err)
		}
	}
	if _, err := e.host.Load(ctx, "hostile.wasm", assemble(t, hostile{manifestJSON: manifest(`{"aggregate-roles":1}`, "")}.wat())); err != nil {
		t.Fatalf("what the host has: %v", err)
	}
}
