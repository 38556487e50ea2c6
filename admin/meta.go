package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/query"
)

type domainSummary struct {
	Domain   string   `json:"domain"`
	Meta     abi.Meta `json:"meta"`
	Plugin   string   `json:"plugin_sha256"`
	Source   string   `json:"source"`
	Commands int      `json:"commands"`
	URL      string   `json:"url"`
}

func (s *Server) listDomains(c *fiber.Ctx) error {
	out := []domainSummary{}
	for _, p := range s.host.Plugins() {
		m := p.Manifest()
		out = append(out, domainSummary{Domain: m.Domain, Meta: m.Meta, Plugin: p.ID(), Source: p.Source(),
			Commands: len(m.Commands), URL: "/_meta/" + m.Domain})
	}
	return c.JSON(fiber.Map{"domains": out})
}

type commandView struct {
	abi.CommandSpec
	URLs []string `json:"urls"`
}

type resourceView struct {
	Name      string      `json:"name"`
	Aggregate string      `json:"aggregate"`
	State     *abi.Schema `json:"state,omitempty"`
	URL       string      `json:"url"`
	List      string      `json:"list"`
	Meta      string      `json:"meta"`
}

func (s *Server) describeDomain(c *fiber.Ctx) error {
	if strings.Contains(c.Params("domain"), ".") {
		return s.describeResource(c)
	}
	p := s.host.Plugin(c.Params("domain"))
	if p == nil {
		return problemError(fiber.StatusNotFound, "unknown-domain", "no domain "+c.Params("domain")+" is loaded")
	}
	m := p.Manifest()
	cmds := make([]commandView, 0, len(m.Commands))
	for _, cmd := range m.Commands {
		if cmd.Internal {
			continue // sent by the domain's handlers and jobs only
		}
		v := commandView{CommandSpec: cmd}
		for _, r := range cmd.Resources {
			id := "{id}"
			if cmd.New {
				id = ":new"
			}
			v.URLs = append(v.URLs, "POST /"+m.Domain+":"+cmd.Name+"/"+r+"/"+id)
		}
		cmds = append(cmds, v)
	}
	var resources []resourceView
	for _, a := range m.Aggregates {
		for _, r := range a.Resources {
			resources = append(resources, resourceView{Name: r, Aggregate: a.Name, State: a.State,
				URL: "GET /" + m.Domain + "." + r + "/{id}", List: "GET /" + m.Domain + "." + r + "/",
				Meta: "/_meta/" + m.Domain + "." + r + "/"})
		}
	}
	return c.JSON(fiber.Map{
		"domain": m.Domain, "meta": m.Meta, "abi_version": m.ABIVersion,
		"plugin":    fiber.Map{"sha256": p.ID(), "source": p.Source(), "bytes": p.Size(), "loaded_at": p.LoadedAt()},
		"resources": resources, "commands": cmds, "events": m.Events,
	})
}

type fieldView struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Operators []string `json:"operators"`
	Sortable  bool     `json:"sortable"`
	Record    bool     `json:"record,omitempty"` // the record's own field, not the state's
}

// describeResource answers GET /_meta/{domain}.{resource}/: the fields a
// list may filter and sort on, their types and operators, the default
// sort, the text fields and the bounds.
func (s *Server) describeResource(c *fiber.Ctx) error {
	target := c.Params("domain")
	if target == "" {
		target = c.Params("target")
	}
	domain, resource, _ := strings.Cut(target, ".")
	p := s.host.Plugin(domain)
	if p == nil {
		return problemError(fiber.StatusNotFound, "unknown-domain", "no domain "+domain+" is loaded")
	}
	res := p.QueryResource(resource)
	if res == nil {
		return problemError(fiber.StatusNotFound, "unknown-resource", "domain "+domain+" has no resource "+resource)
	}
	fields := []fieldView{}
	for _, name := range res.FieldNames() {
		f := res.Fields[name]
		fields = append(fields, fieldView{Name: name, Type: query.TypeName(f.Type), Operators: query.Operators(f.Type),
			Sortable: query.Sortable(f.Type), Record: f.Column != ""})
	}
	sorts := []string{}
	for _, o := range res.DefaultSort {
		dir := ".asc"
		if o.Desc {
			dir = ".desc"
		}
		sorts = append(sorts, o.Field.Name+dir)
	}
	text := res.Text
	if text == nil {
		text = []string{}
	}
	named := fiber.Map{}
	for name, n := range res.Named {
		named[name] = fiber.Map{"description": n.Description, "url": "GET /" + domain + "." + resource + "/?named=" + name}
	}
	return c.JSON(fiber.Map{
		"domain": domain, "resource": resource, "list": "GET /" + domain + "." + resource + "/",
		"fields": fields, "default_sort": sorts, "text": text, "named": named,
		"limits": fiber.Map{"default_limit": query.DefaultLimit, "max_limit": query.MaxLimit, "max_depth": query.MaxDepth,
			"max_conditions": query.MaxConditions, "max_query_bytes": query.MaxQueryBytes},
		"syntax": `query={"field.op": value, "field!op": value, ".and": [...], ".or": [...], "!and": ..., "!or": ...}; sort=f.asc,g.desc; limit; page or cursor; select, exclude, include; text; deleted=true`,
	})
}
