package admin_test

import (
	"testing"
	"time"

	"fluvius.dev/fluvius/admin"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
	"fluvius.dev/fluvius/store/postgres/pgtest"
)

const testAdminKey = "an-admin-key-for-the-tests-of-this-package"

// startAuthorized starts a server whose host checks declared permissions
// against the policies in its store, with the management API on.
func startAuthorized(t *testing.T, where string) *server {
	var az *authz.Authorizer
	return startServerWith(t, where, func(c *host.Config) {
		var err error
		if az, err = authz.New(t.Context(), c.Store.(store.PolicyStore), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		c.Authorizer = az
	}, func(o *admin.Options) {
		o.Auth = &auth.Authenticator{TrustProxyHeaders: true, AdminKey: testAdminKey}
		o.Authz = az
	})
}

// Two hosts share PostgreSQL. A command that declares a permission gets 403
// naming it; a grant made through one host's management API lets the
// caller in on the other within a second or so, and its removal there
// locks it out again here.
func TestPoliciesAcrossHosts(t *testing.T) {
	url := pgtest.URL(t)
	a, b := startAuthorized(t, url), startAuthorized(t, url)
	kim := []string{"X-Fluvius-User", "kim", "X-Fluvius-Tenant", "acme", "X-Fluvius-Roles", "keeper"}
	admin := []string{"Authorization", "Bearer " + testAdminKey}
	open := func(s *server, id string) response {
		return s.do(t, "POST", "/faulty:open-vault/vault/"+id, `{}`, kim...)
	}
	forbidden := open(a, "v1").problem(t, 403, "forbidden")
	if d := forbidden.body["detail"].(string); d != "permission run on faulty:open-vault is required" {
		t.Fatalf("403 detail %q", d)
	}
	rule := `{"type":"p","values":["role:keeper","acme","faulty:open-vault","run"]}`
	a.do(t, "POST", "/_admin/policies", rule, kim...).problem(t, 401, "unauthenticated")
	a.do(t, "POST", "/_admin/policies", rule, admin...).want(t, 201)
	a.do(t, "POST", "/_admin/policies", rule, admin...).problem(t, 409, "policy-exists")
	a.do(t, "POST", "/_admin/policies", `{"type":"p","values":["too","few"]}`, admin...).problem(t, 400, "invalid-payload")
	if got := a.do(t, "POST", "/_admin/policies/test", `{"user":"kim","tenant":"acme","roles":["keeper"],"object":"faulty:open-vault","action":"run"}`,
		admin...).want(t, 200); got.body["allowed"] != true {
		t.Fatalf("test: %s", got.raw)
	}
	eventually(t, func() bool { return open(b, "v2").status == 201 })
	b.do(t, "DELETE", "/_admin/policies", rule, admin...).want(t, 204)
	eventually(t, func() bool { return open(a, "v3").status == 403 })
	if list := a.do(t, "GET", "/_admin/policies", "", admin...).want(t, 200); len(list.body["policies"].([]any)) != 0 {
		t.Fatalf("policies left: %s", list.raw)
	}
}

func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("the change did not reach the other host within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Roles on one aggregate over HTTP: the owner of a locker may use it, a
// stranger gets 403 alike for a locker that exists and one that does not;
// the policy test endpoint answers for aggregate roles; a command that
// declares auth_required answers an anonymous caller 401 with a challenge,
// even in development mode.
func TestAggregateRolesHTTP(t *testing.T) {
	s := startAuthorized(t, t.TempDir())
	admin := []string{"Authorization", "Bearer " + testAdminKey}
	s.do(t, "POST", "/_admin/policies", `{"type":"p","values":["aggregate:owner","*","faulty:use-locker","run"]}`, admin...).want(t, 201)
	ann := []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}
	eve := []string{"X-Fluvius-User", "eve", "X-Fluvius-Tenant", "acme"}
	id := s.do(t, "POST", "/faulty:open-locker/locker/:new", `{}`, ann...).want(t, 201).body["id"].(string)
	s.do(t, "POST", "/faulty:use-locker/locker/"+id, `{}`, ann...).want(t, 200)
	a := s.do(t, "POST", "/faulty:use-locker/locker/"+id, `{}`, eve...).problem(t, 403, "forbidden")
	b := s.do(t, "POST", "/faulty:use-locker/locker/nothing-here", `{}`, eve...).problem(t, 403, "forbidden")
	if a.body["detail"] != b.body["detail"] {
		t.Errorf("refusals differ: %s / %s", a.raw, b.raw)
	}
	for held, want := range map[string]bool{`["owner"]`: true, `["member"]`: false, `[]`: false} {
		got := s.do(t, "POST", "/_admin/policies/test", `{"user":"x","tenant":"acme","aggregate_roles":`+held+
			`,"object":"faulty:use-locker","action":"run"}`, admin...).want(t, 200)
		if got.body["allowed"] != want {
			t.Errorf("test with aggregate roles %s: %s", held, got.raw)
		}
	}
	r := s.do(t, "POST", "/faulty:peek-locker/locker/"+id, `{}`).problem(t, 401, "authentication-required")
	if r.header.Get("WWW-Authenticate") != `Bearer realm="fluvius"` {
		t.Errorf("challenge %q", r.header.Get("WWW-Authenticate"))
	}
	s.do(t, "POST", "/faulty:peek-locker/locker/"+id, `{}`, eve...).want(t, 200)
}
