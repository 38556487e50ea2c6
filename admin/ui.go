package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/query"
	"fluvius.dev/fluvius/registry"
	"fluvius.dev/fluvius/store"
)

// The admin UI: server-rendered pages at /admin over the same services the
// API uses, with the signed-in credential's own caller. It is a face on the
// API, never a way around it: every page authenticates the session's
// credential again as the API authenticates a request, and every action
// goes through the host, the registry and the authorizer.

//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

var uiFuncs = template.FuncMap{
	"tojson": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
}

// uiPages are the page templates, each with the layout.
var uiPages = func() map[string]*template.Template {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(uiFiles, "ui/templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(n[len("ui/templates/"):], ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(uiFuncs).ParseFS(uiFiles, "ui/templates/layout.html", n))
	}
	return pages
}()

type uiPage struct {
	Title, Section string
	Signed         bool
	User, CSRF     string
	Flash          string
	Problem        *Problem
	Data           any
}

// uiSecurity sets the headers every UI answer carries: nothing but our own
// scripts and styles, no framing, no caching of pages that show data.
func uiSecurity(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin") // "no-referrer" would make browsers send "Origin: null" on our own forms
	c.Set("X-Frame-Options", "DENY")
}

func (s *Server) render(c *fiber.Ctx, status int, name string, p uiPage) error {
	uiSecurity(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	var buf bytes.Buffer
	if err := uiPages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/html; charset=utf-8")
	return c.Status(status).Send(buf.Bytes())
}

// uiContext is a signed-in request: the session and the caller its
// credential authenticates as, now.
type uiContext struct {
	id     string
	sess   *session
	caller abi.Caller
}

func (u *uiContext) page(title, section string, data any) uiPage {
	return uiPage{Title: title, Section: section, Signed: true, User: u.caller.UserID, CSRF: u.sess.csrf, Data: data}
}

// signedIn returns the request's session, authenticated again; nil after
// it has redirected to the sign-in page.
func (s *Server) signedIn(c *fiber.Ctx) (*uiContext, error) {
	id := c.Cookies(sessionCookie)
	sess := s.ui.get(id)
	if sess == nil {
		return nil, c.Redirect("/admin/login", fiber.StatusSeeOther)
	}
	caller, err := s.auth.Admin(c.UserContext(), auth.Request{Authorization: "Bearer " + sess.credential})
	if err != nil {
		// Revoked, expired, or no longer an administrator: the session ends.
		s.ui.end(id)
		s.clearSessionCookie(c)
		return nil, c.Redirect("/admin/login", fiber.StatusSeeOther)
	}
	c.Locals(callerKey{}, caller)
	return &uiContext{id: id, sess: sess, caller: caller}, nil
}

// posted checks a form post: a live session, the form's CSRF token, and an
// Origin (when the browser sends one) that is this host.
func (s *Server) posted(c *fiber.Ctx, token string) (*uiContext, error) {
	u, err := s.signedIn(c)
	if u == nil {
		return nil, err
	}
	refuse := func(code, detail string) (*uiContext, error) {
		pg := u.page("Refused", "", nil)
		pg.Problem = &Problem{Status: fiber.StatusForbidden, Code: code, Detail: detail}
		return nil, s.render(c, fiber.StatusForbidden, "error", pg)
	}
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		if ou, perr := url.Parse(o); perr != nil || ou.Host != c.Get(fiber.HeaderHost) {
			return refuse("cross-origin", "the form was posted from another site")
		}
	}
	if !u.sess.validCSRF(token) {
		return refuse("csrf", "the form is stale or forged: reload the page and try again")
	}
	return u, nil
}

func (s *Server) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/admin", MaxAge: -1, HTTPOnly: true, Secure: true, SameSite: fiber.CookieSameSiteStrictMode})
}

func (s *Server) uiLogin(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet {
		return s.render(c, fiber.StatusOK, "login", uiPage{Title: "Sign in"})
	}
	credential := strings.TrimSpace(strings.Clone(c.FormValue("credential")))
	_, err := s.auth.Admin(c.UserContext(), auth.Request{Authorization: "Bearer " + credential})
	if credential == "" || err != nil {
		msg := "That key or token is not accepted."
		if errors.Is(err, auth.ErrNotAdmin) {
			msg = "That credential does not have the admin role."
		}
		return s.render(c, fiber.StatusUnauthorized, "login", uiPage{Title: "Sign in", Problem: &Problem{Code: "unauthenticated", Detail: msg}})
	}
	id, _ := s.ui.create(credential)
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: id, Path: "/admin", HTTPOnly: true, Secure: true, SameSite: fiber.CookieSameSiteStrictMode})
	return c.Redirect("/admin", fiber.StatusSeeOther)
}

func (s *Server) uiLogout(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	s.ui.end(u.id)
	s.clearSessionCookie(c)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}

func (s *Server) uiStatic(c *fiber.Ctx) error {
	name := c.Params("*")
	b, err := uiFiles.ReadFile("ui/static/" + name)
	if err != nil || strings.Contains(name, "/") {
		return notFound(c.Path())
	}
	uiSecurity(c)
	c.Set(fiber.HeaderContentType, mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):]))
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(b)
}

// uiProblem is the problem an error answers, as the API's error handler
// makes it, for a page to show; its details as indented JSON.
func uiProblem(err error) *Problem {
	p := problemOf(err)
	if p.Details != nil {
		if b, err := json.MarshalIndent(p.Details, "", "  "); err == nil {
			p.Details = string(b)
		}
	}
	return &p
}

type uiDomain struct {
	Domain, Title       string
	Version             int64
	Commands, Instances int
	Counts              host.DomainCounts
	Resources           []string
}

func (s *Server) uiOverview(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	active := map[string]int64{}
	if s.registry != nil {
		if list, err := s.registry.List(c.UserContext()); err == nil {
			for _, d := range list {
				active[d.Domain] = d.ActiveVersion
			}
		}
	}
	var domains []uiDomain
	for _, p := range s.host.Plugins() {
		m := p.Manifest()
		d := uiDomain{Domain: m.Domain, Title: m.Meta.Title, Version: active[m.Domain], Commands: len(m.Commands), Instances: p.Instances(),
			Counts: s.host.Counts(m.Domain)}
		for _, a := range m.Aggregates {
			d.Resources = append(d.Resources, a.Resources...)
		}
		domains = append(domains, d)
	}
	var recent []*store.Event
	if ft, ok := s.host.Store().(store.FeedTail); ok {
		if evs, err := ft.EventsLatest(c.UserContext(), 10); err == nil {
			for i := len(evs) - 1; i >= 0; i-- {
				recent = append(recent, evs[i])
			}
		}
	}
	return s.render(c, fiber.StatusOK, "overview", u.page("Overview", "overview", map[string]any{"Domains": domains, "Recent": recent}))
}

func (s *Server) uiPlugins(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	return s.pluginsPage(c, u, "", nil)
}

func (s *Server) pluginsPage(c *fiber.Ctx, u *uiContext, flash string, problem *Problem) error {
	list, err := s.registry.List(c.UserContext())
	if err != nil {
		return err
	}
	p := u.page("Plugins", "plugins", map[string]any{"Plugins": list})
	p.Flash, p.Problem = flash, problem
	status := fiber.StatusOK
	if problem != nil {
		status = problem.Status
	}
	return s.render(c, status, "plugins", p)
}

// uiUpload reads a multipart upload part by part: the CSRF token first (it
// comes first in the form), then the module, bounded like an API upload.
func (s *Server) uiUpload(c *fiber.Ctx) error {
	u, module, err := s.formWithFile(c, "module", s.maxModule)
	if u == nil {
		return err
	}
	if len(module) == 0 {
		return s.pluginsPage(c, u, "", &Problem{Status: 400, Code: "module-missing", Detail: "choose a .wasm file to upload"})
	}
	up, err := s.registry.Upload(c.UserContext(), registry.Upload{Module: module, Actor: u.caller.UserID})
	if err != nil {
		return s.pluginsPage(c, u, "", uiProblem(err))
	}
	s.registry.Release(up)
	msg := fmt.Sprintf("Uploaded %s version %d.", up.Version.Domain, up.Version.Version)
	if up.Existed {
		msg = fmt.Sprintf("That module is %s version %d already.", up.Version.Domain, up.Version.Version)
	}
	return s.pluginPage(c, u, up.Version.Domain, msg, nil)
}

func (s *Server) uiPlugin(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	return s.pluginPage(c, u, strings.Clone(c.Params("domain")), "", nil)
}

func (s *Server) pluginPage(c *fiber.Ctx, u *uiContext, domain, flash string, problem *Problem) error {
	d, err := s.registry.Get(c.UserContext(), domain)
	if err != nil {
		return s.pluginsPage(c, u, "", uiProblem(err))
	}
	history := d.Audit
	sort.SliceStable(history, func(i, j int) bool { return history[i].ID > history[j].ID })
	p := u.page(domain, "plugins", map[string]any{"Plugin": d.PluginDomain, "Versions": d.Versions, "History": history})
	p.Flash, p.Problem = flash, problem
	status := fiber.StatusOK
	if problem != nil {
		status = problem.Status
	}
	return s.render(c, status, "plugin", p)
}

// uiActivate shows the verification report of a version (GET) and
// activates it once confirmed (POST).
func (s *Server) uiActivate(c *fiber.Ctx) error {
	domain := strings.Clone(c.Params("domain"))
	version, err := strconv.ParseInt(c.Params("version"), 10, 64)
	if err != nil || version < 1 {
		return notFound(c.Path())
	}
	if c.Method() == fiber.MethodGet {
		u, err := s.signedIn(c)
		if u == nil {
			return err
		}
		rep, err := s.registry.Verify(c.UserContext(), domain, version, false)
		if err != nil {
			return s.pluginPage(c, u, domain, "", uiProblem(err))
		}
		d, err := s.registry.Get(c.UserContext(), domain)
		if err != nil {
			return s.pluginPage(c, u, domain, "", uiProblem(err))
		}
		return s.render(c, fiber.StatusOK, "activate", u.page("Activate", "plugins",
			map[string]any{"Domain": domain, "Version": version, "Report": rep, "Revision": d.Revision}))
	}
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	rev, _ := strconv.ParseInt(c.FormValue("revision"), 10, 64)
	a, err := s.registry.Activate(c.UserContext(), registry.Activation{Domain: domain, Version: version, Actor: u.caller.UserID,
		Revision: rev, Force: c.FormValue("force") == "true"})
	if err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	return s.pluginPage(c, u, domain, fmt.Sprintf("Version %d is active (verified against %d streams).", version, a.Report.Checked), nil)
}

func (s *Server) uiRollback(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	domain := strings.Clone(c.Params("domain"))
	rev, _ := strconv.ParseInt(c.FormValue("revision"), 10, 64)
	a, err := s.registry.Rollback(c.UserContext(), registry.Activation{Domain: domain, Actor: u.caller.UserID, Revision: rev})
	if err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	return s.pluginPage(c, u, domain, fmt.Sprintf("Rolled back to version %d.", a.Version.Version), nil)
}

func (s *Server) uiDisable(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	domain := strings.Clone(c.Params("domain"))
	rev, _ := strconv.ParseInt(c.FormValue("revision"), 10, 64)
	if _, err := s.registry.Disable(c.UserContext(), domain, u.caller.UserID, rev); err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	return s.pluginPage(c, u, domain, "The domain is disabled on every host.", nil)
}

// A form field generated from a payload schema property.
type uiField struct {
	Name, Description, Kind, Input, Pattern string
	Required                                bool
	Enum                                    []string
	MinLength, MaxLength                    *int
	Min, Max                                *float64
}

type uiCommand struct {
	abi.CommandSpec
	Fields []uiField
}

func fieldsOf(sc *abi.Schema) []uiField {
	if sc == nil {
		return nil
	}
	required := map[string]bool{}
	for _, r := range sc.Required {
		required[r] = true
	}
	names := make([]string, 0, len(sc.Properties))
	for n := range sc.Properties {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if required[names[i]] != required[names[j]] {
			return required[names[i]]
		}
		return names[i] < names[j]
	})
	var out []uiField
	for _, n := range names {
		p := sc.Properties[n]
		f := uiField{Name: n, Description: p.Description, Required: required[n], Enum: p.Enum, MinLength: p.MinLength,
			MaxLength: p.MaxLength, Pattern: p.Pattern, Min: p.Minimum, Max: p.Maximum, Kind: p.Type, Input: "text"}
		switch {
		case p.Type == "integer" || p.Type == "number":
			f.Input = "number"
		case p.Type == "string" && p.Format == "email":
			f.Input = "email"
		case p.Type == "array" && p.Items != nil && p.Items.Type == "string":
			f.Kind = "strings"
		case p.Type == "array" || p.Type == "object":
			f.Kind = "json"
		}
		out = append(out, f)
	}
	return out
}

type uiAnswer struct {
	Status int
	Body   string
	Link   string
}

func (s *Server) uiDomain(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	return s.domainPage(c, u, strings.Clone(c.Params("domain")), nil, nil)
}

func (s *Server) domainPage(c *fiber.Ctx, u *uiContext, domain string, answer *uiAnswer, problem *Problem) error {
	p := s.host.Plugin(domain)
	if p == nil {
		return s.render(c, fiber.StatusNotFound, "overview", func() uiPage {
			pg := u.page("Overview", "overview", map[string]any{})
			pg.Problem = &Problem{Status: 404, Code: "unknown-domain", Detail: "no domain " + domain + " is served"}
			return pg
		}())
	}
	m := p.Manifest()
	var cmds []uiCommand
	for _, cmd := range m.Commands {
		if cmd.Internal {
			continue // sent by the domain's handlers and jobs only
		}
		cmds = append(cmds, uiCommand{CommandSpec: cmd, Fields: fieldsOf(cmd.Payload)})
	}
	var resources []string
	for _, a := range m.Aggregates {
		resources = append(resources, a.Resources...)
	}
	pg := u.page(domain, "overview", map[string]any{"Domain": domain, "Title": m.Meta.Title, "Commands": cmds,
		"Resources": resources, "Answer": answer})
	pg.Problem = problem
	status := fiber.StatusOK
	if problem != nil {
		status = problem.Status
	}
	return s.render(c, status, "domain", pg)
}

// uiCommand sends a command from its generated form: the payload is built
// from the fields by the schema's types, and the host checks it again.
func (s *Server) uiSend(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	domain, name := strings.Clone(c.Params("domain")), strings.Clone(c.Params("command"))
	p := s.host.Plugin(domain)
	if p == nil {
		return s.domainPage(c, u, domain, nil, nil)
	}
	m := p.Manifest()
	spec := m.Command(name)
	if spec == nil {
		return s.domainPage(c, u, domain, nil, &Problem{Status: 404, Code: "unknown-command", Detail: "no command " + name})
	}
	payload := map[string]any{}
	for _, f := range fieldsOf(spec.Payload) {
		raw := strings.TrimSpace(c.FormValue(f.Name))
		if raw == "" && f.Kind != "boolean" {
			continue
		}
		switch f.Kind {
		case "integer":
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return s.domainPage(c, u, domain, nil, &Problem{Status: 400, Code: "invalid-payload", Detail: f.Name + " takes a whole number"})
			}
			payload[f.Name] = n
		case "number":
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return s.domainPage(c, u, domain, nil, &Problem{Status: 400, Code: "invalid-payload", Detail: f.Name + " takes a number"})
			}
			payload[f.Name] = x
		case "boolean":
			payload[f.Name] = raw == "true"
		case "strings":
			var list []string
			for _, part := range strings.Split(raw, ",") {
				if part = strings.TrimSpace(part); part != "" {
					list = append(list, part)
				}
			}
			payload[f.Name] = list
		case "json":
			var v any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return s.domainPage(c, u, domain, nil, &Problem{Status: 400, Code: "malformed-json", Detail: f.Name + " is not JSON"})
			}
			payload[f.Name] = v
		default:
			payload[f.Name] = raw
		}
	}
	body, _ := json.Marshal(payload)
	resource := strings.Clone(c.FormValue("_resource"))
	cmd := &host.Command{Domain: domain, Name: name, Resource: resource, Payload: body, Caller: u.caller,
		AggregateID: strings.TrimSpace(strings.Clone(c.FormValue("_id"))), New: spec.New}
	res, err := s.host.Dispatch(c.UserContext(), cmd)
	if err != nil {
		return s.domainPage(c, u, domain, nil, uiProblem(err))
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, res.Body, "", "  ")
	status := fiber.StatusOK
	if res.Created {
		status = fiber.StatusCreated
	}
	return s.domainPage(c, u, domain, &uiAnswer{Status: status, Body: pretty.String(),
		Link: "/admin/resources/" + domain + "." + resource + "/" + url.PathEscape(res.AggregateID)}, nil)
}

type uiFieldInfo struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Operators []string `json:"operators"`
}

func (s *Server) uiResource(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	domain, resource, _ := strings.Cut(strings.Clone(c.Params("target")), ".")
	req := query.Request{Query: c.Query("query"), Sort: c.Query("sort"), Limit: c.Query("limit"), Page: c.Query("page"), Cursor: c.Query("cursor")}
	data := map[string]any{"Domain": domain, "Resource": resource, "Query": req.Query, "Sort": req.Sort, "Limit": req.Limit}
	if req.Limit == "" {
		data["Limit"] = "25"
	}
	if p := s.host.Plugin(domain); p != nil {
		if r := p.QueryResource(resource); r != nil {
			var fields []uiFieldInfo
			for _, n := range r.FieldNames() {
				fields = append(fields, uiFieldInfo{Name: n, Type: query.TypeName(r.Fields[n].Type), Operators: query.Operators(r.Fields[n].Type)})
			}
			b, _ := json.Marshal(fields)
			data["FieldsJSON"] = string(b)
		}
	}
	res, err := s.host.List(c.UserContext(), u.caller, domain, resource, req)
	pg := u.page(domain+"."+resource, "overview", data)
	if err != nil {
		pg.Problem = uiProblem(err)
		return s.render(c, pg.Problem.Status, "resource", pg)
	}
	data["Rows"], data["Total"] = res.Records, res.Total
	if res.Page > 0 {
		data["Page"], data["Pages"] = res.Page, (res.Total+int64(res.Limit)-1)/int64(res.Limit)
	}
	link := func(k, v string) string {
		q := url.Values{}
		for _, p := range []string{"query", "sort", "limit"} {
			if x := c.Query(p); x != "" {
				q.Set(p, x)
			}
		}
		q.Set(k, v)
		return "/admin/resources/" + domain + "." + resource + "?" + q.Encode()
	}
	if res.Next != "" {
		data["Next"] = link("cursor", res.Next)
	}
	if res.Page > 1 {
		data["Prev"] = link("page", strconv.Itoa(res.Page-1))
	}
	return s.render(c, fiber.StatusOK, "resource", pg)
}

func (s *Server) uiAggregate(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	domain, resource, _ := strings.Cut(strings.Clone(c.Params("target")), ".")
	id := strings.Clone(c.Params("id"))
	data := map[string]any{"Domain": domain, "Resource": resource, "ID": id, "At": c.Query("at"), "AtVersion": c.Query("version")}
	pg := u.page(resource+" "+id, "overview", data)
	fail := func(err error) error {
		pg.Problem = uiProblem(err)
		return s.render(c, pg.Problem.Status, "aggregate", pg)
	}
	var state []byte
	var version int64
	switch {
	case c.Query("version") != "":
		v, perr := strconv.ParseInt(c.Query("version"), 10, 64)
		if perr != nil || v < 1 {
			return fail(problemError(fiber.StatusBadRequest, "invalid-query", "a version is a positive whole number"))
		}
		if state, err = s.host.StateAt(c.UserContext(), u.caller, domain, resource, id, v); err != nil {
			return fail(err)
		}
		version, data["Then"] = v, true
	case c.Query("at") != "":
		t, perr := time.Parse(time.RFC3339Nano, c.Query("at"))
		if perr != nil {
			return fail(problemError(fiber.StatusBadRequest, "invalid-query", "at is an RFC 3339 time"))
		}
		if state, version, err = s.host.StateAtTime(c.UserContext(), u.caller, domain, resource, id, t); err != nil {
			return fail(err)
		}
		data["Then"] = true
	default:
		rec, err := s.host.State(c.UserContext(), u.caller, domain, resource, id)
		if err != nil {
			return fail(err)
		}
		state, version = rec.Data, rec.Version
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, state, "", "  ")
	data["State"], data["ShownVersion"] = pretty.String(), version
	evs, err := s.host.Events(c.UserContext(), u.caller, domain, resource, id, 0, 200, s.pageBytes)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fail(err)
	}
	data["Events"] = evs
	return s.render(c, fiber.StatusOK, "aggregate", pg)
}

func (s *Server) uiKeys(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	return s.keysPage(c, u, nil, "", nil)
}

func (s *Server) keysPage(c *fiber.Ctx, u *uiContext, created *apiKeyView, flash string, problem *Problem) error {
	keys, err := s.keys.APIKeyList(c.UserContext())
	if err != nil {
		return err
	}
	views := make([]apiKeyView, len(keys))
	for i, k := range keys {
		views[len(keys)-1-i] = viewAPIKey(k)
	}
	data := map[string]any{"Keys": views, "Created": created, "HasAuthz": s.authz != nil}
	if s.authz != nil {
		rules, err := s.authz.Rules(c.UserContext())
		if err != nil {
			return err
		}
		data["Rules"] = rules
	}
	if t, ok := c.Locals(testedKey{}).(*tested); ok {
		data["Tested"] = t
	}
	pg := u.page("Access", "keys", data)
	pg.Flash, pg.Problem = flash, problem
	status := fiber.StatusOK
	if problem != nil {
		status = problem.Status
	}
	return s.render(c, status, "keys", pg)
}

func (s *Server) uiCreateKey(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	var roles []string
	for _, r := range strings.Split(c.FormValue("roles"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, strings.Clone(r))
		}
	}
	v, err := s.issueAPIKey(c.UserContext(), u.caller, strings.Clone(c.FormValue("name")), strings.Clone(c.FormValue("tenant")), roles)
	if err != nil {
		return s.keysPage(c, u, nil, "", uiProblem(err))
	}
	return s.keysPage(c, u, &v, "", nil)
}

func (s *Server) uiRevokeKey(c *fiber.Ctx) error {
	u, err := s.posted(c, c.FormValue("csrf"))
	if u == nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	if err := s.revokeKey(c.UserContext(), id); err != nil {
		return s.keysPage(c, u, nil, "", uiProblem(err))
	}
	return s.keysPage(c, u, nil, "Key "+id+" is revoked.", nil)
}

type testedKey struct{}

// tested is a policy test's question and answer, for the Access page.
type tested struct {
	Question string
	Allowed  bool
}

func splitList(raw string) []string {
	var out []string
	for _, v := range strings.Split(raw, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, strings.Clone(v))
		}
	}
	return out
}

// uiPolicy adds (POST /admin/policies), removes (.../remove) and tests
// (.../test) rules through the authorizer, as the management API does.
func (s *Server) uiPolicy(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u, err := s.posted(c, c.FormValue("csrf"))
		if u == nil {
			return err
		}
		switch action {
		case "add", "remove":
			rule := store.PolicyRule{Type: strings.Clone(c.FormValue("type"))}
			if action == "add" {
				rule.Values = splitList(c.FormValue("values"))
			} else if err := json.Unmarshal([]byte(c.FormValue("values")), &rule.Values); err != nil {
				return s.keysPage(c, u, nil, "", &Problem{Status: 400, Code: "invalid-payload", Detail: "the rule's values are not a JSON list"})
			}
			if err := s.changeRule(c.UserContext(), rule, action == "remove"); err != nil {
				return s.keysPage(c, u, nil, "", uiProblem(err))
			}
			msg := "Rule added."
			if action == "remove" {
				msg = "Rule removed."
			}
			return s.keysPage(c, u, nil, msg, nil)
		}
		caller := abi.Caller{UserID: strings.Clone(c.FormValue("user")), Tenant: strings.Clone(c.FormValue("tenant")), Roles: splitList(c.FormValue("roles"))}
		object, act := strings.Clone(c.FormValue("object")), strings.Clone(c.FormValue("action"))
		ok, err := s.authz.Allowed(caller, nil, object, act)
		if err != nil {
			return err
		}
		c.Locals(testedKey{}, &tested{Question: fmt.Sprintf("%s %s on %s in tenant %q", caller.UserID, act, object, caller.Tenant), Allowed: ok})
		return s.keysPage(c, u, nil, "", nil)
	}
}

// uiTest runs a scenario file against a version in a throwaway host.
func (s *Server) uiTest(c *fiber.Ctx) error {
	domain := strings.Clone(c.Params("domain"))
	version, err := strconv.ParseInt(c.Params("version"), 10, 64)
	if err != nil || version < 1 {
		return notFound(c.Path())
	}
	u, file, err := s.formWithFile(c, "scenarios", 4<<20)
	if u == nil {
		return err
	}
	rep, err := s.registry.Test(c.UserContext(), domain, version, u.caller.UserID, file)
	if err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	return s.render(c, fiber.StatusOK, "test", u.page("Scenarios", "plugins", map[string]any{"Domain": domain, "Version": version, "Report": rep}))
}

// eventFilter keeps the events of a domain, resource and type (each
// optional), read from the stream name "domain.resource/id".
type eventFilter struct{ domain, resource, typ string }

func (f eventFilter) keep(e *store.Event) bool {
	head, _, _ := strings.Cut(e.Stream, "/")
	d, r, _ := strings.Cut(head, ".")
	return (f.domain == "" || f.domain == d) && (f.resource == "" || f.resource == r) && (f.typ == "" || f.typ == e.Type)
}

func cursorString(c store.Cursor) string {
	return strconv.FormatUint(c.TxID, 10) + "." + strconv.FormatInt(c.Position, 10)
}

func parseCursor(s string) (store.Cursor, bool) {
	tx, pos, ok := strings.Cut(s, ".")
	t, err1 := strconv.ParseUint(tx, 10, 64)
	p, err2 := strconv.ParseInt(pos, 10, 64)
	return store.Cursor{TxID: t, Position: p}, ok && err1 == nil && err2 == nil
}

// uiEvents shows the end of the global feed (every tenant's: an
// administrator's view), filtered, and the page then follows it.
func (s *Server) uiEvents(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	f := eventFilter{strings.Clone(c.Query("domain")), strings.Clone(c.Query("resource")), strings.Clone(c.Query("type"))}
	ft, ok := s.host.Store().(store.FeedTail)
	if !ok {
		return notFound(c.Path())
	}
	tail, err := ft.EventsLatest(c.UserContext(), 500)
	if err != nil {
		return err
	}
	cursor := store.Cursor{}
	if len(tail) > 0 {
		cursor = tail[len(tail)-1].Cursor()
	}
	var shown []*store.Event
	for i := len(tail) - 1; i >= 0 && len(shown) < 100; i-- {
		if f.keep(tail[i]) {
			shown = append(shown, tail[i])
		}
	}
	q := url.Values{"domain": {f.domain}, "resource": {f.resource}, "type": {f.typ}}
	return s.render(c, fiber.StatusOK, "events", u.page("Events", "events", map[string]any{
		"Domain": f.domain, "Resource": f.resource, "Type": f.typ, "Events": shown,
		"Cursor": cursorString(cursor), "FeedURL": "/admin/events/feed?" + q.Encode()}))
}

// uiFeed answers the events after a cursor, filtered, as JSON for the
// events page to follow.
func (s *Server) uiFeed(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	after, ok := parseCursor(c.Query("after"))
	if !ok {
		return problemError(fiber.StatusBadRequest, "invalid-query", "after is a cursor this page gave")
	}
	f := eventFilter{c.Query("domain"), c.Query("resource"), c.Query("type")}
	evs, err := s.host.Store().Executor().EventsReadAll(c.UserContext(), &store.EventsReadAllParams{After: after, Limit: 500})
	if err != nil {
		return err
	}
	out := []fiber.Map{}
	for _, e := range evs {
		if f.keep(e) {
			out = append(out, fiber.Map{"tenant": e.Tenant, "stream": e.Stream, "version": e.Version, "type": e.Type,
				"data": json.RawMessage(e.Data), "created_at": e.CreatedAt})
		}
		after = e.Cursor()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"events": out, "cursor": cursorString(after)})
}

type diffLine struct {
	A, B    string
	Changed bool
}

// uiDiff shows two versions' manifests side by side, aligned by a longest
// common subsequence of their lines (indented JSON, keys sorted).
func (s *Server) uiDiff(c *fiber.Ctx) error {
	u, err := s.signedIn(c)
	if u == nil {
		return err
	}
	domain := strings.Clone(c.Params("domain"))
	d, err := s.registry.Get(c.UserContext(), domain)
	if err != nil {
		return s.pluginsPage(c, u, "", uiProblem(err))
	}
	if len(d.Versions) < 2 {
		return s.pluginPage(c, u, domain, "", &Problem{Status: 400, Code: "nothing-to-compare", Detail: "the domain has one version"})
	}
	pick := func(name string, def int64) int64 {
		if v, err := strconv.ParseInt(c.Query(name), 10, 64); err == nil && v > 0 {
			return v
		}
		return def
	}
	a, b := pick("a", d.Versions[len(d.Versions)-2].Version), pick("b", d.Versions[len(d.Versions)-1].Version)
	lines := func(v int64) ([]string, error) {
		pv, err := s.registry.Version(c.UserContext(), domain, v)
		if err != nil {
			return nil, err
		}
		var doc any
		if err := json.Unmarshal(pv.Manifest, &doc); err != nil {
			return nil, err
		}
		out, _ := json.MarshalIndent(doc, "", "  ") // map keys come out sorted: stable lines
		return strings.Split(string(out), "\n"), nil
	}
	la, err := lines(a)
	if err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	lb, err := lines(b)
	if err != nil {
		return s.pluginPage(c, u, domain, "", uiProblem(err))
	}
	rows := sideBySide(la, lb)
	changed := 0
	for _, r := range rows {
		if r.Changed {
			changed++
		}
	}
	return s.render(c, fiber.StatusOK, "diff", u.page("Compare", "plugins",
		map[string]any{"Domain": domain, "A": a, "B": b, "Lines": rows, "Changed": changed}))
}

// sideBySide aligns two texts line by line: equal lines side by side, the
// others against a blank. Manifests are bounded (1 MiB), and so is the
// table this builds, at most 4,000 lines a side.
func sideBySide(a, b []string) []diffLine {
	const max = 4000
	if len(a) > max {
		a = a[:max]
	}
	if len(b) > max {
		b = b[:max]
	}
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max32(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out = append(out, diffLine{A: a[i], B: b[j]})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, diffLine{B: b[j], Changed: true})
			j++
		default:
			out = append(out, diffLine{A: a[i], Changed: true})
			i++
		}
	}
	return out
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// formWithFile reads a multipart form of the UI part by part: its CSRF
// token, which comes first and is checked (a live session, this form's
// token) before the file is read, then one file, bounded (413 past max)
// and streamed like an API upload. u is nil when the check has answered
// the request already (a redirect to sign in, a refusal).
func (s *Server) formWithFile(c *fiber.Ctx, name string, max int64) (u *uiContext, file []byte, err error) {
	_, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	mr := multipart.NewReader(requestBody(c), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			if u == nil { // no token: refused
				_, err := s.posted(c, "")
				return nil, nil, err
			}
			return u, file, nil
		}
		if err != nil {
			return nil, nil, problemError(fiber.StatusBadRequest, "malformed-multipart", "the form cannot be read")
		}
		switch part.FormName() {
		case "csrf":
			b, _ := io.ReadAll(io.LimitReader(part, 200))
			if u, err = s.posted(c, string(b)); u == nil {
				return nil, nil, err
			}
		case name:
			if u == nil { // the file before the token: refused
				_, err := s.posted(c, "")
				return nil, nil, err
			}
			b, err := io.ReadAll(io.LimitReader(part, max+1))
			if err != nil {
				return nil, nil, problemError(fiber.StatusBadRequest, "truncated", "the upload ended early")
			}
			if int64(len(b)) > max {
				return nil, nil, problemError(fiber.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the file is larger than the limit of %d bytes", max))
			}
			file = b
		}
	}
}
