package admin_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestBatch(t *testing.T) { onDrivers(t, testBatch) }

func testBatch(t *testing.T, fresh func() string) {
	s := startServer(t, fresh())
	ann := []string{"X-Fluvius-User", "ann", "X-Fluvius-Tenant", "acme"}
	existing := s.do(t, "POST", "/user:create-user/user/:new", `{"email":"kim@example.com","name":"Kim"}`, ann...).want(t, 201).body["id"].(string)
	total := func() float64 {
		return s.do(t, "GET", "/user.user/?limit=1", "", ann...).want(t, 200).body["pagination"].(map[string]any)["total"].(float64)
	}
	statuses := func(r response) string {
		var out []string
		for _, x := range r.body["results"].([]any) {
			out = append(out, fmt.Sprint(x.(map[string]any)["status"]))
		}
		return strings.Join(out, " ")
	}

	// Independent commands: each answers for itself.
	r := s.do(t, "POST", "/_batch", `{"commands": [
		{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{"email":"a@example.com","name":"A"}},
		{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{"email":"nope","name":"B"}},
		{"domain":"user","command":"update-user","resource":"user","id":"missing","payload":{"name":"C"}}]}`, ann...).want(t, 200)
	if got := statuses(r); got != "201 422 404" || r.body["committed"] != false {
		t.Fatalf("independent commands: %s (%s)", got, r.raw)
	}
	second := r.body["results"].([]any)[1].(map[string]any)["body"].(map[string]any)
	if second["code"] != "invalid-email" || second["status"] != float64(422) {
		t.Fatalf("a refused command's body: %v", second)
	}
	if total() != 2 {
		t.Fatalf("after the independent batch: %v users", total())
	}

	// Atomic: one refusal and nothing is written.
	r = s.do(t, "POST", "/_batch", `{"atomic": true, "commands": [
		{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{"email":"d@example.com","name":"D"}},
		{"domain":"user","command":"update-user","resource":"user","id":"`+existing+`","payload":{"name":"Kim Two"}},
		{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{"email":"bad","name":"E"}}]}`, ann...).want(t, 200)
	if got := statuses(r); got != "424 424 422" || r.body["committed"] != false {
		t.Fatalf("an atomic batch with a refusal: %s (%s)", got, r.raw)
	}
	if total() != 2 || s.do(t, "GET", "/user.user/"+existing, "", ann...).want(t, 200).body["version"] != float64(1) {
		t.Fatal("a refused atomic batch wrote something")
	}

	// Atomic: all together, one aggregate twice (the second sees the first).
	r = s.do(t, "POST", "/_batch", `{"atomic": true, "commands": [
		{"domain":"user","command":"update-user","resource":"user","id":"`+existing+`","payload":{"name":"Kim Two"}},
		{"domain":"user","command":"update-user","resource":"user","id":"`+existing+`","payload":{"name":"Kim Three"},"idempotency_key":"k-1"},
		{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{"email":"f@example.com","name":"F"}}]}`, ann...).want(t, 200)
	if got := statuses(r); got != "200 200 201" || r.body["committed"] != true {
		t.Fatalf("an atomic batch: %s (%s)", got, r.raw)
	}
	kim := s.do(t, "GET", "/user.user/"+existing, "", ann...).want(t, 200).body
	if kim["version"] != float64(3) || kim["data"].(map[string]any)["name"] != "Kim Three" || total() != 3 {
		t.Fatalf("after the atomic batch: %v, %v users", kim, total())
	}
	// Its idempotency key holds, as for a single command.
	s.do(t, "POST", "/user:update-user/user/"+existing, `{"name":"Kim Three"}`, append(ann, "Idempotency-Key", "k-1")...).want(t, 200)
	if v := s.do(t, "GET", "/user.user/"+existing, "", ann...).body["version"]; v != float64(3) {
		t.Fatalf("the batch's idempotency key did not hold: version %v", v)
	}

	// Bad batches are refused whole.
	s.do(t, "POST", "/_batch", `{"commands": [], "commands": []}`, ann...).problem(t, 400, "malformed-json")
	s.do(t, "POST", "/_batch", `{"commands": []}`, ann...).problem(t, 400, "invalid-batch")
	s.do(t, "POST", "/_batch", `{"commands": "x"}`, ann...).problem(t, 400, "invalid-batch")
	many := strings.Repeat(`{"domain":"user","command":"create-user","resource":"user","id":":new","payload":{}},`, 101)
	s.do(t, "POST", "/_batch", `{"commands": [`+strings.TrimSuffix(many, ",")+`]}`, ann...).problem(t, 400, "invalid-batch")
}
