package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"

	"fluvius.dev/fluvius/abi"
)

// Request is what a surface (REST, the admin UI, MCP) hands over of a
// request's credentials: the Authorization value as sent, and what a
// trusted proxy said of the caller.
type Request struct {
	Authorization string
	ProxyUser     string
	ProxyTenant   string
	ProxyRoles    []string
}

// Authenticator turns credentials into a caller. A valid credential is
// honoured in every mode: a JWT (when a Verifier is configured), an API key,
// or the admin key. Without credentials the caller is refused when
// RequireAuth is set, taken from the proxy's word when TrustProxyHeaders is
// set, and otherwise anonymous (development mode).
type Authenticator struct {
	JWT               *Verifier // nil: bearer tokens other than keys are refused
	Keys              *APIKeys  // nil: API keys are refused
	AdminKey          string    // FLUVIUS_ADMIN_KEY, compared as given; "" when the key is a stored one
	RequireAuth       bool
	TrustProxyHeaders bool
}

// ErrNoCredentials is the *Error a request without credentials gets when
// authentication is required.
var ErrNoCredentials = &Error{Reason: "credentials required"}

// Authenticate returns the caller of r, or an *Error to answer with 401.
func (a *Authenticator) Authenticate(ctx context.Context, r Request) (abi.Caller, error) {
	if r.Authorization != "" {
		scheme, token, _ := strings.Cut(r.Authorization, " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return abi.Caller{}, &Error{Reason: "only Bearer credentials are accepted"}
		}
		return a.bearer(ctx, token)
	}
	if a.TrustProxyHeaders && r.ProxyUser != "" {
		if !validID(r.ProxyUser) || reservedUser(r.ProxyUser) || (r.ProxyTenant != "" && !validID(r.ProxyTenant)) || len(r.ProxyRoles) > MaxRoles {
			return abi.Caller{}, &Error{Reason: "the proxy's caller headers are not valid ids"}
		}
		for _, role := range r.ProxyRoles {
			if !validID(role) {
				return abi.Caller{}, &Error{Reason: "the proxy's caller headers are not valid ids"}
			}
		}
		return abi.Caller{UserID: r.ProxyUser, Tenant: r.ProxyTenant, Roles: r.ProxyRoles}, nil
	}
	if a.RequireAuth {
		return abi.Caller{}, ErrNoCredentials
	}
	return abi.Caller{}, nil
}

func (a *Authenticator) bearer(ctx context.Context, token string) (abi.Caller, error) {
	if a.AdminKey != "" {
		want, got := sha256.Sum256([]byte(a.AdminKey)), sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(want[:], got[:]) == 1 {
			return abi.Caller{UserID: "key:" + AdminKeyID, Roles: []string{RoleAdmin}}, nil
		}
	}
	if strings.HasPrefix(token, APIKeyPrefix) {
		if a.Keys == nil {
			return abi.Caller{}, errKeyRefused
		}
		return a.Keys.Verify(ctx, token)
	}
	if a.JWT == nil {
		return abi.Caller{}, &Error{Reason: "bearer tokens are not accepted: no JWT secret or JWKS is configured"}
	}
	return a.JWT.Verify(ctx, token)
}

// ErrNotAdmin is returned by Admin for a caller without the admin role.
var ErrNotAdmin = errors.New("the admin role is required")

// Admin authenticates a request to the management API, which always
// requires credentials with the admin role, whatever the mode.
func (a *Authenticator) Admin(ctx context.Context, r Request) (abi.Caller, error) {
	if r.Authorization == "" {
		return abi.Caller{}, ErrNoCredentials
	}
	c, err := a.Authenticate(ctx, r)
	if err != nil {
		return c, err
	}
	for _, role := range c.Roles {
		if role == RoleAdmin {
			return c, nil
		}
	}
	return c, ErrNotAdmin
}

// Development reports whether anonymous callers are let in.
func (a *Authenticator) Development() bool { return !a.RequireAuth }
