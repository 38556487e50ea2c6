package host

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/query"
)

// checkModule compares a compiled module's imports and exports with the ABI
// before anything of it runs, and says exactly what does not match.
func checkModule(cm wazero.CompiledModule) error {
	var problems []string
	for _, f := range cm.ImportedFunctions() {
		module, name, _ := f.Import()
		if module == abi.ModuleWASI {
			continue
		}
		sigs, ok := abi.HostFunctions[module]
		if !ok {
			problems = append(problems, fmt.Sprintf("imports %s.%s from unknown host module %q", module, name, module))
			continue
		}
		found := false
		for _, sig := range sigs {
			if sig.Name == name {
				found = true
				if got := signature(f); got != sigString(sig) {
					problems = append(problems, fmt.Sprintf("imports %s.%s as %s, the host provides %s", module, name, got, sigString(sig)))
				}
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("imports %s.%s, which host module %s does not provide", module, name, module))
		}
	}
	for _, m := range cm.ImportedMemories() {
		module, name, _ := m.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s; a guest must define its own", module, name))
	}
	exports := cm.ExportedFunctions()
	for _, sig := range abi.RequiredExports {
		f, ok := exports[sig.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("does not export %s %s", sig.Name, sigString(sig)))
			continue
		}
		if got := signature(f); got != sigString(sig) {
			problems = append(problems, fmt.Sprintf("exports %s as %s, the ABI needs %s", sig.Name, got, sigString(sig)))
		}
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		problems = append(problems, `does not export its memory as "memory"`)
	}
	if len(problems) > 0 {
		return fmt.Errorf("module is not a Fluvius ABI v%d plugin: it %s", abi.Version, strings.Join(problems, "; it "))
	}
	return nil
}

func signature(f api.FunctionDefinition) string {
	var b strings.Builder
	b.WriteString("(")
	for i, t := range f.ParamTypes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(t))
	}
	b.WriteString(") -> (")
	for i, t := range f.ResultTypes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.ValueTypeName(t))
	}
	b.WriteString(")")
	return b.String()
}

func sigString(s abi.FuncSig) string {
	join := func(ts []abi.ValueType) string {
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = string(t)
		}
		return strings.Join(parts, ", ")
	}
	return "(" + join(s.Params) + ") -> (" + join(s.Results) + ")"
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// compiledManifest is a checked manifest with its payload validators.
type compiledManifest struct {
	abi.Manifest
	payloads map[string]*schema.Validator // by command
	events   map[string]bool              // declared event types
	states   map[string]*schema.Validator // by aggregate, where a state schema is declared
	handlers map[string]*abi.HandlerSpec  // by name
	jobs     map[string]*abi.JobSpec      // by name
	queries  map[string]*query.Resource   // by resource, for the query service
}

// A manifest is served to every /_meta caller and compiled into validators:
// its size and shape are bounded.
const (
	maxManifestBytes      = 256 << 10
	maxManifestCommands   = 256
	maxManifestAggregates = 64
	maxManifestEvents     = 512
	maxManifestHandlers   = 64
	maxHandlerEvents      = 64
)

// checkManifest validates what a guest says of itself.
func checkManifest(m abi.Manifest) (*compiledManifest, error) {
	if len(m.Commands) > maxManifestCommands || len(m.Aggregates) > maxManifestAggregates || len(m.Events) > maxManifestEvents {
		return nil, fmt.Errorf("manifest declares %d commands, %d aggregates and %d events; at most %d, %d and %d are accepted",
			len(m.Commands), len(m.Aggregates), len(m.Events), maxManifestCommands, maxManifestAggregates, maxManifestEvents)
	}
	if m.ABIVersion != abi.Version {
		return nil, fmt.Errorf("manifest declares ABI version %d, the host serves %d", m.ABIVersion, abi.Version)
	}
	if !namePattern.MatchString(m.Domain) {
		return nil, fmt.Errorf("domain name %q must be lower-case words joined by '-'", m.Domain)
	}
	cm := &compiledManifest{Manifest: m, payloads: map[string]*schema.Validator{}, events: map[string]bool{},
		states: map[string]*schema.Validator{}, queries: map[string]*query.Resource{}, handlers: map[string]*abi.HandlerSpec{},
		jobs: map[string]*abi.JobSpec{}}
	aggregates := map[string]bool{}
	resources := map[string]string{}
	for _, a := range m.Aggregates {
		if !namePattern.MatchString(a.Name) || aggregates[a.Name] {
			return nil, fmt.Errorf("aggregate name %q is invalid or declared twice", a.Name)
		}
		aggregates[a.Name] = true
		if len(a.Resources) == 0 {
			return nil, fmt.Errorf("aggregate %s declares no resources", a.Name)
		}
		for _, r := range a.Resources {
			if !namePattern.MatchString(r) {
				return nil, fmt.Errorf("aggregate %s: resource name %q must be lower-case words joined by '-'", a.Name, r)
			}
			if owner, ok := resources[r]; ok {
				return nil, fmt.Errorf("resource %s belongs to both aggregate %s and %s", r, owner, a.Name)
			}
			resources[r] = a.Name
		}
		if !policyName(a.ReadPolicy) {
			return nil, fmt.Errorf("aggregate %s: read_policy %q must be printable and at most 200 bytes", a.Name, a.ReadPolicy)
		}
		if a.State != nil {
			v, err := schema.Compile(a.State, "aggregate "+a.Name+" state")
			if err != nil {
				return nil, err
			}
			cm.states[a.Name] = v
		}
		if err := checkRoles(&a); err != nil {
			return nil, err
		}
		for _, r := range a.Resources {
			res, err := query.ResourceOf(m.Domain, r, &a)
			if err != nil {
				return nil, fmt.Errorf("aggregate %s: %w", a.Name, err)
			}
			cm.queries[r] = res
		}
	}
	for _, e := range m.Events {
		if e.Type == "" || !aggregates[e.Aggregate] {
			return nil, fmt.Errorf("event %q names unknown aggregate %q", e.Type, e.Aggregate)
		}
		cm.events[e.Type] = true
	}
	for _, c := range m.Commands {
		if !namePattern.MatchString(c.Name) {
			return nil, fmt.Errorf("command name %q must be lower-case words joined by '-'", c.Name)
		}
		if _, dup := cm.payloads[c.Name]; dup {
			return nil, fmt.Errorf("command %s is declared twice", c.Name)
		}
		if !aggregates[c.Aggregate] {
			return nil, fmt.Errorf("command %s names unknown aggregate %q", c.Name, c.Aggregate)
		}
		if len(c.Resources) == 0 {
			return nil, fmt.Errorf("command %s applies to no resource", c.Name)
		}
		for _, r := range c.Resources {
			if resources[r] != c.Aggregate {
				return nil, fmt.Errorf("command %s: resource %q is not one of aggregate %s's", c.Name, r, c.Aggregate)
			}
		}
		if !policyName(c.Policy) {
			return nil, fmt.Errorf("command %s: policy %q must be printable and at most 200 bytes", c.Name, c.Policy)
		}
		if c.EvtKey != "" && !cm.events[c.EvtKey] {
			return nil, fmt.Errorf("command %s: evt_key %q is not a declared event (is its applier registered?)", c.Name, c.EvtKey)
		}
		payload := c.Payload
		if payload == nil {
			no := false
			payload = &abi.Schema{Type: "object", AdditionalProperties: &no}
		}
		if payload.Type != "object" {
			return nil, fmt.Errorf("command %s: the payload must be an object, not %s", c.Name, payload.Type)
		}
		v, err := schema.Compile(payload, "command "+c.Name+" payload")
		if err != nil {
			return nil, err
		}
		cm.payloads[c.Name] = v
	}
	if err := checkHandlers(cm); err != nil {
		return nil, err
	}
	if err := checkJobs(cm); err != nil {
		return nil, err
	}
	return cm, nil
}

// MaxJobAttempts bounds a job's max_attempts.
const MaxJobAttempts = 25

// checkJobs checks the manifest's jobs: named once each, with a schedule
// that parses as five-field cron and a bounded number of attempts.
func checkJobs(cm *compiledManifest) error {
	if len(cm.Jobs) > maxManifestHandlers {
		return fmt.Errorf("manifest declares %d jobs; at most %d are accepted", len(cm.Jobs), maxManifestHandlers)
	}
	for i := range cm.Jobs {
		j := &cm.Jobs[i]
		if !namePattern.MatchString(j.Name) || cm.jobs[j.Name] != nil {
			return fmt.Errorf("job name %q is invalid or declared twice", j.Name)
		}
		if j.MaxAttempts < 0 || j.MaxAttempts > MaxJobAttempts {
			return fmt.Errorf("job %s: max_attempts %d is not between 1 and %d (0: the default)", j.Name, j.MaxAttempts, MaxJobAttempts)
		}
		if j.Schedule != "" {
			if _, err := ParseSchedule(j.Schedule); err != nil {
				return fmt.Errorf("job %s: schedule %q: %v", j.Name, j.Schedule, err)
			}
		}
		cm.jobs[j.Name] = j
	}
	return nil
}

// ParseSchedule reads a job's schedule: five-field cron, in UTC.
func ParseSchedule(s string) (cron.Schedule, error) {
	if len(s) > 100 {
		return nil, errors.New("longer than 100 bytes")
	}
	// Before the parser sees it: cron v3.0.1 panics on a zone with no
	// fields after it ("TZ=").
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, errors.New("schedules are in UTC; name no time zone")
	}
	return cron.ParseStandard(s)
}

// checkHandlers checks the manifest's event handlers: named once each, on
// a valid domain, for a bounded list of event types, which the plugin's own
// domain must declare (another domain's are checked when they arrive: that
// domain may not be loaded yet, or may change).
func checkHandlers(cm *compiledManifest) error {
	if len(cm.Handlers) > maxManifestHandlers {
		return fmt.Errorf("manifest declares %d handlers; at most %d are accepted", len(cm.Handlers), maxManifestHandlers)
	}
	for i := range cm.Handlers {
		h := &cm.Handlers[i]
		if !namePattern.MatchString(h.Name) || cm.handlers[h.Name] != nil {
			return fmt.Errorf("handler name %q is invalid or declared twice", h.Name)
		}
		if h.Domain != "" && !namePattern.MatchString(h.Domain) {
			return fmt.Errorf("handler %s: domain %q must be lower-case words joined by '-'", h.Name, h.Domain)
		}
		if len(h.Events) == 0 || len(h.Events) > maxHandlerEvents {
			return fmt.Errorf("handler %s lists %d event types; it needs 1 to %d", h.Name, len(h.Events), maxHandlerEvents)
		}
		seen := map[string]bool{}
		for _, e := range h.Events {
			if err := checkID("event type", e, maxIDBytes); err != nil || seen[e] {
				return fmt.Errorf("handler %s: event type %q is invalid or listed twice", h.Name, e)
			}
			seen[e] = true
			if (h.Domain == "" || h.Domain == cm.Domain) && !cm.events[e] {
				return fmt.Errorf("handler %s: event type %q is not one of domain %s's", h.Name, e, cm.Domain)
			}
		}
		cm.handlers[h.Name] = h
	}
	return nil
}

// policyName accepts a permission name a manifest declares ("" for none).
func policyName(s string) bool { return s == "" || checkID("policy", s, maxIDBytes) == nil }

// maxAggregateRoles bounds the roles one aggregate declares: each is a
// lookup in its state and a check when a caller lacks a grant.
const maxAggregateRoles = 16

// checkRoles refuses aggregate roles the host could not look up: a role
// is a name, its property a top-level property of the state that the state
// schema, when declared, types as a string or an array of strings.
func checkRoles(a *abi.AggregateSpec) error {
	if len(a.Roles) > maxAggregateRoles {
		return fmt.Errorf("aggregate %s declares %d roles; at most %d are allowed", a.Name, len(a.Roles), maxAggregateRoles)
	}
	for role, prop := range a.Roles {
		if !namePattern.MatchString(role) {
			return fmt.Errorf("aggregate %s: role name %q must be lower-case words joined by '-'", a.Name, role)
		}
		if !query.ValidName(prop) {
			return fmt.Errorf("aggregate %s: role %s names %q, not a state property's name (letters, digits, '_' and '-', starting with a letter)", a.Name, role, prop)
		}
		if a.State == nil {
			continue
		}
		ps := a.State.Properties[prop]
		switch {
		case ps == nil:
			return fmt.Errorf("aggregate %s: role %s names property %q, which its state schema does not declare", a.Name, role, prop)
		case ps.Type == "string", ps.Type == "array" && ps.Items != nil && ps.Items.Type == "string":
		default:
			return fmt.Errorf("aggregate %s: role %s names property %q, which is not a string or an array of strings", a.Name, role, prop)
		}
	}
	return nil
}

// features are what this host offers by name and version (abi/ABI.md, "How
// the contract grows"); a manifest's requires is checked against them.
var features = map[string]int{
	abi.FeatureRequires:       1,
	abi.FeatureStateRead:      1,
	abi.FeaturePolicies:       1,
	abi.FeatureAuthzCan:       1,
	abi.FeatureAggregateRoles: 1,
	abi.FeatureAuthRequired:   1,
	abi.FeatureQuery:          1,
	abi.FeatureSoftDelete:     1,
	abi.FeatureEventHandlers:  1,
	abi.FeatureJobs:           1,
	abi.FeatureMedia:          1,
	abi.FeatureInternal:       1,
}

// Features returns the host features plugins may require, by name.
func Features() map[string]int {
	out := make(map[string]int, len(features))
	for k, v := range features {
		out[k] = v
	}
	return out
}

// checkRequires refuses a plugin needing a feature this host lacks, naming
// every one.
func checkRequires(req map[string]int) error {
	names := make([]string, 0, len(req))
	for name := range req {
		names = append(names, name)
	}
	sort.Strings(names)
	var missing []string
	for _, name := range names {
		want, have := req[name], features[name]
		switch {
		case want < 1:
			return fmt.Errorf("requires %q at version %d: versions start at 1", name, want)
		case have == 0:
			missing = append(missing, fmt.Sprintf("feature %s v%d, which this host does not have", name, want))
		case have < want:
			missing = append(missing, fmt.Sprintf("feature %s v%d; this host has v%d", name, want, have))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the plugin requires %s: upgrade the host", strings.Join(missing, ", and "))
	}
	return nil
}
