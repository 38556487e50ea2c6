package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/sqlite"
)

// Everything a guest hands the host is bytes of its choosing: its manifest,
// its answers to handle, apply, on_event and run_job, and the requests it
// makes of the host functions. These targets feed the host's decoding and
// checking of each arbitrary bytes: it never panics, and what it accepts is
// what the host can store and answer.

// fuzzManifest uses what the host checks answers against: a state schema,
// a deleting command, roles, a query resource with a hidden field and a
// named query, a handler and jobs.
const fuzzManifest = `{"abi_version":1,"requires":{"query-resources":1,"jobs":1,"event-handlers":1},
"domain":"user","meta":{"revision":1,"title":"Users"},
"aggregates":[{"name":"user","resources":["user","member"],
 "state":{"type":"object","properties":{"email":{"type":"string"},"name":{"type":"string"},
  "status":{"type":"string","enum":["active","deactivated"]},"created_at":{"type":"integer"},
  "score":{"type":"number"},"vip":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}},
  "owner":{"type":"string"},"secret":{"type":"string"}},"required":["email","name","status"]},
 "roles":{"owner":"owner"},
 "query":{"fields":["name","email","status","created_at","score","vip","tags"],"sort":["name.asc"],
  "text":["name","email"],"hidden":["secret"],
  "named":{"active":{"filter":"{\"status\":\"active\"}","sort":"name.desc"}}}}],
"commands":[
 {"name":"create-user","aggregate":"user","evt_key":"user-created","resources":["user"],"new":true,
  "payload":{"type":"object","properties":{"email":{"type":"string","maxLength":254},"name":{"type":"string","minLength":1}},
   "required":["email","name"],"additionalProperties":false}},
 {"name":"update-user","aggregate":"user","evt_key":"user-updated","resources":["user","member"]},
 {"name":"delete-user","aggregate":"user","evt_key":"user-deleted","resources":["user"],"deletes":true}],
"events":[{"type":"user-created","aggregate":"user"},{"type":"user-updated","aggregate":"user"},
 {"type":"user-deleted","aggregate":"user"}],
"handlers":[{"name":"welcome","events":["user-created"]}],
"jobs":[{"name":"send-mail","max_attempts":3},{"name":"nightly","schedule":"0 3 * * *"}]}`

// fuzzFixture is a host on SQLite and a plugin of fuzzManifest that is
// not served (it has no module): the host functions and checks take it as
// the guest they answer.
type fuzzFixture struct {
	h    *Host
	p    *Plugin
	st   store.Driver
	logs *syncBuffer
}

// syncBuffer keeps what the host logs, to say why an input failed.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	f.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fluvius.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	logs := &syncBuffer{}
	h, err := New(ctx, Config{Store: st, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		st.Close()
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close(ctx); st.Close() })
	cm, err := decodeManifest([]byte(fuzzManifest))
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzFixture{h: h, st: st, logs: logs, p: &Plugin{host: h, id: strings.Repeat("ab", 32), manifest: cm}}
}

func encoded(fn func(e *abi.Encoder)) []byte {
	var e abi.Encoder
	fn(&e)
	return bytes.Clone(e.Bytes())
}

// FuzzGuestAnswer: a command's answer (handle's Result) is an error, or
// passes every check, and then the answer the host renders and the events
// and jobs it stores are what the guest said, as JSON.
func FuzzGuestAnswer(f *testing.F) {
	fx := newFuzzFixture(f)
	seeds := []abi.Result{
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{"email":"a@b.co","name":"Ann"}`)}},
			State: []byte(`{"email":"a@b.co","name":"Ann","status":"active"}`), Response: []byte(`{"ok":true}`)},
		{Events: []abi.Event{{Type: "user-updated", Data: []byte(`{}`)}, {Type: "user-updated", Data: []byte(`[1,2.5e300,"\u00e9"]`)}},
			State: []byte(` {"email":"","name":"\ud83d\ude00","status":"deactivated","tags":["x"]} `)},
		{Events: []abi.Event{{Type: "user-deleted", Data: []byte(`{}`)}}, State: []byte(`{"email":"a","name":"b","status":"active"}`), Deleted: true},
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{}`)}}, State: []byte(`{"email":"a","name":"b","status":"active"}`),
			Jobs:   []abi.IssuedJob{{Name: "send-mail", Args: []byte(`{"to":"a@b.co"}`), DelayMS: 1500, UniqueKey: "k1"}, {Name: "nightly", Args: []byte(`{}`)}},
			Attach: []string{"m1", "m2"}},
		{Status: abi.StatusDomainError, Error: abi.Error{Code: "invalid-email", Message: "no", Details: []byte(`{"field":"email"}`)}},
		{Status: abi.StatusInvalid, Error: abi.Error{Code: "bad", Details: []byte(`{"unterminated`)}},
		{Status: abi.StatusUnknownCommand}, {Status: 99, Error: abi.Error{Message: "\xff"}},
		{State: []byte(`{"x":1}`)}, {State: []byte(`not json`)}, {State: []byte{}, Response: []byte{}},
		{Events: []abi.Event{{Type: "undeclared", Data: []byte(`{}`)}}, State: []byte(`{}`)},
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{"a":`)}}, State: []byte(`{}`)},
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{}`)}}, State: []byte(`{"email":1,"name":"b","status":"gone"}`)},
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{}`)}}, State: []byte(`{"email":"a","email":"b","name":"c","status":"active"}`)},
		{Events: []abi.Event{{Type: "user-created", Data: []byte(`{}`)}}, State: []byte(`{"email":"a","name":"b","status":"active"}`),
			Jobs: []abi.IssuedJob{{Name: "send-mail", Args: []byte(`[]`)}, {Name: "nope", Args: []byte(`{}`)}, {Name: "send-mail", Args: []byte(`{}`), DelayMS: 1 << 63}}},
	}
	for i, r := range seeds {
		f.Add(uint8(i), encoded(r.Encode))
	}
	// Found by fuzzing the outbox: a unique key that is not UTF-8 came back
	// as another key; a NUL one fails PostgreSQL's jsonb.
	for _, key := range []string{"\xff1", "k\x00", "k\n"} {
		f.Add(uint8(0), encoded((&abi.Result{Events: []abi.Event{{Type: "user-created", Data: []byte(`{}`)}},
			State: []byte(`{"email":"a","name":"b","status":"active"}`), Jobs: []abi.IssuedJob{{Name: "send-mail", Args: []byte(`{}`), UniqueKey: key}}}).Encode))
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(0), []byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f})                                     // an event longer than the answer
	f.Add(uint8(1), []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}) // an 11-byte varint
	f.Add(uint8(2), []byte{0x13, 0x00})                                                             // wire type 3
	f.Add(uint8(2), bytes.Repeat([]byte{0x42, 0x00}, abi.MaxAttach+1))                              // too many attachments
	f.Add(uint8(2), bytes.Repeat([]byte{0x3a, 0x00}, abi.MaxIssuedJobs+1))                          // too many jobs
	f.Fuzz(func(t *testing.T, command uint8, answer []byte) {
		p, h := fx.p, fx.h
		spec := &p.manifest.Commands[int(command)%len(p.manifest.Commands)]
		var res abi.Result
		if err := res.Decode(answer); err != nil {
			return
		}
		if len(res.Attach) > abi.MaxAttach || len(res.Jobs) > abi.MaxIssuedJobs {
			t.Fatalf("decoded %d attachments and %d jobs", len(res.Attach), len(res.Jobs))
		}
		if err := statusError(p, spec, &res); err != nil {
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("a refusal is not a host error: %v", err)
			}
			// The HTTP layer renders the details into its problem body.
			if _, err := json.Marshal(he.Details); err != nil {
				t.Fatalf("a refusal's details do not render: %v", err)
			}
			return
		}
		if h.checkLimits(p, spec.Name, &res) != nil || checkResult(p, spec, &res) != nil {
			return
		}
		// Accepted: the answer is rendered as attempt renders it.
		at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		body := commandBody{ID: "u1", Resource: spec.Resources[0], Data: res.Response, Events: []EventView{}, Version: int64(len(res.Events)), ETag: "1"}
		if body.Data == nil {
			body.Data = res.State
		}
		for i, ev := range res.Events {
			body.Events = append(body.Events, EventView{ID: "e", Type: ev.Type, Version: int64(i + 1), Data: ev.Data, CreatedAt: at})
		}
		if out := body.appendJSON(nil); !json.Valid(out) {
			t.Fatalf("an accepted answer renders as invalid JSON: %q", out)
		}
		if len(res.Jobs) == 0 {
			return
		}
		// The jobs travel in the first event's metadata, the outbox the
		// queue reads them back from.
		meta, err := json.Marshal(eventMetadata{CommandID: "c", Command: spec.Name, PluginSHA256: p.id, Jobs: viewJobs(res.Jobs)})
		if err != nil {
			t.Fatalf("the jobs of an accepted answer do not encode: %v", err)
		}
		got := h.EnqueuedJobs(&store.Event{ID: "e", Stream: Stream("user", "user", "u1"), Tenant: "acme", Metadata: meta})
		if len(got) != len(res.Jobs) {
			t.Fatalf("%d jobs enqueued, %d read back from the outbox", len(res.Jobs), len(got))
		}
		for i, j := range res.Jobs {
			g := got[i]
			if g.Name != j.Name || g.Delay != time.Duration(j.DelayMS)*time.Millisecond || !sameJSON(g.Args, j.Args) ||
				j.UniqueKey != "" && g.UniqueKey != j.UniqueKey {
				t.Fatalf("job %d enqueued as %+v, read back as %+v", i, j, g)
			}
		}
	})
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// recordingQueue is a job queue that keeps what it is given.
type recordingQueue struct{ jobs []QueuedJob }

func (q *recordingQueue) Enqueue(_ context.Context, jobs []QueuedJob) error {
	q.jobs = append(q.jobs, jobs...)
	return nil
}

// FuzzHandlerResult: an event handler's or a job's answer (on_event's and
// run_job's HandlerResult) is an error, or its jobs are enqueued as
// declared, each a JSON object under a unique key.
func FuzzHandlerResult(f *testing.F) {
	fx := newFuzzFixture(f)
	q := &recordingQueue{}
	fx.h.SetJobQueue(q)
	for _, r := range []abi.HandlerResult{
		{}, {Status: abi.StatusFailed, Error: abi.Error{Code: "boom", Message: "failed"}}, {Status: 7},
		{Jobs: []abi.IssuedJob{{Name: "send-mail", Args: []byte(`{"to":"a"}`), UniqueKey: "k"}, {Name: "nightly", Args: []byte(` { } `), DelayMS: 60000}}},
		{Jobs: []abi.IssuedJob{{Name: "send-mail", Args: []byte(`[]`)}, {Name: "send-mail", Args: []byte(`{}`), UniqueKey: strings.Repeat("k", 201)}}},
		{Commands: []abi.IssuedCommand{{Name: "update-user", Resource: "user", AggregateID: "u1", Payload: []byte(`{}`)}, {Domain: "other", Name: "x"}}},
	} {
		f.Add(encoded(r.Encode))
	}
	f.Add([]byte{})
	// Found by fuzzing: null arguments passed as a JSON object.
	f.Add([]byte("\"\x91\x00\n\tsend-mail\x12\x04null"))
	f.Add(bytes.Repeat([]byte{0x12, 0x00}, abi.MaxIssuedCommands+1))
	f.Add(bytes.Repeat([]byte{0x22, 0x00}, abi.MaxIssuedJobs+1))
	f.Fuzz(func(t *testing.T, answer []byte) {
		var res abi.HandlerResult
		if err := res.Decode(answer); err != nil {
			return
		}
		if len(res.Commands) > abi.MaxIssuedCommands || len(res.Jobs) > abi.MaxIssuedJobs {
			t.Fatalf("decoded %d commands and %d jobs", len(res.Commands), len(res.Jobs))
		}
		// The commands are sent through Dispatch, which checks them as a
		// client's; the jobs are the host's to check before anything is.
		res.Commands = nil
		q.jobs = q.jobs[:0]
		as := abi.Caller{UserID: HandlerSubject("user", "welcome"), Tenant: "acme"}
		_, err := fx.h.issue(context.Background(), fx.p, &res, as, "handler user.welcome", "handler:user.welcome:e1", "e1", "c1")
		if err != nil {
			if he := AsError(err); he.Kind != KindInternal || len(q.jobs) > 0 {
				t.Fatalf("a refused answer: %v (kind %v), %d jobs enqueued", err, he.Kind, len(q.jobs))
			}
			return
		}
		if len(q.jobs) != len(res.Jobs) {
			t.Fatalf("%d jobs issued, %d enqueued", len(res.Jobs), len(q.jobs))
		}
		for _, j := range q.jobs {
			var obj map[string]json.RawMessage
			spec := fx.p.manifest.jobs[j.Name]
			if spec == nil || j.MaxAttempts != spec.MaxAttempts || json.Unmarshal(j.Args, &obj) != nil || obj == nil || j.UniqueKey == "" ||
				j.Tenant != "acme" || j.Domain != "user" {
				t.Fatalf("enqueued %+v", j)
			}
		}
	})
}

// FuzzApplyResult: a fold's answer (apply's ApplyResult) decodes or not,
// and a state read projects what it folded to without panicking; JSON in,
// JSON out.
func FuzzApplyResult(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, r := range []abi.ApplyResult{
		{State: []byte(`{"email":"a","name":"b","status":"active","secret":"s"}`)},
		{State: []byte(`{"secret":{"nested":[1,{"secret":2}]},"name":"\u00e9"}`)},
		{State: []byte(`[1,2]`)}, {State: []byte(`{"a":1} trailing`)}, {State: []byte(`{"a":`)}, {State: []byte(`{"a" 1}`)},
		{Status: abi.StatusFailed, Error: abi.Error{Code: "x", Message: "y"}},
	} {
		f.Add(encoded(r.Encode))
	}
	f.Add([]byte{})
	res := fx.p.manifest.queries["user"]
	f.Fuzz(func(t *testing.T, answer []byte) {
		var r abi.ApplyResult
		if err := r.Decode(answer); err != nil || r.Status != abi.StatusOK {
			return
		}
		out, err := res.Project(r.State)
		if err == nil && json.Valid(r.State) && !json.Valid(out) {
			t.Fatalf("state %q projects as invalid JSON %q", r.State, out)
		}
		if err == nil && bytes.Contains(out, []byte(`"secret"`)) && json.Valid(out) {
			var top map[string]json.RawMessage
			if json.Unmarshal(out, &top) == nil && top["secret"] != nil {
				t.Fatalf("state %q projects with its hidden field: %q", r.State, out)
			}
		}
	})
}

// guestMemory is a module with nothing but two pages of exported memory:
// the guest whose memory the host functions read requests from and write
// answers into.
var guestMemory = []byte("\x00asm\x01\x00\x00\x00" +
	"\x05\x03\x01\x00\x02" + // memory section: one memory, at least two pages
	"\x07\x0a\x01\x06memory\x02\x00") // export section: "memory", memory 0

// Where the fuzzed request sits in the guest's memory, and where answers
// are taken to.
const (
	requestAt  = 0x100
	responseAt = 0x10000
)

// The host functions a guest calls, with the answer each gives.
var hostFunctions = []struct {
	name   string
	fn     func(h *Host) api.GoModuleFunc
	answer func() interface{ Decode([]byte) error }
}{
	{abi.FuncStateGet, func(h *Host) api.GoModuleFunc { return h.stateGet }, func() interface{ Decode([]byte) error } { return &abi.StateRecord{} }},
	{abi.FuncMediaGet, func(h *Host) api.GoModuleFunc { return h.mediaGet }, func() interface{ Decode([]byte) error } { return &abi.MediaInfo{} }},
	{abi.FuncQueryList, func(h *Host) api.GoModuleFunc { return h.queryList }, func() interface{ Decode([]byte) error } { return &abi.QueryResult{} }},
	{abi.FuncCan, func(h *Host) api.GoModuleFunc { return h.can }, nil},
	{abi.FuncLogWrite, func(h *Host) api.GoModuleFunc { return h.logWrite }, nil},
}

// FuzzHostImports: the requests a guest sends the host functions
// (fluvius_state_v1.get, fluvius_media_v1.get, fluvius_query_v1.list,
// fluvius_authz_v1.can, fluvius_log_v1.write), at any address and length:
// each is refused with a host error or answered with an envelope that
// decodes and that take_response hands over. The store is up, so it never
// fails: a query the host lets through is one the store can run.
func FuzzHostImports(f *testing.F) {
	fx := newFuzzFixture(f)
	ctx := context.Background()
	mod, err := fx.h.rt.InstantiateWithConfig(ctx, guestMemory, wazero.NewModuleConfig().WithName("fuzz-guest"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	for i, data := range []string{
		`{"email":"ann@acme.com","name":"Ann Lee","status":"active","created_at":5,"score":1.5,"vip":true,"tags":["ops"],"owner":"ann","secret":"s"}`,
		`{"email":"bob@acme.com","name":"bob","status":"deactivated","created_at":7,"score":-2,"vip":false,"tags":[],"owner":"bob"}`,
		`{"email":"carl@acme.com","name":"Carl","status":"active","created_at":9,"tags":["dev","ops"]}`,
	} {
		if _, err := fx.st.Executor().StatePut(ctx, &store.StatePutParams{StateKey: store.StateKey{Tenant: "acme", Domain: "user", Resource: "user",
			ID: []string{"u1", "u2", "u3"}[i]}, Data: []byte(data), Version: 1, ETag: "1", By: "ann", Now: now}); err != nil {
			f.Fatal(err)
		}
	}
	seeds := [][]byte{
		encoded((&abi.StateGetRequest{Resource: "user", ID: "u1"}).Encode),
		encoded((&abi.StateGetRequest{Resource: "nope", ID: "\x00"}).Encode),
		encoded((&abi.MediaGetRequest{ID: "m1"}).Encode),
		encoded((&abi.MediaGetRequest{ID: strings.Repeat("m", 300)}).Encode),
		encoded((&abi.QueryRequest{Resource: "user", Filter: `{"name.has":"lee","tags.cs":["ops"]}`, Sort: "name.desc", Limit: 2}).Encode),
		encoded((&abi.QueryRequest{Resource: "user", Filter: `{".or":[{"score.gt":1e308},{"created_at.between":[1,9]}],"_created_at.lt":"2999-01-01T00:00:00Z"}`}).Encode),
		encoded((&abi.QueryRequest{Resource: "user", Text: "ann lee", Limit: 101}).Encode),
		encoded((&abi.QueryRequest{Resource: "user", Filter: `{"vip":true,"email.in":["a","b"],"status.null":false}`, Sort: "score,vip.desc"}).Encode),
		encoded((&abi.QueryRequest{Resource: "member", Filter: `{"name.has":"%_\\"}`}).Encode),
		encoded((&abi.QueryRequest{Resource: "other"}).Encode),
		encoded((&abi.CanRequest{Action: "run", Object: "user:create-user"}).Encode),
		[]byte("log line \xff"),
	}
	for i, s := range seeds {
		f.Add(uint8(i%len(hostFunctions)), uint32(0), false, s)
	}
	for i := range hostFunctions {
		f.Add(uint8(i), uint32(0xffffffff), false, seeds[4])
		f.Add(uint8(i), uint32(0), true, seeds[0])
	}
	f.Fuzz(func(t *testing.T, which uint8, junk uint32, overrun bool, request []byte) {
		if len(request) > responseAt-requestAt {
			return
		}
		fn := hostFunctions[int(which)%len(hostFunctions)]
		if !mod.Memory().Write(requestAt, request) {
			t.Fatal("writing the request")
		}
		// i32 arguments come in 64-bit slots whose upper half may be
		// anything.
		n := uint64(len(request))
		if overrun {
			n = 0xffffff00
		}
		stack := []uint64{uint64(junk)<<32 | requestAt, uint64(junk)<<32 | n}
		if fn.name == abi.FuncLogWrite {
			stack = []uint64{uint64(junk), stack[0], stack[1]}
		}
		cs := &callState{plugin: fx.p, tenant: "acme", caller: abi.Caller{UserID: "ann", Tenant: "acme"}, readState: junk&1 == 0,
			resource: "user", state: []byte(`{"owner":"ann"}`)}
		cctx := context.WithValue(ctx, callKey{}, cs)
		fx.logs.take()
		fn.fn(fx.h)(cctx, mod, stack)
		if fn.answer == nil {
			return
		}
		got := int64(stack[0])
		switch {
		case got == int64(abi.HostErrUnavailable):
			t.Fatalf("%s failed on an up store: %s", fn.name, fx.logs.take())
		case got < 0:
			if got != int64(abi.HostErrNotFound) && got != int64(abi.HostErrBadRequest) || cs.pending != nil {
				t.Fatalf("%s answered %d (%d bytes pending)", fn.name, got, len(cs.pending))
			}
			return
		case got != int64(len(cs.pending)):
			t.Fatalf("%s answered %d with %d bytes pending", fn.name, got, len(cs.pending))
		}
		pending := bytes.Clone(cs.pending)
		if err := fn.answer().Decode(pending); err != nil {
			t.Fatalf("%s's answer does not decode: %v", fn.name, err)
		}
		if len(pending) == 0 {
			return // an empty answer: the guest has nothing to take
		}
		take := []uint64{uint64(junk)<<32 | responseAt, uint64(junk)<<32 | uint64(len(pending))}
		takeResponse(cctx, mod, take)
		if took, _ := mod.Memory().Read(responseAt, uint32(len(pending))); int64(take[0]) != int64(len(pending)) || !bytes.Equal(took, pending) || cs.pending != nil {
			t.Fatalf("take_response answered %d of %d bytes", int64(take[0]), len(pending))
		}
	})
}

// FuzzGuestManifest: what manifest returns is a manifest the host can
// serve, or an error; one it accepts compiles its payload validators and
// query resources, which take any payload and any query.
func FuzzGuestManifest(f *testing.F) {
	f.Add([]byte(fuzzManifest))
	f.Add([]byte(`{"abi_version":1,"domain":"x","meta":{"revision":1},"aggregates":[{"name":"a","resources":["a"]}],"commands":[{"name":"c","aggregate":"a","resources":["a"]}],"events":[]}`))
	f.Add([]byte(`{"abi_version":1,"requires":{"teleport":3},"domain":"x"}`))
	f.Add([]byte(`{"abi_version":1,"requires":{"jobs":0}}`))
	f.Add([]byte(`{"abi_version":1,"domain":"x","domain":"y"}`))
	f.Add([]byte(`{"abi_version":1,"domain":"x","future":true}`))
	f.Add([]byte(`{"abi_version":1,"domain":"x","meta":{"revision":1},"aggregates":[{"name":"a","resources":["a"],"state":{"type":"object","properties":{"n":{"type":"array","items":{"type":"array"}}}},"query":{"fields":["n"],"named":{"q":{"filter":"{\"n.cs\":[1]}"}}}}],"commands":[],"events":[]}`))
	f.Add([]byte(`{"abi_version":1,"domain":"x","meta":{"revision":1},"aggregates":[{"name":"a","resources":["a"]}],"commands":[{"name":"c","aggregate":"a","resources":["a"],"payload":{"type":"object","properties":{"s":{"type":"string","pattern":"(a+)+$","format":"email","minLength":-1}}}}],"events":[],"jobs":[{"name":"j","schedule":"TZ=x 0 0 * * *","max_attempts":-1}]}`))
	// Found by fuzzing: a schedule of "TZ=" panicked the cron parser.
	f.Add([]byte(`{"ABi_version":1,"domAin":"a","AggregAtes":[{"nAme":"a","resourCes":["a"]}],"CommAnds":[{"nAme":"a","AggregAte":"a","resourCes":["a"],"pAYloAd":{"tYpe":"object","properties":{"":{"tYpe":"string","minLength":10}}}}],"joBs":[{"nAme":"a","sChedule":"TZ="}]}`))
	for _, schedule := range []string{"TZ=", "CRON_TZ=UTC", "TZ=UTC 0 3 * * *", "TZ=../../etc/passwd 0 3 * * *", "@every 1s", "@yearly", "*/0 * * * *", "0 0 31 2 *"} {
		f.Add([]byte(`{"abi_version":1,"domain":"x","meta":{"revision":1},"aggregates":[],"commands":[],"events":[],"jobs":[{"name":"j","schedule":"` + schedule + `"}]}`))
	}
	f.Add([]byte(strings.Repeat(`{"a":`, 100)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		cm, err := decodeManifest(raw)
		if err != nil {
			if he := AsError(err); he.Kind != KindInvalid || he.Code != "manifest-invalid" {
				t.Fatalf("a refused manifest is %v %s: %v", he.Kind, he.Code, err)
			}
			return
		}
		// Served: /_meta answers it, payloads are checked with its
		// validators and lists parse against its resources.
		if _, err := json.Marshal(cm.Manifest); err != nil {
			t.Fatalf("an accepted manifest does not encode: %v", err)
		}
		for _, c := range cm.Commands {
			if cm.payloads[c.Name] == nil {
				t.Fatalf("command %s has no payload validator", c.Name)
			}
			validatePayload(cm.payloads[c.Name], c.Name, []byte(`{"a":[1,"x",{"b":null}],"s":"x"}`))
		}
		for _, r := range cm.queries {
			for name := range r.Named {
				r.Parse(query.Request{Named: name, Limit: "2"})
			}
		}
	})
}
