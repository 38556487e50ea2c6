// Package auth authenticates callers: it turns a bearer token (a JWT) into
// the abi.Caller the host hands to domains, or refuses it.
//
// It owns the whole decision for every surface (the REST API, the admin UI,
// MCP later) so that they cannot disagree about who is calling: which
// algorithms and keys are trusted, how expiry, issuer and audience are
// checked, how the JWKS of an identity provider is fetched, cached and
// rotated, and how claims map to the user, tenant and roles. It knows
// nothing of HTTP servers: the HTTP layer takes the token out of
// "Authorization: Bearer <token>", calls Verifier.Verify, and answers 401
// when it returns an *Error.
//
// Two kinds of keys are supported, alone or together:
//
//   - a shared secret (FLUVIUS_JWT_SECRET), for HS256 tokens only;
//   - a JWKS URL (FLUVIUS_JWKS_URL), for RS256, ES256 and EdDSA tokens only,
//     as issued by Keycloak and most OpenID Connect providers.
//
// Every other algorithm, "alg": "none" included, is refused, and a key is
// only ever used with the algorithm of its own type, so a token cannot talk
// the verifier into using a public key as an HMAC secret.
package auth
