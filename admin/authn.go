package admin

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/auth"
)

// credentials reads what the auth service needs of a request: the
// Authorization header, and the X-Fluvius-* headers a trusted proxy sets
// (auth decides whether they count). The values are copied: Fiber's
// strings alias a buffer the next request reuses, and the auth service
// keeps ids (in its key cache, in callers that outlive the request).
func credentials(c *fiber.Ctx) auth.Request {
	r := auth.Request{Authorization: strings.Clone(c.Get(fiber.HeaderAuthorization)),
		ProxyUser: strings.Clone(c.Get("X-Fluvius-User")), ProxyTenant: strings.Clone(c.Get("X-Fluvius-Tenant"))}
	for _, role := range strings.Split(strings.Clone(c.Get("X-Fluvius-Roles")), ",") {
		if role = strings.TrimSpace(role); role != "" {
			r.ProxyRoles = append(r.ProxyRoles, role)
		}
	}
	return r
}

// authenticate returns the request's caller, or the 401 to answer.
func (s *Server) authenticate(c *fiber.Ctx) (abi.Caller, error) {
	caller, err := s.auth.Authenticate(c.UserContext(), credentials(c))
	if err == nil {
		c.Locals(callerKey{}, caller) // for the error log
	}
	return caller, s.authError(c, err)
}

type callerKey struct{}

// callerOf returns the caller authenticated for the request, if any.
func callerOf(c *fiber.Ctx) abi.Caller {
	caller, _ := c.Locals(callerKey{}).(abi.Caller)
	return caller
}

// administrator returns the caller of a management request: credentials
// with the admin role, whatever the mode.
func (s *Server) administrator(c *fiber.Ctx) (abi.Caller, error) {
	caller, err := s.auth.Admin(c.UserContext(), credentials(c))
	if errors.Is(err, auth.ErrNotAdmin) {
		return caller, problemError(fiber.StatusForbidden, "forbidden", "the management API needs the admin role (permission admin)")
	}
	return caller, s.authError(c, err)
}

// authError answers a refused credential with 401, a problem body and the
// WWW-Authenticate challenge RFC 6750 describes. The reason is fixed text
// from the auth service; the cause goes to the log only.
func (s *Server) authError(c *fiber.Ctx, err error) error {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return err
	}
	challenge := `Bearer realm="fluvius"`
	if ae != auth.ErrNoCredentials {
		challenge += `, error="invalid_token", error_description="` + ae.Reason + `"`
	}
	c.Set(fiber.HeaderWWWAuthenticate, challenge)
	s.log.Info("request not authenticated", "path", c.Path(), "reason", ae.Reason, "err", err)
	return problemError(fiber.StatusUnauthorized, "unauthenticated", "the request is not authenticated: "+ae.Reason)
}
