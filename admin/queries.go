package admin

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/query"
)

type stateView struct {
	ID        string          `json:"id"`
	Resource  string          `json:"resource"`
	Data      json.RawMessage `json:"data"`
	Version   int64           `json:"version"`
	ETag      string          `json:"etag,omitempty"`
	Tenant    string          `json:"tenant,omitempty"`
	CreatedAt *time.Time      `json:"created_at,omitempty"`
	CreatedBy string          `json:"created_by,omitempty"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
	UpdatedBy string          `json:"updated_by,omitempty"`
}

// query handles GET /{domain}.{resource}/{id} and .../events.
func (s *Server) query(c *fiber.Ctx) error {
	r, err := parseRoute(c.Path(), '.')
	if err != nil {
		return err
	}
	// Reads are the caller's: they see the caller's tenant only.
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	switch {
	case r.list:
		return s.list(c, caller, r)
	case r.tail == "":
		return s.state(c, caller, r)
	case r.tail == "events":
		return s.events(c, caller, r)
	}
	return notFound(c.Path())
}

// list handles GET /{domain}.{resource}/ with Fluvius's query parameters.
func (s *Server) list(c *fiber.Ctx, caller abi.Caller, r route) error {
	for _, k := range []string{"query", "sort", "limit", "page", "cursor", "select", "exclude", "include", "text", "deleted", "named"} {
		if n := len(c.Context().QueryArgs().PeekMulti(k)); n > 1 {
			return problemError(fiber.StatusBadRequest, "invalid-query", k+" is given "+strconv.Itoa(n)+" times")
		}
	}
	known := map[string]bool{"query": true, "sort": true, "limit": true, "page": true, "cursor": true, "select": true,
		"exclude": true, "include": true, "text": true, "deleted": true, "named": true}
	var unknown string
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if !known[string(k)] && unknown == "" {
			unknown = string(k)
		}
	})
	if unknown != "" {
		return problemError(fiber.StatusBadRequest, "invalid-query", "unknown parameter "+strconv.Quote(unknown)+
			": lists take query, sort, limit, page, cursor, select, exclude, include, text, deleted, named")
	}
	req := query.Request{Query: c.Query("query"), Sort: c.Query("sort"), Limit: c.Query("limit"), Page: c.Query("page"),
		Cursor: c.Query("cursor"), Select: c.Query("select"), Exclude: c.Query("exclude"), Include: c.Query("include"),
		Text: c.Query("text"), Deleted: c.Query("deleted"), Named: c.Query("named")}
	res, err := s.host.List(c.UserContext(), caller, r.domain, r.resource, req)
	if err != nil {
		return err
	}
	data := make([]stateView, len(res.Records))
	for i, rec := range res.Records {
		v := stateView{ID: rec.ID, Resource: rec.Resource, Data: rec.Data, Version: rec.Version, ETag: rec.ETag,
			CreatedAt: &rec.CreatedAt, UpdatedAt: &rec.UpdatedAt}
		if res.Include["tenant"] {
			v.Tenant = rec.Tenant
		}
		if res.Include["created_by"] {
			v.CreatedBy = rec.CreatedBy
		}
		if res.Include["updated_by"] {
			v.UpdatedBy = rec.UpdatedBy
		}
		data[i] = v
	}
	pages := (res.Total + int64(res.Limit) - 1) / int64(res.Limit)
	pagination := fiber.Map{"limit": res.Limit, "offset": res.Offset, "total": res.Total, "pages": pages}
	if res.Page > 0 {
		pagination["page"] = res.Page
	}
	if res.Next != "" {
		pagination["cursor"] = res.Next
	}
	return c.JSON(fiber.Map{"data": data, "pagination": pagination})
}

func (s *Server) state(c *fiber.Ctx, caller abi.Caller, r route) error {
	if at := c.Query("at"); at != "" {
		if c.Query("version") != "" {
			return problemError(fiber.StatusBadRequest, "invalid-query", "give version or at, not both")
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return problemError(fiber.StatusBadRequest, "invalid-query", "at is an RFC 3339 time, like 2026-01-02T15:04:05Z, not "+strconv.Quote(at))
		}
		data, version, err := s.host.StateAtTime(c.UserContext(), caller, r.domain, r.resource, r.id, t)
		if err != nil {
			return err
		}
		return c.JSON(stateView{ID: r.id, Resource: r.resource, Data: data, Version: version})
	}
	if v := c.Query("version"); v != "" {
		version, err := strconv.ParseInt(v, 10, 64)
		if err != nil || version < 1 {
			return problemError(fiber.StatusBadRequest, "invalid-query", "version must be a positive integer, not "+strconv.Quote(v))
		}
		data, err := s.host.StateAt(c.UserContext(), caller, r.domain, r.resource, r.id, version)
		if err != nil {
			return err
		}
		return c.JSON(stateView{ID: r.id, Resource: r.resource, Data: data, Version: version})
	}
	// Read-your-writes under a read replica: a client that was answered
	// version N asks for at least N.
	minVersion, err := intQuery(c, "min_version", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	rec, err := s.host.StateAtLeast(c.UserContext(), caller, r.domain, r.resource, r.id, minVersion)
	if err != nil {
		return err
	}
	etag := `"` + rec.ETag + `"`
	c.Set(fiber.HeaderETag, etag)
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && (inm == etag || inm == "*" || etagValue(inm) == rec.ETag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.JSON(stateView{ID: rec.ID, Resource: rec.Resource, Data: rec.Data, Version: rec.Version, ETag: rec.ETag,
		Tenant: rec.Tenant, CreatedAt: &rec.CreatedAt, CreatedBy: rec.CreatedBy, UpdatedAt: &rec.UpdatedAt, UpdatedBy: rec.UpdatedBy})
}

// An events page holds at most maxEventsPage events (and stops after the
// event whose data reaches Options.EventsPageBytes).
const maxEventsPage = 1000

func (s *Server) events(c *fiber.Ctx, caller abi.Caller, r route) error {
	after, err := intQuery(c, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, maxEventsPage)
	if err != nil {
		return err
	}
	evs, err := s.host.Events(c.UserContext(), caller, r.domain, r.resource, r.id, after, int(limit), s.pageBytes)
	if err != nil {
		return err
	}
	out := struct {
		Events []host.EventView `json:"events"`
		Next   *int64           `json:"next_after,omitempty"`
	}{Events: make([]host.EventView, len(evs))}
	for i, ev := range evs {
		out.Events[i] = host.ViewEvent(ev, true)
	}
	size := 0
	for _, ev := range evs {
		size += len(ev.Data)
	}
	if len(evs) == int(limit) || size >= s.pageBytes {
		last := evs[len(evs)-1].Version
		out.Next = &last
	}
	return c.JSON(out)
}

func intQuery(c *fiber.Ctx, name string, def, min, max int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, problemError(fiber.StatusBadRequest, "invalid-query",
			name+" must be an integer from "+strconv.FormatInt(min, 10)+" to "+strconv.FormatInt(max, 10)+", not "+strconv.Quote(v))
	}
	return n, nil
}
