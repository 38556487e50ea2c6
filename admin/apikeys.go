package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/store"
)

// The management API's API keys: created (the key is shown in that answer
// only), listed without secrets, revoked. Every route needs the admin role.

type apiKeyView struct {
	ID        string     `json:"id"`
	Key       string     `json:"key,omitempty"` // only when created
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant"`
	Roles     []string   `json:"roles"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func viewAPIKey(k *store.APIKey) apiKeyView {
	roles := k.Roles
	if roles == nil {
		roles = []string{}
	}
	return apiKeyView{ID: k.ID, Name: k.Name, Tenant: k.Tenant, Roles: roles, CreatedAt: k.CreatedAt,
		CreatedBy: k.CreatedBy, RevokedAt: k.RevokedAt}
}

func (s *Server) createAPIKey(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	var req struct {
		Name   string   `json:"name"`
		Tenant string   `json:"tenant"`
		Roles  []string `json:"roles"`
	}
	body := c.Body()
	if _, err := (*schema.Validator)(nil).Validate(body); err != nil {
		return problemError(fiber.StatusBadRequest, "malformed-json", err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return problemError(fiber.StatusBadRequest, "invalid-payload",
			`send {"name": "...", "tenant": "...", "roles": ["..."]}: `+err.Error())
	}
	v, err := s.issueAPIKey(c.UserContext(), admin, req.Name, req.Tenant, req.Roles)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(v)
}

// issueAPIKey checks and stores a new key for the management API and the
// admin UI alike; the answer holds the key, shown this once.
func (s *Server) issueAPIKey(ctx context.Context, admin abi.Caller, name, tenant string, roles []string) (apiKeyView, error) {
	if !fitName(name, true) || !fitName(tenant, true) || len(roles) > 100 {
		return apiKeyView{}, problemError(fiber.StatusBadRequest, "invalid-payload",
			"name and tenant must be printable and at most 200 bytes; at most 100 roles")
	}
	for _, r := range roles {
		if !fitName(r, false) {
			return apiKeyView{}, problemError(fiber.StatusBadRequest, "invalid-payload", "each role must be printable, 1 to 200 bytes")
		}
	}
	key, rec, err := auth.NewAPIKey("", name, tenant, roles, admin.UserID, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return apiKeyView{}, err
	}
	if err := s.keys.APIKeyCreate(ctx, rec); err != nil {
		return apiKeyView{}, err
	}
	v := viewAPIKey(rec)
	v.Key = key
	return v, nil
}

func (s *Server) listAPIKeys(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	keys, err := s.keys.APIKeyList(c.UserContext())
	if err != nil {
		return err
	}
	out := struct {
		Keys []apiKeyView `json:"api_keys"`
	}{Keys: make([]apiKeyView, len(keys))}
	for i, k := range keys {
		out.Keys[i] = viewAPIKey(k)
	}
	return c.JSON(out)
}

func (s *Server) revokeAPIKey(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id")) // Fiber's string aliases the request buffer
	if err := s.revokeKey(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// revokeKey revokes a key for the management API and the admin UI alike.
func (s *Server) revokeKey(ctx context.Context, id string) error {
	err := s.keys.APIKeyRevoke(ctx, id, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return problemError(fiber.StatusNotFound, "api-key-not-found", "no API key "+id)
	}
	if err != nil {
		return err
	}
	if s.auth.Keys != nil {
		s.auth.Keys.Forget(id)
	}
	return nil
}

// fitName says whether s is a printable name of at most 200 bytes.
func fitName(s string, mayBeEmpty bool) bool {
	if (s == "" && !mayBeEmpty) || len(s) > 200 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
