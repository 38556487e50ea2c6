package abi

// Manifest describes a domain: what ExportManifest returns, JSON encoded with
// the field names in the json tags below. The host reads it once at load time.
type Manifest struct {
	ABIVersion int `json:"abi_version"`
	// Requires names the host features the plugin needs, each with the
	// least version that serves it (see Feature*). A host lacking one
	// refuses the plugin saying so.
	Requires   map[string]int  `json:"requires,omitempty"`
	Domain     string          `json:"domain"`
	Meta       Meta            `json:"meta"`
	Aggregates []AggregateSpec `json:"aggregates"`
	Commands   []CommandSpec   `json:"commands"`
	Events     []EventSpec     `json:"events"`
	// Handlers react to events of this or another domain
	// (FeatureEventHandlers).
	Handlers []HandlerSpec `json:"handlers,omitempty"`
	// Jobs are background work its commands, handlers and schedules
	// enqueue (FeatureJobs).
	Jobs []JobSpec `json:"jobs,omitempty"`
}

// JobSpec is a background job, run by ExportRunJob.
type JobSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Schedule is a cron expression (five fields, UTC) on which the host
	// enqueues the job with {} as its arguments; "" for none.
	Schedule string `json:"schedule,omitempty"`
	// MaxAttempts bounds its runs (0: 5; at most 25).
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// HandlerSpec is an event handler: a durable subscription to event types of
// one domain, run by ExportOnEvent.
type HandlerSpec struct {
	Name        string   `json:"name"`
	Domain      string   `json:"domain,omitempty"` // "": the plugin's own
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
}

// Meta is the domain's descriptive metadata (Fluvius's Meta inner class).
type Meta struct {
	Revision    int      `json:"revision"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// AggregateSpec is one aggregate: its name, the resources whose state it
// owns, and the schema of that state.
type AggregateSpec struct {
	Name      string   `json:"name"`
	Resources []string `json:"resources"`
	State     *Schema  `json:"state,omitempty"`
	// ReadPolicy, when set, is the permission (object) a caller needs,
	// with action "read", to read this aggregate's state and events.
	ReadPolicy string `json:"read_policy,omitempty"`
	// Roles maps a role a user may hold on one aggregate (owner, member) to
	// the top-level state property holding the ids of its holders: a
	// string or an array of strings. Policies grant to "aggregate:ROLE".
	Roles map[string]string `json:"roles,omitempty"`
	// AuthRequired refuses anonymous readers even in development mode.
	AuthRequired bool `json:"auth_required,omitempty"`
	// Query says how the aggregate's states are listed and searched.
	Query *QuerySpec `json:"query,omitempty"`
}

// QuerySpec is an aggregate's query resource (abi/ABI.md, "Query
// resources").
type QuerySpec struct {
	// Fields are top-level state properties clients may filter and sort
	// on, typed by the state schema.
	Fields []string `json:"fields,omitempty"`
	// Sort is the default order: "field.asc" or "field.desc" entries.
	Sort []string `json:"sort,omitempty"`
	// Text are the string fields a text search looks in.
	Text []string `json:"text,omitempty"`
	// Hidden are state properties never answered in lists or reads.
	Hidden []string `json:"hidden,omitempty"`
	// Named are queries the resource offers by name (?named=NAME).
	Named map[string]NamedQuery `json:"named,omitempty"`
}

// NamedQuery is a query a resource offers by name: a filter in the query
// language (JSON, as text) and a sort, which a client's own filter narrows.
type NamedQuery struct {
	Filter      string `json:"filter,omitempty"`
	Sort        string `json:"sort,omitempty"`
	Description string `json:"description,omitempty"`
}

// CommandSpec is one action of an aggregate.
type CommandSpec struct {
	Name        string   `json:"name"`
	Aggregate   string   `json:"aggregate"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	EvtKey      string   `json:"evt_key,omitempty"`
	Resources   []string `json:"resources"`
	New         bool     `json:"new,omitempty"`
	Payload     *Schema  `json:"payload,omitempty"`
	// Policy, when set, is the permission (object) a caller needs, with
	// action "run", to send this command. Without it any authenticated
	// caller of the aggregate's tenant may.
	Policy string `json:"policy,omitempty"`
	// AuthRequired refuses anonymous callers even in development mode.
	AuthRequired bool `json:"auth_required,omitempty"`
	// Deletes says the command may soft-delete its aggregate (Result's
	// deleted); the host refuses a deletion a command does not declare.
	Deletes bool `json:"deletes,omitempty"`
	// Internal commands are sent only by the plugin's handlers and jobs:
	// REST and MCP answer 404 for them (FeatureInternalCommands).
	Internal bool `json:"internal,omitempty"`
}

// EventSpec is one event type an aggregate emits and folds.
type EventSpec struct {
	Type        string `json:"type"`
	Aggregate   string `json:"aggregate"`
	Description string `json:"description,omitempty"`
}

// Schema is the subset of JSON Schema (draft 2020-12 keywords) that payload
// and state schemas may use. The host validates payloads against it before a
// guest sees them and refuses, at load time, a schema using anything else.
type Schema struct {
	Type                 string             `json:"type,omitempty"` // object, string, integer, number, boolean, array
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *bool              `json:"additionalProperties,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Enum                 []string           `json:"enum,omitempty"`
	MinLength            *int               `json:"minLength,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	Format               string             `json:"format,omitempty"`
	Minimum              *float64           `json:"minimum,omitempty"`
	Maximum              *float64           `json:"maximum,omitempty"`
	MinItems             *int               `json:"minItems,omitempty"`
	MaxItems             *int               `json:"maxItems,omitempty"`
}

// Command returns the spec of the named command, or nil.
func (m *Manifest) Command(name string) *CommandSpec {
	for i := range m.Commands {
		if m.Commands[i].Name == name {
			return &m.Commands[i]
		}
	}
	return nil
}

// Aggregate returns the spec of the aggregate owning resource, or nil.
func (m *Manifest) Aggregate(resource string) *AggregateSpec {
	for i := range m.Aggregates {
		for _, r := range m.Aggregates[i].Resources {
			if r == resource {
				return &m.Aggregates[i]
			}
		}
	}
	return nil
}

// Features by which ABI v1 grows (abi/ABI.md, "How the contract grows").
const (
	FeatureRequires       = "requires"
	FeatureStateRead      = "state-read"
	FeaturePolicies       = "policies"
	FeatureAuthzCan       = "authz-can"
	FeatureAggregateRoles = "aggregate-roles"
	FeatureAuthRequired   = "auth-required"
	FeatureQuery          = "query-resources"
	FeatureSoftDelete     = "soft-delete"
	FeatureEventHandlers  = "event-handlers"
	FeatureJobs           = "jobs"
	FeatureMedia          = "media"
	FeatureInternal       = "internal-commands"
)
