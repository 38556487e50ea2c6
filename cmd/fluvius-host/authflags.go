package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"fluvius.dev/fluvius/auth"
	"fluvius.dev/fluvius/store"
)

// authFlags configure authentication for serve.
type authFlags struct {
	jwtSecret, jwksURL, issuer, audience string
	userClaim, tenantClaim, rolesClaim   string
	adminKey                             string
	requireAuth, insecureDev, trustProxy bool
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.jwtSecret, "jwt-secret", envOr("FLUVIUS_JWT_SECRET", ""), "HS256 secret for bearer tokens, at least 32 bytes (env FLUVIUS_JWT_SECRET); turns authentication on")
	fs.StringVar(&a.jwksURL, "jwks-url", envOr("FLUVIUS_JWKS_URL", ""), "JWKS URL for RS256/ES256/EdDSA bearer tokens (env FLUVIUS_JWKS_URL); turns authentication on")
	fs.StringVar(&a.issuer, "jwt-issuer", envOr("FLUVIUS_JWT_ISSUER", ""), "required token issuer (env FLUVIUS_JWT_ISSUER)")
	fs.StringVar(&a.audience, "jwt-audience", envOr("FLUVIUS_JWT_AUDIENCE", ""), "required token audience (env FLUVIUS_JWT_AUDIENCE)")
	fs.StringVar(&a.userClaim, "jwt-user-claim", envOr("FLUVIUS_JWT_USER_CLAIM", "sub"), "claim naming the user")
	fs.StringVar(&a.tenantClaim, "jwt-tenant-claim", envOr("FLUVIUS_JWT_TENANT_CLAIM", "tenant"), "claim naming the tenant")
	fs.StringVar(&a.rolesClaim, "jwt-roles-claim", envOr("FLUVIUS_JWT_ROLES_CLAIM", "roles"), "claim listing the roles (else Keycloak's realm_access.roles)")
	fs.StringVar(&a.adminKey, "admin-key", envOr("FLUVIUS_ADMIN_KEY", ""), "key of the management API (env FLUVIUS_ADMIN_KEY); without it one is generated at first start and printed once")
	fs.BoolVar(&a.requireAuth, "require-auth", false, "refuse requests without credentials even without a JWT secret or JWKS (API keys then suffice)")
	fs.BoolVar(&a.insecureDev, "insecure-dev", false, "allow development mode (anonymous callers) on a listener that is not loopback")
	fs.BoolVar(&a.trustProxy, "trust-proxy-headers", false, "take the caller from X-Fluvius-User, -Tenant and -Roles (only behind a proxy that authenticates and sets them)")
}

// build makes the authenticator. It refuses development mode on a
// listener others can reach unless --insecure-dev says so.
func (a *authFlags) build(ctx context.Context, listen string, keys store.APIKeyStore, log *slog.Logger) (*auth.Authenticator, func(), error) {
	au := &auth.Authenticator{Keys: auth.NewAPIKeys(keys), AdminKey: a.adminKey,
		RequireAuth: a.requireAuth || a.jwtSecret != "" || a.jwksURL != "", TrustProxyHeaders: a.trustProxy}
	closeFn := func() {}
	if a.jwtSecret != "" || a.jwksURL != "" {
		v, err := auth.NewVerifier(ctx, auth.Config{Secret: []byte(a.jwtSecret), JWKSURL: a.jwksURL, Issuer: a.issuer,
			Audience: a.audience, Logger: log,
			Claims: auth.ClaimNames{User: a.userClaim, Tenant: a.tenantClaim, Roles: a.rolesClaim}})
		if err != nil {
			return nil, nil, fmt.Errorf("configuring bearer tokens: %w", err)
		}
		au.JWT, closeFn = v, v.Close
	}
	if !au.RequireAuth && !au.TrustProxyHeaders {
		if !loopback(listen) && !a.insecureDev {
			closeFn()
			return nil, nil, errors.New("no authentication is configured (--jwt-secret, --jwks-url or --require-auth) " +
				"and " + listen + " is not a loopback address: anyone could act as anyone; pass --insecure-dev to serve so anyway")
		}
		log.Warn("development mode: no authentication is configured, every caller is anonymous in the default tenant")
	}
	if a.adminKey == "" {
		key, err := auth.EnsureAdminKey(ctx, keys, time.Now().UTC().Truncate(time.Microsecond))
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("making the admin key: %w", err)
		}
		if key != "" {
			log.Warn("generated the admin key of the management API; it is shown this once, keep it", "admin_key", key)
		}
	}
	return au, closeFn, nil
}

// loopback reports whether a listen address only takes local connections.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
