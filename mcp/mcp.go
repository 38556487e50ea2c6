// Package mcp serves the plugins' domains to AI agents over the Model
// Context Protocol (github.com/modelcontextprotocol/go-sdk, streamable
// HTTP): every command a caller may send is a tool whose input schema is
// the command's payload schema, every resource a template for an
// aggregate's state and events, every listable resource a query tool. A
// call goes through the host's dispatcher, authorization and tenant scoping
// with the caller's identity, as a REST call does; domain errors come back
// as tool errors with the plugin's code and message. The tools follow plugin
// activation: sessions are told the list changed.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/query"
)

// Options configure a Service.
type Options struct {
	// Auth authenticates each request exactly as REST does (bearer tokens,
	// API keys); nil lets every caller in anonymously (development mode).
	Auth *auth.Authenticator
	// Version is the host's, announced to clients.
	Version string
	// Rescan is how often the served plugins are compared with those the
	// tools were made from (default 500 ms).
	Rescan time.Duration
	Logger *slog.Logger
}

// Service is the MCP endpoint of a host.
type Service struct {
	h       *host.Host
	opts    Options
	handler http.Handler

	mu       sync.Mutex
	sessions map[*sdk.Server]*served // one server per session, with its caller's tools
	plugins  string                  // the plugin set the tools were made from
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// served is a session's server and the tools it lists.
type served struct {
	caller abi.Caller
	tools  map[string]bool
	used   time.Time
}

type callerKey struct{}

// New makes the service. Start follows plugin activation; Close stops.
func New(h *host.Host, opts Options) *Service {
	if opts.Rescan <= 0 {
		opts.Rescan = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Service{h: h, opts: opts, sessions: map[*sdk.Server]*served{}}
	streamable := sdk.NewStreamableHTTPHandler(s.serverFor, &sdk.StreamableHTTPOptions{
		SessionTimeout: 30 * time.Minute, Logger: opts.Logger,
		// The host sits behind the admin API's own checks; its listener may
		// be reached under any name a deployment gives it.
		DisableLocalhostProtection: true,
	})
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.authenticate(r)
		if err != nil {
			var ae *auth.Error
			challenge := `Bearer realm="fluvius"`
			if errors.As(err, &ae) && ae != auth.ErrNoCredentials {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": "Unauthorized", "status": 401,
				"code": "unauthenticated", "detail": err.Error()})
			return
		}
		streamable.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	})
	return s
}

// Handler is the streamable HTTP endpoint (mount it at /mcp).
func (s *Service) Handler() http.Handler { return s.handler }

func (s *Service) authenticate(r *http.Request) (abi.Caller, error) {
	if s.opts.Auth == nil {
		return abi.Caller{}, nil
	}
	return s.opts.Auth.Authenticate(r.Context(), authRequest(r.Header))
}

func authRequest(h http.Header) auth.Request {
	req := auth.Request{Authorization: h.Get("Authorization"), ProxyUser: h.Get("X-Fluvius-User"), ProxyTenant: h.Get("X-Fluvius-Tenant")}
	for _, role := range strings.Split(h.Get("X-Fluvius-Roles"), ",") {
		if role = strings.TrimSpace(role); role != "" {
			req.ProxyRoles = append(req.ProxyRoles, role)
		}
	}
	return req
}

// callerOf authenticates a tool call or read again from its request's
// headers: a session outlives a revoked key no longer than its next call.
func (s *Service) callerOf(ctx context.Context, extra *sdk.RequestExtra) (abi.Caller, error) {
	if s.opts.Auth == nil {
		return abi.Caller{}, nil
	}
	if extra == nil || extra.Header == nil {
		return abi.Caller{}, errors.New("no credentials")
	}
	return s.opts.Auth.Authenticate(ctx, authRequest(extra.Header))
}

// serverFor makes the server of a new session: the tools and resources
// its caller may use.
func (s *Service) serverFor(r *http.Request) *sdk.Server {
	caller, _ := r.Context().Value(callerKey{}).(abi.Caller)
	srv := sdk.NewServer(&sdk.Implementation{Name: "fluvius", Title: "Fluvius", Version: s.opts.Version}, &sdk.ServerOptions{
		Instructions: "Domains served by a Fluvius host. Commands are tools (domain.command); their input is the aggregate's id (unless they create one) and the payload. Aggregates' state and events are resources (fluvius://DOMAIN/RESOURCE/ID, .../events); list tools (domain.resource.list) query a resource.",
		HasTools:     true, HasResources: true,
	})
	st := &served{caller: caller, tools: map[string]bool{}, used: time.Now()}
	s.mu.Lock()
	s.forget()
	s.sessions[srv] = st
	s.mu.Unlock()
	s.populate(srv, st)
	return srv
}

// forget drops servers whose sessions are all gone. Called with mu held.
func (s *Service) forget() {
	for srv, st := range s.sessions {
		n := 0
		for range srv.Sessions() {
			n++
		}
		if n == 0 && time.Since(st.used) > time.Minute {
			delete(s.sessions, srv)
		}
	}
}

// Start follows plugin activation until Close: when the served plugins
// change, every session's tools are made again (sessions are told).
func (s *Service) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.plugins = s.pluginSet()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.opts.Rescan)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if set := s.pluginSet(); set != s.plugins {
				s.plugins = set
				s.mu.Lock()
				for srv, st := range s.sessions {
					s.populate(srv, st)
				}
				s.mu.Unlock()
			}
		}
	}()
}

// Close stops following plugin activation and ends every session.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for srv := range s.sessions {
		for ss := range srv.Sessions() {
			ss.Close()
		}
		delete(s.sessions, srv)
	}
}

func (s *Service) pluginSet() string {
	var b strings.Builder
	for _, p := range s.h.Plugins() {
		b.WriteString(p.Domain() + "@" + p.SHA256() + ";")
	}
	return b.String()
}

// toolSpec is a tool and what it does.
type toolSpec struct {
	tool    *sdk.Tool
	handler sdk.ToolHandler
}

// populate makes a server's tools and resources those of the served
// plugins its caller may use, adding and removing only what changed (the
// SDK tells the sessions).
func (s *Service) populate(srv *sdk.Server, st *served) {
	want := map[string]toolSpec{}
	for _, p := range s.h.Plugins() {
		m := p.Manifest()
		for i := range m.Commands {
			cmd := &m.Commands[i]
			if !s.h.MaySend(st.caller, m.Domain, cmd.Name) {
				continue
			}
			for _, res := range cmd.Resources {
				name := m.Domain + "." + cmd.Name
				if len(cmd.Resources) > 1 {
					name += "." + res
				}
				want[name] = toolSpec{commandTool(name, m.Domain, cmd, res), s.callCommand(m.Domain, cmd.Name, res, cmd.New)}
			}
		}
		for _, agg := range m.Aggregates {
			for _, res := range agg.Resources {
				name := m.Domain + "." + res + ".list"
				want[name] = toolSpec{listTool(name, m.Domain, res, &agg), s.callList(m.Domain, res)}
			}
		}
	}
	var gone []string
	for name := range st.tools {
		if _, ok := want[name]; !ok {
			gone = append(gone, name)
			delete(st.tools, name)
		}
	}
	if len(gone) > 0 {
		srv.RemoveTools(gone...)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// Added again even if listed: a new version may have changed it.
		srv.AddTool(want[name].tool, want[name].handler)
		st.tools[name] = true
	}
	srv.AddResourceTemplate(&sdk.ResourceTemplate{Name: "state", Title: "An aggregate's state",
		URITemplate: "fluvius://{domain}/{resource}/{id}", MIMEType: "application/json",
		Description: "The current state of one aggregate, as GET /{domain}.{resource}/{id} answers it."}, s.readResource)
	srv.AddResourceTemplate(&sdk.ResourceTemplate{Name: "events", Title: "An aggregate's events",
		URITemplate: "fluvius://{domain}/{resource}/{id}/events", MIMEType: "application/json",
		Description: "The events of one aggregate, oldest first (the first 100)."}, s.readResource)
}

// commandTool is a command's tool: the aggregate id (unless it creates one)
// and the payload, typed by the payload schema.
func commandTool(name, domain string, cmd *abi.CommandSpec, resource string) *sdk.Tool {
	payload := any(map[string]any{"type": "object", "additionalProperties": false})
	if cmd.Payload != nil {
		payload = cmd.Payload
	}
	props := map[string]any{
		"payload":         payload,
		"idempotency_key": map[string]any{"type": "string", "maxLength": 200, "description": "makes a retried call answer what the first answered"},
	}
	required := []string{"payload"}
	if !cmd.New {
		props["id"] = map[string]any{"type": "string", "minLength": 1, "maxLength": 200, "description": "the " + resource + "'s id"}
		required = append(required, "id")
	}
	desc := cmd.Description
	if desc == "" {
		desc = cmd.Title
	}
	if desc == "" {
		desc = "Sends " + cmd.Name + " to a " + resource + " of domain " + domain + "."
	}
	if cmd.New {
		desc += " Creates a new " + resource + "."
	}
	return &sdk.Tool{Name: name, Title: cmd.Title, Description: desc,
		InputSchema: map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}}
}

// listTool queries a resource with the query language.
func listTool(name, domain, resource string, agg *abi.AggregateSpec) *sdk.Tool {
	desc := "Lists " + resource + " records of domain " + domain + " (the caller's tenant, what it may read)."
	if agg.Query != nil && len(agg.Query.Fields) > 0 {
		desc += " Filterable and sortable fields: " + strings.Join(agg.Query.Fields, ", ") + ", and _id, _created_at, _updated_at."
	}
	return &sdk.Tool{Name: name, Title: "List " + resource, Description: desc,
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true},
		InputSchema: map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
			"query": map[string]any{"type": "object", "description": `a filter in Fluvius's query language, e.g. {"status": "active", "age.gt": 30}`},
			"sort":  map[string]any{"type": "string", "description": "field.asc or field.desc, comma separated"},
			"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": 100},
			"text":  map[string]any{"type": "string", "description": "words to search the resource's text fields for"},
		}}}
}

// toolError is a refusal as a tool error: the plugin's code and message.
func toolError(err error) *sdk.CallToolResult {
	code, msg, details := "internal", err.Error(), any(nil)
	var he *host.Error
	if errors.As(err, &he) {
		code, msg, details = he.Code, he.Message, he.Details
		if he.Kind == host.KindInternal {
			msg = "the command failed inside its plugin"
		}
	}
	structured := map[string]any{"code": code, "message": msg}
	if details != nil {
		structured["details"] = details
	}
	return &sdk.CallToolResult{IsError: true, StructuredContent: structured,
		Content: []sdk.Content{&sdk.TextContent{Text: code + ": " + msg}}}
}

func (s *Service) callCommand(domain, command, resource string, isNew bool) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		caller, err := s.callerOf(ctx, req.Extra)
		if err != nil {
			return toolError(&host.Error{Kind: host.KindUnauthenticated, Code: "unauthenticated", Message: err.Error()}), nil
		}
		var in struct {
			ID             string          `json:"id"`
			Payload        json.RawMessage `json:"payload"`
			IdempotencyKey string          `json:"idempotency_key"`
		}
		if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
			return toolError(&host.Error{Kind: host.KindInvalid, Code: "invalid-arguments", Message: "the arguments are not an object of id and payload"}), nil
		}
		res, err := s.h.Dispatch(ctx, &host.Command{Domain: domain, Name: command, Resource: resource, AggregateID: in.ID, New: isNew,
			Payload: in.Payload, Caller: caller, IdempotencyKey: in.IdempotencyKey})
		if err != nil {
			return toolError(err), nil
		}
		var body map[string]any
		json.Unmarshal(res.Body, &body)
		return &sdk.CallToolResult{StructuredContent: body, Content: []sdk.Content{&sdk.TextContent{Text: string(res.Body)}}}, nil
	}
}

func (s *Service) callList(domain, resource string) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		caller, err := s.callerOf(ctx, req.Extra)
		if err != nil {
			return toolError(&host.Error{Kind: host.KindUnauthenticated, Code: "unauthenticated", Message: err.Error()}), nil
		}
		var in struct {
			Query json.RawMessage `json:"query"`
			Sort  string          `json:"sort"`
			Limit int             `json:"limit"`
			Text  string          `json:"text"`
		}
		if len(req.Params.Arguments) > 0 {
			if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
				return toolError(&host.Error{Kind: host.KindInvalid, Code: "invalid-arguments", Message: err.Error()}), nil
			}
		}
		q := query.Request{Query: string(in.Query), Sort: in.Sort, Text: in.Text}
		if in.Limit > 0 {
			q.Limit = fmt.Sprint(in.Limit)
		}
		res, err := s.h.List(ctx, caller, domain, resource, q)
		if err != nil {
			return toolError(err), nil
		}
		records := make([]map[string]any, len(res.Records))
		for i, r := range res.Records {
			records[i] = map[string]any{"id": r.ID, "data": json.RawMessage(r.Data), "version": r.Version}
		}
		out := map[string]any{"records": records, "total": res.Total}
		b, _ := json.Marshal(out)
		var structured map[string]any
		json.Unmarshal(b, &structured)
		return &sdk.CallToolResult{StructuredContent: structured, Content: []sdk.Content{&sdk.TextContent{Text: string(b)}}}, nil
	}
}

// readResource answers fluvius://DOMAIN/RESOURCE/ID[/events].
func (s *Service) readResource(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	caller, err := s.callerOf(ctx, req.Extra)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(req.Params.URI)
	if err != nil || u.Scheme != "fluvius" {
		return nil, sdk.ResourceNotFoundError(req.Params.URI)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	domain := u.Host
	if len(parts) < 2 || len(parts) > 3 || len(parts) == 3 && parts[2] != "events" {
		return nil, sdk.ResourceNotFoundError(req.Params.URI)
	}
	resource, id := parts[0], parts[1]
	var body []byte
	if len(parts) == 3 {
		evs, err := s.h.Events(ctx, caller, domain, resource, id, 0, 100, 1<<20)
		if err != nil {
			return nil, readError(req.Params.URI, err)
		}
		views := make([]host.EventView, len(evs))
		for i, ev := range evs {
			views[i] = host.ViewEvent(ev, false)
		}
		body, _ = json.Marshal(map[string]any{"events": views})
	} else {
		rec, err := s.h.State(ctx, caller, domain, resource, id)
		if err != nil {
			return nil, readError(req.Params.URI, err)
		}
		body, _ = json.Marshal(map[string]any{"id": id, "resource": resource, "data": json.RawMessage(rec.Data),
			"version": rec.Version, "etag": rec.ETag})
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "application/json", Text: string(body)}}}, nil
}

// readError: what the caller may not see does not exist, to it.
func readError(uri string, err error) error {
	var he *host.Error
	if errors.As(err, &he) && (he.Kind == host.KindNotFound || he.Kind == host.KindForbidden) {
		return sdk.ResourceNotFoundError(uri)
	}
	return err
}
