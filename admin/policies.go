package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/authz"
	"fluvius.dev/fluvius/store"
)

// The management API's policies: list, add, remove, and test a request.
// Every route needs the admin role.

type policyView struct {
	Type   string   `json:"type"` // "p" or "g"
	Values []string `json:"values"`
}

// decodeStrict reads a JSON body into v, refusing duplicate and unknown
// properties.
func decodeStrict(body []byte, v any, shape string) error {
	if _, err := (*schema.Validator)(nil).Validate(body); err != nil {
		return problemError(fiber.StatusBadRequest, "malformed-json", err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problemError(fiber.StatusBadRequest, "invalid-payload", "send "+shape+": "+err.Error())
	}
	return nil
}

func (s *Server) listPolicies(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	rules, err := s.authz.Rules(c.UserContext())
	if err != nil {
		return err
	}
	out := struct {
		Policies []policyView `json:"policies"`
	}{Policies: make([]policyView, len(rules))}
	for i, r := range rules {
		out.Policies[i] = policyView{Type: r.Type, Values: r.Values}
	}
	return c.JSON(out)
}

const policyShape = `{"type": "p", "values": [subject, tenant, object, action]} or {"type": "g", "values": [user, role, tenant]}`

func (s *Server) changePolicy(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	var v policyView
	if err := decodeStrict(c.Body(), &v, policyShape); err != nil {
		return err
	}
	if err := s.changeRule(c.UserContext(), store.PolicyRule{Type: v.Type, Values: v.Values}, c.Method() == fiber.MethodDelete); err != nil {
		return err
	}
	if c.Method() == fiber.MethodDelete {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Status(fiber.StatusCreated).JSON(v)
}

// testPolicy answers whether a caller may do an action on an object,
// holding the given roles on the aggregate it addresses.
func (s *Server) testPolicy(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	var q struct {
		User   string   `json:"user"`
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
		Held   []string `json:"aggregate_roles"` // roles held on the aggregate addressed
		Object string   `json:"object"`
		Action string   `json:"action"`
	}
	if err := decodeStrict(c.Body(), &q, `{"user", "tenant", "roles", "aggregate_roles", "object", "action"}`); err != nil {
		return err
	}
	ok, err := s.authz.Allowed(abi.Caller{UserID: q.User, Tenant: q.Tenant, Roles: q.Roles}, q.Held, q.Object, q.Action)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"allowed": ok})
}

// changeRule adds or removes a rule for the management API and the admin
// UI alike, a refusal as the problem to answer.
func (s *Server) changeRule(ctx context.Context, r store.PolicyRule, remove bool) error {
	var err error
	if remove {
		err = s.authz.Remove(ctx, r)
	} else {
		err = s.authz.Add(ctx, r)
	}
	switch {
	case errors.Is(err, authz.ErrBadRule):
		return problemError(fiber.StatusBadRequest, "invalid-payload", err.Error())
	case errors.Is(err, store.ErrDuplicate):
		return problemError(fiber.StatusConflict, "policy-exists", "that rule is there already")
	case errors.Is(err, store.ErrNotFound):
		return problemError(fiber.StatusNotFound, "policy-not-found", "no such rule")
	}
	return err
}
