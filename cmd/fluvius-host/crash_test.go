package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fluvius.dev/fluvius/store/postgres/pgtest"
)

// sentCommand is one command the load sent, and what became of it.
type sentCommand struct {
	kind    *aggregateKind
	key     string // its Idempotency-Key, and its X-Correlation-ID
	command string
	id      string // the aggregate; for a create, known once answered
	create  bool   // sent to :new
	body    string
	events  int // events it appends when it applies

	status   int    // 0: no answer (connection refused, reset, cut short)
	err      string // why there was no answer, or what was wrong with it
	answer   []byte
	version  int64
	answered []answeredEvent
	replayed bool   // answered from the idempotency record
	upstream string // the hosts nginx tried, in order
}

type answeredEvent struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

func (c *sentCommand) acked() bool { return c.status >= 200 && c.status < 300 && c.err == "" }

func (c *sentCommand) path() string {
	id := c.id
	if c.create {
		id = ":new"
	}
	return "/" + c.kind.domain + ":" + c.command + "/" + c.kind.resource + "/" + id
}

// send posts the command and records the outcome. The key goes in as the
// X-Correlation-ID as well: the host keeps that in every event's metadata,
// so the stored events say which request made them.
func (c *sentCommand) send(client *http.Client, base string) {
	req, err := http.NewRequest("POST", base+c.path(), strings.NewReader(c.body))
	if err != nil {
		c.status, c.err = 0, err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", c.key)
	req.Header.Set("X-Correlation-ID", c.key)
	res, err := client.Do(req)
	if err != nil {
		c.status, c.err = 0, err.Error()
		return
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.status, c.err = 0, "answer cut short: "+err.Error()
		return
	}
	c.status, c.err, c.answer = res.StatusCode, "", body
	c.replayed = res.Header.Get("Idempotent-Replayed") == "true"
	c.upstream = res.Header.Get("X-Upstream")
	if !c.acked() {
		return
	}
	var a struct {
		ID      string          `json:"id"`
		Version int64           `json:"version"`
		Events  []answeredEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" || (c.id != "" && a.ID != c.id) {
		c.err = fmt.Sprintf("a %d answer that is not a command's: %v %s", res.StatusCode, err, body)
		return
	}
	c.id, c.version, c.answered = a.ID, a.Version, a.Events
}

// aggregateKind is a kind of aggregate the load creates and changes.
type aggregateKind struct {
	domain, resource string
	create, change   string
	createBody       func(key string) string
	changeBody       func(key string, rng *rand.Rand) string
	changeEvents     int
	// check compares a state with the events it folds; nil checks nothing.
	check func(state json.RawMessage, events []storedEvent) error
}

// bankAccounts: an example domain; a deposit appends one event, and the
// balance must be what the events add up to.
var bankAccounts = &aggregateKind{
	domain: "bank", resource: "account", create: "open-account", change: "deposit",
	createBody: func(key string) string {
		return `{"owner":"owner ` + key + `","initial_deposit_cents":10000}`
	},
	changeBody: func(_ string, rng *rand.Rand) string {
		return `{"amount_cents":` + strconv.Itoa(1+rng.IntN(1000)) + `}`
	},
	changeEvents: 1,
	check: func(state json.RawMessage, events []storedEvent) error {
		var s struct {
			Balance int64 `json:"balance_cents"`
		}
		json.Unmarshal(state, &s)
		var sum int64
		for _, ev := range events {
			var d struct {
				Balance int64 `json:"balance_cents"`
				Amount  int64 `json:"amount_cents"`
			}
			json.Unmarshal(ev.Data, &d)
			sum += d.Balance + d.Amount
		}
		if s.Balance != sum {
			return fmt.Errorf("balance %d, but the events add up to %d", s.Balance, sum)
		}
		return nil
	},
}

// faultyThings: no example domain has a command that appends more than one
// event, so the host's test plugin stands in: flood appends as many as it
// is asked (three here), each carrying the request's key.
var faultyThings = &aggregateKind{
	domain: "faulty", resource: "thing", create: "create", change: "flood",
	createBody: func(string) string { return `{}` },
	changeBody: func(key string, _ *rand.Rand) string {
		return `{"events":3,"pad":"` + key + `"}`
	},
	changeEvents: 3,
	check: func(state json.RawMessage, events []storedEvent) error {
		var s struct {
			N int64 `json:"n"`
		}
		json.Unmarshal(state, &s)
		if s.N != int64(len(events)) {
			return fmt.Errorf("n is %d after %d events", s.N, len(events))
		}
		for _, ev := range events[1:] {
			var d struct {
				Pad string `json:"pad"`
			}
			if json.Unmarshal(ev.Data, &d); d.Pad != ev.Metadata.CorrelationID {
				return fmt.Errorf("event %d of request %s carries %q", ev.Version, ev.Metadata.CorrelationID, d.Pad)
			}
		}
		return nil
	},
}

// load sends commands from concurrent clients and records every one.
type load struct {
	client *http.Client
	prefix string
	mu     sync.Mutex
	kinds  []*aggregateKind
	pool   map[*aggregateKind][]string // acknowledged aggregates, to change
	sent   []*sentCommand
	seq    atomic.Int64
	acks   atomic.Int64
	stop   atomic.Bool
	wg     sync.WaitGroup
}

func newLoad(prefix string, kinds ...*aggregateKind) *load {
	return &load{prefix: prefix, kinds: kinds, pool: map[*aggregateKind][]string{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, DisableCompression: true}}}
}

// addKind starts sending commands of kind too.
func (l *load) addKind(k *aggregateKind) {
	l.mu.Lock()
	l.kinds = append(l.kinds, k)
	l.mu.Unlock()
}

// next makes a command: a create now and then, and while a kind has few
// aggregates; otherwise a change of one of them, picked at random so that
// clients meet on aggregates.
func (l *load) next(rng *rand.Rand) *sentCommand {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.kinds[rng.IntN(len(l.kinds))]
	key := fmt.Sprintf("%s-%06d", l.prefix, l.seq.Add(1))
	ids := l.pool[k]
	if len(ids) < 8 || rng.IntN(5) == 0 {
		return &sentCommand{kind: k, key: key, command: k.create, create: true, body: k.createBody(key), events: 1}
	}
	return &sentCommand{kind: k, key: key, command: k.change, id: ids[rng.IntN(len(ids))],
		body: k.changeBody(key, rng), events: k.changeEvents}
}

func (l *load) record(c *sentCommand) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, c)
	if c.acked() {
		l.acks.Add(1)
		if c.create {
			l.pool[c.kind] = append(l.pool[c.kind], c.id)
		}
	}
}

// start runs n clients against base until halt.
func (l *load) start(n int, base string) {
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for !l.stop.Load() {
				c := l.next(rng)
				c.send(l.client, base)
				l.record(c)
				if c.status == 0 {
					// A client backs off when the host is gone, as any would.
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
}

func (l *load) halt() {
	l.stop.Store(true)
	l.wg.Wait()
}

// unacked returns the commands sent but not acknowledged.
func (l *load) unacked() []*sentCommand {
	var out []*sentCommand
	for _, c := range l.sent {
		if !c.acked() {
			out = append(out, c)
		}
	}
	return out
}

func (l *load) acked() []*sentCommand {
	var out []*sentCommand
	for _, c := range l.sent {
		if c.acked() {
			out = append(out, c)
		}
	}
	return out
}

// eachOf runs fn on every command, n at a time.
func eachOf(cmds []*sentCommand, n int, fn func(*sentCommand)) {
	work := make(chan *sentCommand)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				fn(c)
			}
		}()
	}
	for _, c := range cmds {
		work <- c
	}
	close(work)
	wg.Wait()
}

// retryResult counts what retrying commands with their keys answered.
type retryResult struct {
	applied, replayed, attempts int
}

// retry sends each command again with its key until it is acknowledged
// (a transient 409 or 503 is sent again a few times), 8 at a time.
func (l *load) retry(t *testing.T, base string, cmds []*sentCommand) retryResult {
	t.Helper()
	var mu sync.Mutex
	var r retryResult
	var failed []string
	eachOf(cmds, 8, func(c *sentCommand) {
		sends := 0
		for sends < 5 {
			c.send(l.client, base)
			sends++
			if c.acked() || (c.status != 0 && c.status != 409 && c.status != 502 && c.status != 503) {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		r.attempts += sends
		switch {
		case !c.acked():
			failed = append(failed, fmt.Sprintf("%s %s: %d %s %s", c.key, c.path(), c.status, c.err, c.answer))
		case c.replayed:
			r.replayed++
		default:
			r.applied++
		}
	})
	if len(failed) > 0 {
		t.Fatalf("%d commands did not converge when retried with their keys, e.g. %s", len(failed), failed[0])
	}
	return r
}

// replayAcked sends every acknowledged command again with its key: each
// must answer byte for byte what it answered, marked replayed.
func (l *load) replayAcked(t *testing.T, base string, cmds []*sentCommand) {
	t.Helper()
	var mu sync.Mutex
	var failed []string
	eachOf(cmds, 8, func(c *sentCommand) {
		again := *c
		again.send(l.client, base)
		if !again.acked() || !again.replayed || !bytes.Equal(again.answer, c.answer) {
			mu.Lock()
			failed = append(failed, fmt.Sprintf("%s %s: first %d %s, again %d replayed=%v %s %s",
				c.key, c.path(), c.status, c.answer, again.status, again.replayed, again.err, again.answer))
			mu.Unlock()
		}
	})
	if len(failed) > 0 {
		t.Fatalf("%d acknowledged commands answered differently when sent again, e.g. %s", len(failed), failed[0])
	}
}

// storedEvent is an event as GET .../events shows it.
type storedEvent struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Version  int64           `json:"version"`
	Data     json.RawMessage `json:"data"`
	Metadata struct {
		CommandID     string `json:"command_id"`
		CorrelationID string `json:"correlation_id"`
	} `json:"metadata"`
}

func getJSON(client *http.Client, u string, out any) (int, error) {
	res, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode != 200 {
		return res.StatusCode, fmt.Errorf("GET %s: %d %s", u, res.StatusCode, body)
	}
	return 200, json.Unmarshal(body, out)
}

// readStream reads an aggregate's events, page by page.
func readStream(client *http.Client, base string, k *aggregateKind, id string) ([]storedEvent, error) {
	var all []storedEvent
	after := int64(0)
	for {
		var page struct {
			Events []storedEvent `json:"events"`
			Next   *int64        `json:"next_after"`
		}
		u := fmt.Sprintf("%s/%s.%s/%s/events?after=%d&limit=1000", base, k.domain, k.resource, id, after)
		if _, err := getJSON(client, u, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
		if page.Next == nil || len(page.Events) == 0 {
			return all, nil
		}
		after = *page.Next
	}
}

// audit is what checking the stored streams found.
type audit struct {
	streams, events, commands int
	stored                    map[string]bool // the keys of the requests stored
}

// auditStreams reads every stream the load knows of and checks it against
// what was acknowledged:
//   - versions run 1..n without a gap or a repeat, event ids are unique;
//   - the state is at version n and agrees with its events;
//   - a request's events are all there or none (all of one command id,
//     adjacent, as many as its command appends), in one stream only;
//   - every acknowledged command's events are stored as answered, and the
//     state is at least at the version answered;
//   - with final, every stored request was acknowledged (after retries)
//     and every acknowledged one is stored exactly once.
func auditStreams(t *testing.T, client *http.Client, base string, sent []*sentCommand, final bool) audit {
	t.Helper()
	byKey := map[string]*sentCommand{}
	type streamRef struct {
		kind *aggregateKind
		id   string
	}
	var streams []streamRef
	seen := map[streamRef]bool{}
	for _, c := range sent {
		byKey[c.key] = c
		if ref := (streamRef{c.kind, c.id}); c.id != "" && !seen[ref] {
			seen[ref] = true
			streams = append(streams, ref)
		}
	}
	a := audit{stored: map[string]bool{}}
	stored := map[string]int{} // key -> times its events are stored
	for _, s := range streams {
		evs, err := readStream(client, base, s.kind, s.id)
		if err != nil {
			t.Fatalf("reading %s %s: %v", s.kind.resource, s.id, err)
		}
		a.streams++
		a.events += len(evs)
		name := s.kind.domain + "." + s.kind.resource + "/" + s.id
		ids := map[string]bool{}
		for i, ev := range evs {
			if ev.Version != int64(i+1) {
				t.Fatalf("%s: event %d of %d has version %d: a gap or a duplicate", name, i+1, len(evs), ev.Version)
			}
			if ids[ev.ID] {
				t.Fatalf("%s: event %s stored twice", name, ev.ID)
			}
			ids[ev.ID] = true
		}
		var state struct {
			Version int64           `json:"version"`
			Data    json.RawMessage `json:"data"`
		}
		if _, err := getJSON(client, fmt.Sprintf("%s/%s.%s/%s", base, s.kind.domain, s.kind.resource, s.id), &state); err != nil {
			t.Fatalf("reading the state of %s: %v", name, err)
		}
		if state.Version != int64(len(evs)) {
			t.Fatalf("%s: the state is at version %d, its stream at %d", name, state.Version, len(evs))
		}
		if s.kind.check != nil {
			if err := s.kind.check(state.Data, evs); err != nil {
				t.Fatalf("%s: the state disagrees with its events: %v", name, err)
			}
		}
		// Group the stream's events by request.
		for i := 0; i < len(evs); {
			key, cmdID := evs[i].Metadata.CorrelationID, evs[i].Metadata.CommandID
			j := i
			for j < len(evs) && evs[j].Metadata.CorrelationID == key {
				if evs[j].Metadata.CommandID != cmdID {
					t.Fatalf("%s: request %s applied twice (commands %s and %s)", name, key, cmdID, evs[j].Metadata.CommandID)
				}
				j++
			}
			c := byKey[key]
			switch {
			case c == nil:
				t.Fatalf("%s: events %d-%d come from a request the load never sent (%q)", name, evs[i].Version, evs[j-1].Version, key)
			case j-i != c.events:
				t.Fatalf("%s: request %s (%s) is half-applied: %d of its %d events", name, key, c.command, j-i, c.events)
			case c.id != s.id:
				t.Fatalf("%s: request %s was for %s", name, key, c.id)
			}
			stored[key]++
			a.stored[key] = true
			a.commands++
			if !c.acked() {
				if final {
					t.Fatalf("%s: request %s is stored but was never acknowledged: %d %s", name, key, c.status, c.err)
				}
			} else {
				// Stored as answered.
				if len(c.answered) != j-i || c.version != evs[j-1].Version {
					t.Fatalf("%s: request %s answered version %d with %d events; stored at %d-%d",
						name, key, c.version, len(c.answered), evs[i].Version, evs[j-1].Version)
				}
				for n, ae := range c.answered {
					if ev := evs[i+n]; ev.ID != ae.ID || ev.Version != ae.Version {
						t.Fatalf("%s: request %s answered event %s at %d; stored is %s at %d", name, key, ae.ID, ae.Version, ev.ID, ev.Version)
					}
				}
			}
			i = j
		}
	}
	for key, n := range stored {
		if n != 1 {
			t.Fatalf("request %s is stored %d times", key, n)
		}
	}
	for _, c := range sent {
		if c.acked() && stored[c.key] != 1 {
			t.Fatalf("acknowledged request %s (%s %s, version %d) is not stored", c.key, c.command, c.id, c.version)
		}
	}
	return a
}

// The host is killed (SIGKILL) under concurrent load and restarted on the
// same data. Nothing acknowledged is lost, nothing is half-applied or
// applied twice, no stream has a gap, and every command not acknowledged
// converges when retried with its Idempotency-Key.
func TestCrashUnderLoad(t *testing.T) {
	plugins := filepath.Join(t.TempDir(), "plugins")
	buildPlugins(t, plugins, "../../plugins/examples/bank", "../../host/testdata/faulty")
	const clients = 16
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			start := time.Now()
			// Killed after some hundreds of acknowledged commands, at a
			// point that differs from run to run.
			killAt := int64(300 + rand.IntN(500))
			args := []string{"--plugins-dir", plugins, "--data-dir", filepath.Join(t.TempDir(), "data")}
			if driver == "postgres" {
				args = append(args, "--database-url", pgtest.URL(t))
			}
			p := startProcess(t, args...)
			started := time.Since(start)
			l := newLoad("crash-"+driver, bankAccounts, faultyThings)
			l.start(clients, p.url)
			loadTook := within(t, "acknowledged commands", 45*time.Second, func() bool { return l.acks.Load() >= killAt })
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.cmd.Wait()
			killedAt := l.acks.Load()
			l.halt()
			acked, unacked := l.acked(), l.unacked()
			if len(unacked) == 0 {
				t.Fatalf("no command was in flight when the host was killed")
			}
			restart := time.Now()
			q := startProcess(t, args...)
			restartTook := time.Since(restart)
			before := auditStreams(t, l.client, q.url, l.sent, false)
			outcomes := statusCounts(unacked)
			r := l.retry(t, q.url, unacked)
			for _, c := range unacked {
				// A create's stream was unknown before its retry answered.
				if before.stored[c.key] != c.replayed && !(c.create && c.replayed) {
					t.Fatalf("request %s: stored before the retry %v, the retry answered replayed %v", c.key, before.stored[c.key], c.replayed)
				}
			}
			l.replayAcked(t, q.url, acked)
			after := auditStreams(t, l.client, q.url, l.sent, true)
			if after.commands != len(l.sent) {
				t.Fatalf("%d requests sent, %d stored", len(l.sent), after.commands)
			}
			multi := 0
			for _, c := range acked {
				if c.events > 1 {
					multi++
				}
			}
			t.Logf("%s: host up in %v; %d clients; killed after %d acks (%v of load); %d sent: %d acknowledged (%d of them multi-event), %d not",
				driver, started.Round(time.Millisecond), clients, killedAt, loadTook.Round(time.Millisecond), len(l.sent), len(acked), multi, len(unacked))
			t.Logf("%s: restarted in %v; of the unacknowledged, retried with their keys, %d had been stored whole before the kill (answered by replay), %d were applied by the retry, none was stored in part (%d requests)",
				driver, restartTook.Round(time.Millisecond), r.replayed, r.applied, r.attempts)
			t.Logf("%s: after the retries %d streams, %d events, %d requests each stored once; %d acknowledged replayed identically; %v in all",
				driver, after.streams, after.events, after.commands, len(acked), time.Since(start).Round(time.Millisecond))
			t.Logf("%s: unacknowledged by outcome: %s", driver, outcomes)
		})
	}
}

// statusCounts summarises outcomes: "no answer" or the status, counted.
func statusCounts(cmds []*sentCommand) string {
	counts := map[string]int{}
	for _, c := range cmds {
		if c.status == 0 {
			counts["no answer"]++
		} else {
			counts[strconv.Itoa(c.status)]++
		}
	}
	return formatCounts(counts)
}

func formatCounts(counts map[string]int) string {
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
