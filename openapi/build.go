package openapi

import (
	"fmt"
	"sort"
	"strings"

	"fluvius.dev/fluvius/abi"
)

// Options say what the manifests do not: the host's version, the domains'
// active versions, and which of the platform's optional routes it serves.
type Options struct {
	// Version is the host's version, the document's info.version ("dev"
	// when empty).
	Version string
	// Versions are the active version of each domain as the host names
	// it (a registry version, a module's SHA-256), listed in the
	// description; a domain missing here is listed by its revision.
	Versions map[string]string
	// Media says /_media is served (admin.Options.Media); Batch says
	// /_batch is, taking at most MaxBatch commands (0: no bound told).
	Media, Batch bool
	MaxBatch     int
}

// The document's fixed identity.
const (
	Version = "3.1.0"
	Dialect = "https://json-schema.org/draft/2020-12/schema"
)

// builder assembles one document: operations add the shared components
// they use as they use them, so the document holds no unused one.
type builder struct {
	doc        *Document
	opts       Options
	aggregates map[string]*aggregateDoc // by domain.aggregate
	// sample is a command the platform's examples send: the first that
	// creates an aggregate and has an example payload.
	sample *sampleCommand
}

type sampleCommand struct {
	domain, command, resource, event string
	payload                          any
	state                            any
}

// Build describes the API a host serves with the given active plugins'
// manifests (sorted by domain, as host.Plugins gives them). Internal
// commands are left out: clients cannot send them.
func Build(manifests []abi.Manifest, opts Options) (*Document, error) {
	b := &builder{opts: opts, aggregates: map[string]*aggregateDoc{}, doc: &Document{
		OpenAPI:           Version,
		JSONSchemaDialect: Dialect,
		Info:              Info{Title: "Fluvius", Version: opts.Version},
		Servers:           []Server{{URL: "/", Description: "this host"}},
		Paths:             map[string]*PathItem{},
		Components: Components{Schemas: map[string]Schema{}, Parameters: map[string]*Parameter{},
			Headers: map[string]*Header{}, Responses: map[string]*Response{}, SecuritySchemes: map[string]*SecurityScheme{}},
	}}
	if b.doc.Info.Version == "" {
		b.doc.Info.Version = "dev"
	}
	b.security()
	seen := map[string]bool{}
	for i := range manifests {
		m := &manifests[i]
		if seen[m.Domain] {
			return nil, fmt.Errorf("openapi: domain %s is given twice", m.Domain)
		}
		seen[m.Domain] = true
		b.doc.Tags = append(b.doc.Tags, Tag{Name: m.Domain, Description: domainDescription(m)})
		if err := b.domain(m); err != nil {
			return nil, fmt.Errorf("openapi: domain %s: %w", m.Domain, err)
		}
	}
	b.platform()
	b.uniqueOperationIDs()
	b.doc.Info.Summary = "The REST API of a Fluvius host: commands, state, events and lists of the domains it serves."
	b.doc.Info.Description = b.description(manifests)
	return b.doc, nil
}

// domain adds a domain's resources and commands.
func (b *builder) domain(m *abi.Manifest) error {
	for i := range m.Aggregates {
		a := &m.Aggregates[i]
		b.aggregate(m, a)
		for _, r := range a.Resources {
			if err := b.resource(m, a, r); err != nil {
				return fmt.Errorf("resource %s: %w", r, err)
			}
		}
	}
	for i := range m.Commands {
		c := &m.Commands[i]
		if c.Internal {
			continue // sent by the domain's handlers and jobs only: REST answers 404
		}
		a := aggregateNamed(m, c.Aggregate)
		if a == nil {
			return fmt.Errorf("command %s: no aggregate %s", c.Name, c.Aggregate)
		}
		b.command(m, a, c)
	}
	return nil
}

// uniqueOperationIDs keeps operation ids unique where names made them
// meet (a command named like a read of a resource named like a command):
// the later one, in path order, takes a number.
func (b *builder) uniqueOperationIDs() {
	paths := make([]string, 0, len(b.doc.Paths))
	for p := range b.doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	seen := map[string]bool{}
	for _, p := range paths {
		it := b.doc.Paths[p]
		for _, op := range []*Operation{it.Get, it.Post, it.Delete} {
			if op == nil {
				continue
			}
			id := op.OperationID
			for n := 2; seen[id]; n++ {
				id = fmt.Sprintf("%s-%d", op.OperationID, n)
			}
			op.OperationID = id
			seen[id] = true
		}
	}
}

func aggregateNamed(m *abi.Manifest, name string) *abi.AggregateSpec {
	for i := range m.Aggregates {
		if m.Aggregates[i].Name == name {
			return &m.Aggregates[i]
		}
	}
	return nil
}

// path returns the path item of p, made on first use.
func (b *builder) path(p string) *PathItem {
	it := b.doc.Paths[p]
	if it == nil {
		it = &PathItem{}
		b.doc.Paths[p] = it
	}
	return it
}

func domainDescription(m *abi.Manifest) string {
	parts := []string{}
	if m.Meta.Title != "" {
		parts = append(parts, m.Meta.Title+".")
	}
	if m.Meta.Description != "" {
		parts = append(parts, m.Meta.Description)
	}
	return strings.Join(parts, " ")
}

// description is info.description: what the API is, and the domains it
// serves with their active versions.
func (b *builder) description(manifests []abi.Manifest) string {
	var s strings.Builder
	s.WriteString("Commands change aggregates (`POST /{domain}:{command}/{resource}/{id}`, `:new` to create one); " +
		"reads answer their state (`GET /{domain}.{resource}/{id}`), their events (`.../events`) and lists " +
		"(`GET /{domain}.{resource}/`). Errors are RFC 9457 problem bodies with a stable `code`. " +
		"This document is made from the manifests of the plugins active when it was asked for.\n\n")
	if len(manifests) == 0 {
		s.WriteString("No domain is served.\n")
		return s.String()
	}
	s.WriteString("Domains served:\n\n")
	names := make([]string, 0, len(manifests))
	byName := map[string]*abi.Manifest{}
	for i := range manifests {
		names = append(names, manifests[i].Domain)
		byName[manifests[i].Domain] = &manifests[i]
	}
	sort.Strings(names)
	for _, n := range names {
		m := byName[n]
		fmt.Fprintf(&s, "- `%s`", n)
		if m.Meta.Title != "" {
			fmt.Fprintf(&s, ": %s", m.Meta.Title)
		}
		fmt.Fprintf(&s, " (revision %d", m.Meta.Revision)
		if v := b.opts.Versions[n]; v != "" {
			fmt.Fprintf(&s, ", version %s", v)
		}
		s.WriteString(")\n")
	}
	return s.String()
}
