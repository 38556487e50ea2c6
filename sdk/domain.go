package sdk

import (
	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Meta is a domain's descriptive metadata, as in Fluvius's Meta class.
type Meta struct {
	Revision    int
	Title       string
	Description string
	Tags        []string
}

// Domain is one bounded context: a name, its Meta and its aggregates. A
// plugin registers exactly one.
type Domain struct {
	name       string
	meta       Meta
	aggregates []aggregate
	handlers   []Handler
	jobs       []JobSpec
	out        abi.Encoder // reused for every answer; see Handle
	// The envelopes of the call in progress live here rather than on the
	// stack, where they would escape (the aggregate is an interface) and cost
	// an allocation each: allocations are dear inside WebAssembly.
	cmd   command
	call  Call
	res   abi.Result
	apReq applyRequest
	apRes abi.ApplyResult
	buf   buffers
}

// aggregate is what Domain needs of an Aggregate, whatever its state type.
type aggregate interface {
	info() aggregateInfo
	resourceNames() []string
	hasAction(name []byte) bool
	handle(c *Call, res *abi.Result)
	foldCurrent(e Event) error
	apply(req *applyRequest, res *abi.ApplyResult, buf *buffers)
}

// aggregateInfo is what the manifest says of an aggregate.
type aggregateInfo struct {
	name       string
	resources  []string
	state      *Schema
	readPolicy string
	readAuth   bool
	roles      [][2]string
	query      *QueryResource
	actions    []actionInfo
	events     []string
}

type actionInfo struct {
	name, title, description, evtKey, policy string
	resources                                []string
	new, authRequired, deletes, internal     bool
	payload                                  *Schema
}

// NewDomain declares a domain. Names are lower-case words joined by '-'; the
// host rejects anything else at load time.
func NewDomain(name string, meta Meta) *Domain {
	return &Domain{name: name, meta: meta}
}

// Name returns the domain's name.
func (d *Domain) Name() string { return d.name }

var registered *Domain

// Register makes d the domain this plugin serves. Call it from an init
// function: WebAssembly reactors run package initialisation and never main.
func Register(d *Domain) { registered = d }

// Registered returns the registered domain, or nil.
func Registered() *Domain { return registered }

// Manifest returns the domain's manifest as JSON (abi.Manifest).
func (d *Domain) Manifest() []byte {
	var w jsonlite.Writer
	w.BeginObject()
	w.Key("abi_version").Int(abi.Version)
	if req := d.requires(); len(req) > 0 {
		w.Key("requires").BeginObject()
		for _, f := range req {
			w.Key(f).Int(1)
		}
		w.EndObject()
	}
	w.Key("domain").String(d.name)
	w.Key("meta").BeginObject()
	w.Key("revision").Int(int64(d.meta.Revision))
	w.Key("title").String(d.meta.Title)
	w.Key("description").String(d.meta.Description)
	w.Key("tags").Strings(d.meta.Tags)
	w.EndObject()
	w.Key("aggregates").BeginArray()
	for _, a := range d.aggregates {
		info := a.info()
		w.BeginObject()
		w.Key("name").String(info.name)
		w.Key("resources").Strings(info.resources)
		if info.state != nil {
			w.Key("state").Value(info.state)
		}
		if info.readPolicy != "" {
			w.Key("read_policy").String(info.readPolicy)
		}
		if info.readAuth {
			w.Key("auth_required").Bool(true)
		}
		if len(info.roles) > 0 {
			w.Key("roles").BeginObject()
			for _, r := range info.roles {
				w.Key(r[0]).String(r[1])
			}
			w.EndObject()
		}
		if q := info.query; q != nil {
			w.Key("query").BeginObject()
			w.Key("fields").Strings(q.Fields)
			w.Key("sort").Strings(q.Sort)
			w.Key("text").Strings(q.Text)
			w.Key("hidden").Strings(q.Hidden)
			if len(q.Named) > 0 {
				w.Key("named").BeginObject()
				for _, n := range q.Named {
					w.Key(n.Name).BeginObject().Key("filter").String(n.Filter).Key("sort").String(n.Sort).
						Key("description").String(n.Description).EndObject()
				}
				w.EndObject()
			}
			w.EndObject()
		}
		w.EndObject()
	}
	w.EndArray()
	w.Key("commands").BeginArray()
	for _, a := range d.aggregates {
		info := a.info()
		for _, c := range info.actions {
			w.BeginObject()
			w.Key("name").String(c.name)
			w.Key("aggregate").String(info.name)
			if c.title != "" {
				w.Key("title").String(c.title)
			}
			if c.description != "" {
				w.Key("description").String(c.description)
			}
			w.Key("evt_key").String(c.evtKey)
			w.Key("resources").Strings(c.resources)
			w.Key("new").Bool(c.new)
			if c.payload != nil {
				w.Key("payload").Value(c.payload)
			}
			if c.policy != "" {
				w.Key("policy").String(c.policy)
			}
			if c.authRequired {
				w.Key("auth_required").Bool(true)
			}
			if c.deletes {
				w.Key("deletes").Bool(true)
			}
			if c.internal {
				w.Key("internal").Bool(true)
			}
			w.EndObject()
		}
	}
	w.EndArray()
	w.Key("events").BeginArray()
	for _, a := range d.aggregates {
		info := a.info()
		for _, e := range info.events {
			w.BeginObject()
			w.Key("type").String(e)
			w.Key("aggregate").String(info.name)
			w.EndObject()
		}
	}
	w.EndArray()
	if len(d.handlers) > 0 {
		w.Key("handlers").BeginArray()
		for _, h := range d.handlers {
			w.BeginObject()
			w.Key("name").String(h.Name)
			if h.Domain != "" && h.Domain != d.name {
				w.Key("domain").String(h.Domain)
			}
			w.Key("events").Strings(h.Events)
			if h.Description != "" {
				w.Key("description").String(h.Description)
			}
			w.EndObject()
		}
		w.EndArray()
	}
	if len(d.jobs) > 0 {
		w.Key("jobs").BeginArray()
		for _, j := range d.jobs {
			w.BeginObject()
			w.Key("name").String(j.Name)
			if j.Description != "" {
				w.Key("description").String(j.Description)
			}
			if j.Schedule != "" {
				w.Key("schedule").String(j.Schedule)
			}
			if j.MaxAttempts != 0 {
				w.Key("max_attempts").Int(int64(j.MaxAttempts))
			}
			w.EndObject()
		}
		w.EndArray()
	}
	w.EndObject()
	return w.Bytes()
}

// Handle decides the command in the abi.Command envelope in and returns an
// abi.Result envelope. The result aliases a buffer the domain reuses: it is
// valid until the next call of Handle or Apply. So is everything a handler
// is given: in is read in place, not copied.
func (d *Domain) Handle(in []byte) []byte {
	d.res = abi.Result{}
	cmd, res := &d.cmd, &d.res
	if err := cmd.decode(in); err != nil {
		res.Status = abi.StatusInvalid
		res.Error = abi.Error{Code: "malformed-envelope", Message: "command envelope: " + err.Error()}
	} else if a := d.aggregateFor(cmd.name, cmd.resource); a == nil {
		res.Status = abi.StatusUnknownCommand
		res.Error = abi.Error{Code: "unknown-command",
			Message: "domain " + d.name + " has no command " + string(cmd.name) + " on resource " + string(cmd.resource)}
	} else {
		// The events' slice is reused; the previous result, which aliased
		// it, has been encoded.
		d.call = Call{cmd: cmd, events: d.call.events[:0], buf: &d.buf}
		a.handle(&d.call, res)
	}
	d.out.Reset()
	res.Encode(&d.out)
	return d.out.Bytes()
}

// Apply folds the events of the abi.ApplyRequest envelope in into its state
// and returns an abi.ApplyResult envelope, valid until the next call.
func (d *Domain) Apply(in []byte) []byte {
	d.apRes = abi.ApplyResult{}
	req, res := &d.apReq, &d.apRes
	if err := req.decode(in); err != nil {
		res.Status = abi.StatusInvalid
		res.Error = abi.Error{Code: "malformed-envelope", Message: "apply envelope: " + err.Error()}
	} else if a := d.aggregateOwning(req.resource); a == nil {
		res.Status = abi.StatusUnknownCommand
		res.Error = abi.Error{Code: "unknown-resource", Message: "domain " + d.name + " has no resource " + string(req.resource)}
	} else {
		a.apply(req, res, &d.buf)
	}
	d.out.Reset()
	res.Encode(&d.out)
	return d.out.Bytes()
}

func (d *Domain) aggregateFor(command, resource []byte) aggregate {
	for _, a := range d.aggregates {
		if a.hasAction(command) && containsBytes(a.resourceNames(), resource) {
			return a
		}
	}
	return nil
}

func (d *Domain) aggregateOwning(resource []byte) aggregate {
	for _, a := range d.aggregates {
		if containsBytes(a.resourceNames(), resource) {
			return a
		}
	}
	return nil
}

// Decide runs one command natively, the way the host runs it in the guest,
// and returns the decoded result. It is for unit tests of aggregate logic.
func (d *Domain) Decide(cmd *abi.Command) (*abi.Result, error) {
	var e abi.Encoder
	cmd.Encode(&e)
	out := d.Handle(e.Bytes())
	var res abi.Result
	if err := res.Decode(append([]byte(nil), out...)); err != nil {
		return nil, err
	}
	return &res, nil
}

// Fold replays events natively through the appliers, as the host's apply
// does, and returns the decoded result.
func (d *Domain) Fold(req *abi.ApplyRequest) (*abi.ApplyResult, error) {
	var e abi.Encoder
	req.Encode(&e)
	out := d.Apply(e.Bytes())
	var res abi.ApplyResult
	if err := res.Decode(append([]byte(nil), out...)); err != nil {
		return nil, err
	}
	return &res, nil
}

// requires lists the host features (abi.Feature*) the domain's manifest
// uses beyond the first ABI v1, sorted, so that a host lacking one refuses
// the plugin by name. All are at version 1 so far.
func (d *Domain) requires() []string {
	used := map[string]bool{}
	for _, a := range d.aggregates {
		info := a.info()
		if info.readPolicy != "" {
			used[abi.FeaturePolicies] = true
		}
		if info.readAuth {
			used[abi.FeatureAuthRequired] = true
		}
		if len(info.roles) > 0 {
			used[abi.FeatureAggregateRoles] = true
		}
		if info.query != nil {
			used[abi.FeatureQuery] = true
		}
		for _, c := range info.actions {
			if c.policy != "" {
				used[abi.FeaturePolicies] = true
			}
			if c.authRequired {
				used[abi.FeatureAuthRequired] = true
			}
			if c.deletes {
				used[abi.FeatureSoftDelete] = true
			}
			if c.internal {
				used[abi.FeatureInternal] = true
			}
		}
	}
	if len(d.handlers) > 0 {
		used[abi.FeatureEventHandlers] = true
	}
	if len(d.jobs) > 0 {
		used[abi.FeatureJobs] = true
	}
	var out []string
	for _, f := range []string{abi.FeatureAggregateRoles, abi.FeatureAuthRequired, abi.FeatureEventHandlers, abi.FeatureInternal, abi.FeatureJobs, abi.FeaturePolicies, abi.FeatureQuery, abi.FeatureSoftDelete} {
		if used[f] {
			out = append(out, f)
		}
	}
	return out
}
