package admin

import (
	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
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
}

func (s *Server) describeDomain(c *fiber.Ctx) error {
	p := s.host.Plugin(c.Params("domain"))
	if p == nil {
		return problemError(fiber.StatusNotFound, "unknown-domain", "no domain "+c.Params("domain")+" is loaded")
	}
	m := p.Manifest()
	cmds := make([]commandView, 0, len(m.Commands))
	for _, cmd := range m.Commands {
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
				URL: "GET /" + m.Domain + "." + r + "/{id}"})
		}
	}
	return c.JSON(fiber.Map{
		"domain": m.Domain, "meta": m.Meta, "abi_version": m.ABIVersion,
		"plugin":    fiber.Map{"sha256": p.ID(), "source": p.Source(), "bytes": p.Size(), "loaded_at": p.LoadedAt()},
		"resources": resources, "commands": cmds, "events": m.Events,
	})
}
