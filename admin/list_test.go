package admin_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// Lists over HTTP on both drivers, with the user example: the query
// language, sorting, paging by page and by cursor, projections, text
// search, soft delete, tenants, and a 400 naming what is wrong.
func TestListsHTTP(t *testing.T) { onDrivers(t, testListsHTTP) }

func testListsHTTP(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	acme := []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}
	ids := map[string]string{}
	for i, u := range []struct{ name, tags string }{
		{"Ann Lee", `["ops","admin"]`}, {"bob", `["ops"]`}, {"Carl", `[]`}, {"Dora", `["dev"]`}, {"Eve Lee", `["dev","ops"]`},
	} {
		body := fmt.Sprintf(`{"email":"u%d@example.com","name":%q,"tags":%s}`, i, u.name, u.tags)
		ids[u.name] = s.do(t, "POST", "/user:create-user/user/:new", body, acme...).want(t, 201).body["id"].(string)
	}
	s.do(t, "POST", "/user:create-user/user/:new", `{"email":"x@example.com","name":"Ann Lee"}`,
		"X-Fluvius-User", "zed", "X-Fluvius-Tenant", "globex").want(t, 201)
	s.do(t, "POST", "/user:deactivate-user/user/"+ids["Carl"], `{}`, acme...).want(t, 200)
	s.do(t, "POST", "/user:delete-user/user/"+ids["Dora"], `{"reason":"left"}`, acme...).want(t, 200)
	s.do(t, "GET", "/user.user/"+ids["Dora"], "", acme...).problem(t, 404, "aggregate-not-found")
	s.do(t, "POST", "/user:update-user/user/"+ids["Dora"], `{"name":"D"}`, acme...).problem(t, 404, "aggregate-not-found")

	list := func(params string) response {
		t.Helper()
		return s.do(t, "GET", "/user.user/?"+params, "", acme...)
	}
	names := func(r response) string {
		t.Helper()
		var out []string
		for _, d := range r.body["data"].([]any) {
			out = append(out, d.(map[string]any)["data"].(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	q := func(filter string) string { return "query=" + url.QueryEscape(filter) }
	for params, want := range map[string]string{
		"":                               "Ann Lee,Carl,Eve Lee,bob", // the default sort: name.asc, the deleted left out
		"deleted=true":                   "Ann Lee,Carl,Dora,Eve Lee,bob",
		"sort=name.desc":                 "bob,Eve Lee,Carl,Ann Lee",
		q(`{"name.has":"lee"}`):          "Ann Lee,Eve Lee",
		q(`{"name!has":"lee"}`):          "Carl,bob",
		q(`{"tags.cs":["ops"]}`):         "Ann Lee,Eve Lee,bob",
		q(`{"tags.ov":["admin","dev"]}`): "Ann Lee,Eve Lee",
		q(`{"status":"deactivated"}`):    "Carl",
		q(`{"status.ne":"deactivated"}`): "Ann Lee,Eve Lee,bob",
		q(`{".or":[{"name":"bob"},{"name":"Carl"}]}`): "Carl,bob",
		q(`{"!or":{"name":"bob","tags.cs":["dev"]}}`): "Ann Lee,Carl",
		q(`{"name.in":["bob","Carl","Zed"]}`):         "Carl,bob",
		"text=lee":                                    "Ann Lee,Eve Lee",
		"named=active":                                "Ann Lee,Eve Lee,bob",
		"named=active&" + q(`{"name.has":"lee"}`):     "Ann Lee,Eve Lee",
		"text=" + url.QueryEscape("eve u4"):           "Eve Lee",
	} {
		if got := names(list(params).want(t, 200)); got != want {
			t.Errorf("%s: got %s, want %s", params, got, want)
		}
	}
	// Pages: total, pages (right when the total divides evenly), page 2.
	r := list("limit=2&page=2").want(t, 200)
	p := r.body["pagination"].(map[string]any)
	if names(r) != "Eve Lee,bob" || p["total"] != 4.0 || p["pages"] != 2.0 || p["page"] != 2.0 || p["offset"] != 2.0 {
		t.Fatalf("page 2: %s", r.raw)
	}
	// The cursor walks the same rows without OFFSET.
	var walked []string
	next := ""
	for i := 0; i < 5; i++ {
		params := "limit=3&sort=name.desc"
		if next != "" {
			params += "&cursor=" + url.QueryEscape(next)
		}
		r := list(params).want(t, 200)
		if n := names(r); n != "" {
			walked = append(walked, n)
		}
		c, _ := r.body["pagination"].(map[string]any)["cursor"].(string)
		if c == "" {
			break
		}
		next = c
	}
	if strings.Join(walked, ",") != "bob,Eve Lee,Carl,Ann Lee" {
		t.Fatalf("walked %v", walked)
	}
	list("limit=3&sort=name.asc&cursor="+url.QueryEscape(next)).problem(t, 400, "invalid-query")
	// Projections.
	r = list("select=name&include=created_by&limit=1").want(t, 200)
	d := r.body["data"].([]any)[0].(map[string]any)
	if len(d["data"].(map[string]any)) != 1 || d["created_by"] != "ann" {
		t.Fatalf("select and include: %s", r.raw)
	}
	r = list("exclude=email,tags&limit=1").want(t, 200)
	if dd := r.body["data"].([]any)[0].(map[string]any)["data"].(map[string]any); dd["email"] != nil || dd["tags"] != nil || dd["name"] == nil {
		t.Fatalf("exclude: %s", r.raw)
	}
	// Another tenant sees its own.
	r = s.do(t, "GET", "/user.user/", "", "X-Fluvius-User", "zed", "X-Fluvius-Tenant", "globex").want(t, 200)
	if names(r) != "Ann Lee" {
		t.Fatalf("globex: %s", r.raw)
	}
	// Refusals name what is wrong.
	for params, want := range map[string]string{
		"limit=1001":                   "limit",
		"limit=x":                      "limit",
		"page=0":                       "page",
		q(`{"nope":1}`):                `unknown field "nope"`,
		q(`{"name.cs":["a"]}`):         "its operators are",
		q(`{"tags.eq":"a"}`):           "its operators are",
		q(`{"created_at.gt":"soon"}`):  "whole number",
		q(`{"_created_at.gt":"soon"}`): "RFC 3339",
		q(`{"name":"a","name":"b"}`):   "more than once",
		q(`{"name":`):                  "query",
		q(`[1]`):                       "JSON object",
		q(strings.Repeat(`{".and":`, 8) + `{"name":"a"}` + strings.Repeat("}", 8)): "deeper",
		"sort=tags":                        "array",
		"sort=nope.asc":                    `unknown field "nope"`,
		"select=a.b":                       "select",
		"include=password":                 "include",
		"bogus=1":                          "bogus",
		"named=nope":                       `no query named "nope"`,
		"text=" + strings.Repeat("w ", 20): "words",
	} {
		r := list(params).problem(t, 400, "invalid-query")
		if !strings.Contains(r.body["detail"].(string), want) {
			t.Errorf("%s: detail %q does not say %q", params, r.body["detail"], want)
		}
	}
	// Time travel by time.
	s.do(t, "GET", "/user.user/"+ids["Carl"]+"?at=yesterday", "", acme...).problem(t, 400, "invalid-query")
	s.do(t, "GET", "/user.user/"+ids["Carl"]+"?at=2000-01-01T00:00:00Z", "", acme...).problem(t, 404, "aggregate-not-found")
	then := s.do(t, "GET", "/user.user/"+ids["Carl"]+"?at=2999-01-01T00:00:00Z", "", acme...).want(t, 200)
	if then.body["version"] != 2.0 || then.body["data"].(map[string]any)["status"] != "deactivated" {
		t.Fatalf("at a later time: %s", then.raw)
	}
	// What a list offers.
	m := s.do(t, "GET", "/_meta/user.user/", "").want(t, 200)
	if !strings.Contains(string(m.raw), `"name":"tags","type":"array","operators":["cs","ov","null"]`) ||
		!strings.Contains(string(m.raw), `"default_sort":["name.asc"]`) || !strings.Contains(string(m.raw), `"named":{"active":`) {
		t.Fatalf("meta: %s", m.raw)
	}
}
