package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Report is what a shadow verification found: a new version's appliers
// replayed over existing streams, each rebuilt state compared with the
// stored one.
type Report struct {
	// MissingAppliers are event types stored in the domain that the new
	// version declares no applier for.
	MissingAppliers []string `json:"missing_appliers"`
	Checked         int      `json:"checked"`   // streams replayed
	Sampled         bool     `json:"sampled"`   // more streams exist than were checked
	Differing       int      `json:"differing"` // rebuilt state differs from the stored one
	Failed          int      `json:"failed"`    // the replay failed (a trap, a refusal)
	Skipped         int      `json:"skipped"`   // past the replay bounds
	// Cases lists the first differing or failed aggregates.
	Cases []Case `json:"cases"`
}

// Case is one aggregate a verification flags.
type Case struct {
	Tenant   string          `json:"tenant"`
	Resource string          `json:"resource"`
	ID       string          `json:"id"`
	Version  int64           `json:"version"`
	Stored   json.RawMessage `json:"stored,omitempty"`
	Rebuilt  json.RawMessage `json:"rebuilt,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// maxCases bounds the cases a report lists.
const maxCases = 20

// OK reports whether the version may be activated without force.
func (r *Report) OK() bool { return len(r.MissingAppliers) == 0 && r.Differing == 0 && r.Failed == 0 }

// Summary says what is wrong in one line.
func (r *Report) Summary() string {
	switch {
	case len(r.MissingAppliers) > 0:
		return fmt.Sprintf("it has no applier for stored event types %v", r.MissingAppliers)
	case r.Differing > 0 || r.Failed > 0:
		return fmt.Sprintf("%d of %d streams replayed differ and %d failed", r.Differing, r.Checked, r.Failed)
	}
	return fmt.Sprintf("%d streams replayed, all alike", r.Checked)
}

func (r *Report) flag(c Case) {
	if len(r.Cases) < maxCases {
		r.Cases = append(r.Cases, c)
	}
}

// verify checks p against its domain's stored events: an applier for
// every stored event type, then a replay of a sample of streams (all with
// all) compared with the stored states.
func (r *Registry) verify(ctx context.Context, p *host.Plugin, all bool) (*Report, error) {
	rep := &Report{MissingAppliers: []string{}, Cases: []Case{}}
	types, err := r.store.EventTypesOf(ctx, p.Domain())
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if !p.Folds(t) {
			rep.MissingAppliers = append(rep.MissingAppliers, t)
		}
	}
	if len(rep.MissingAppliers) > 0 {
		return rep, nil // replaying would only fail on them
	}
	exec := r.host.Store().Executor()
	var after *store.StateKey
	for {
		limit := 500
		if !all {
			limit = min(limit, r.opts.VerifySample-rep.Checked-rep.Skipped)
		}
		if limit <= 0 {
			more, err := r.store.StreamsOf(ctx, p.Domain(), after, 1)
			if err != nil {
				return nil, err
			}
			rep.Sampled = len(more) > 0
			return rep, nil
		}
		keys, err := r.store.StreamsOf(ctx, p.Domain(), after, limit)
		if err != nil {
			return nil, err
		}
		for i := range keys {
			k := keys[i]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			stored, err := exec.StateGet(ctx, &k)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since it was listed
			}
			if err != nil {
				return nil, err
			}
			rebuilt, version, err := r.host.Rebuild(ctx, p, k, stored.Version)
			var he *host.Error
			switch {
			case errors.As(err, &he) && he.Kind == host.KindTooLarge:
				rep.Skipped++
				continue
			case errors.As(err, &he) && he.Kind == host.KindNotFound:
				continue // a state without events: nothing to replay
			case err != nil && ctx.Err() != nil:
				return nil, ctx.Err()
			case err != nil:
				rep.Checked++
				rep.Failed++
				rep.flag(Case{Tenant: k.Tenant, Resource: k.Resource, ID: k.ID, Version: stored.Version, Error: err.Error()})
				continue
			}
			rep.Checked++
			if version != stored.Version || !sameJSON(stored.Data, rebuilt) {
				rep.Differing++
				rep.flag(Case{Tenant: k.Tenant, Resource: k.Resource, ID: k.ID, Version: stored.Version,
					Stored: json.RawMessage(stored.Data), Rebuilt: json.RawMessage(rebuilt)})
			}
		}
		if len(keys) < limit {
			return rep, nil
		}
		after = &keys[len(keys)-1]
	}
}

// sameJSON compares two documents as values: member order and spacing do
// not count.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Toolchain reads which compiler made a module, from what each leaves in
// it: Go's "go:buildid" section, the "producers" section TinyGo writes,
// AssemblyScript's. "" when the module does not say.
func Toolchain(wasm []byte) string {
	for _, s := range customSections(wasm) {
		switch {
		case s.name == "go:buildid":
			return "go"
		case s.name == "producers" && bytes.Contains(s.data, []byte("TinyGo")):
			return "tinygo"
		case s.name == "producers" && bytes.Contains(s.data, []byte("AssemblyScript")):
			return "assemblyscript"
		}
	}
	return ""
}

type section struct {
	name string
	data []byte
}

// customSections lists a module's custom sections; a malformed module
// yields what was read before the damage.
func customSections(b []byte) []section {
	if len(b) < 8 {
		return nil
	}
	var out []section
	i := 8
	for i < len(b) {
		id := b[i]
		i++
		size, n := uleb(b[i:])
		if n == 0 || size > uint64(len(b)-i-n) {
			return out
		}
		i += n
		body := b[i : i+int(size)]
		i += int(size)
		if id != 0 {
			continue
		}
		nl, m := uleb(body)
		if m == 0 || nl > uint64(len(body)-m) {
			return out
		}
		out = append(out, section{name: string(body[m : m+int(nl)]), data: body[m+int(nl):]})
	}
	return out
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// Verify checks a version against its domain's stored streams as an
// activation would, without activating it: what an operator reads before
// confirming.
func (r *Registry) Verify(ctx context.Context, domain string, version int64, all bool) (*Report, error) {
	v, err := r.Version(ctx, domain, version)
	if err != nil {
		return nil, err
	}
	p, err := r.prepare(ctx, v)
	if err != nil {
		return nil, err
	}
	defer r.host.Discard(p)
	return r.verify(ctx, p, all)
}
