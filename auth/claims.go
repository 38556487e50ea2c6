package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"fluvius.dev/fluvius/abi"
)

// caller maps the claims of a verified token to the caller. The token is
// genuine by now, but its claims are still bounded: ids end up in events,
// logs and URLs, and a provider misconfiguration should be refused loudly
// rather than stored.
func (v *Verifier) caller(claims jwt.MapClaims) (abi.Caller, error) {
	user, ok := claims[v.names.User].(string)
	if !ok || user == "" {
		return abi.Caller{}, &Error{Reason: "token has no user (" + v.names.User + ")"}
	}
	if !validID(user) || reservedUser(user) {
		return abi.Caller{}, &Error{Reason: "user id not accepted"}
	}
	var tenant string
	if raw, present := claims[v.names.Tenant]; present && raw != nil {
		s, ok := raw.(string)
		if !ok || !(s == "" || validID(s)) {
			return abi.Caller{}, &Error{Reason: "tenant not accepted"}
		}
		tenant = s
	}
	roles, ok := v.roles(claims)
	if !ok {
		return abi.Caller{}, &Error{Reason: "roles not accepted"}
	}
	return abi.Caller{UserID: user, Tenant: tenant, Roles: roles}, nil
}

// roles reads the roles claim, else Keycloak's realm_access.roles. A claim
// that is present but of the wrong shape refuses the token rather than
// silently granting nothing, so that a misconfigured claim name is noticed.
func (v *Verifier) roles(claims jwt.MapClaims) ([]string, bool) {
	raw, present := claims[v.names.Roles]
	if !present || raw == nil {
		ra, present := claims["realm_access"]
		if !present || ra == nil {
			return nil, true
		}
		m, ok := ra.(map[string]any)
		if !ok {
			return nil, false
		}
		raw = m["roles"]
		if raw == nil {
			return nil, true
		}
		if _, ok := raw.([]any); !ok {
			return nil, false
		}
	}
	var roles []string
	switch r := raw.(type) {
	case string:
		// One string of space-separated roles, like OAuth's "scope". The
		// token's size bounds the work of splitting it.
		roles = strings.Fields(r)
		if len(roles) > MaxRoles {
			return nil, false
		}
	case []any:
		if len(r) > MaxRoles {
			return nil, false
		}
		roles = make([]string, 0, len(r))
		for _, e := range r {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			if s != "" {
				roles = append(roles, s)
			}
		}
	default:
		return nil, false
	}
	for _, r := range roles {
		if !validID(r) {
			return nil, false
		}
	}
	if len(roles) == 0 {
		return nil, true
	}
	return roles, true
}

// validID reports whether s is fit to be a user or tenant id or a role: not
// empty, at most MaxIDLen bytes, valid UTF-8 without control characters.
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// reservedUser reports whether a user id from outside (a token, a proxy
// header) starts like a subject the host gives meaning to: an API key
// ("key:"), a role ("role:"), an aggregate role ("aggregate:"), an event
// handler ("handler:") or a job ("job:"). Such an id would match the
// policies written for those, or send internal commands, so it is refused.
func reservedUser(id string) bool {
	for _, p := range [...]string{"key:", "role:", "aggregate:", "handler:", "job:"} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}
