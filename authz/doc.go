// Package authz decides whether a caller may do something: role-based
// access control with tenants (Casbin's domains) over rules kept in the
// store (store.PolicyStore), shared by every host. It knows nothing of HTTP.
//
// A rule "p, SUBJECT, TENANT, OBJECT, ACTION" grants ACTION on OBJECT in
// TENANT ("*" for every tenant) to SUBJECT: a user id, or "role:NAME". A rule
// "g, USER, role:NAME, TENANT" gives a user a role in a tenant; the roles a
// caller's token or API key carries count too. Objects are the policy names
// plugins declare in their manifests (by default "domain:command" for a
// command and "domain.resource" for reads), matched with keyMatch ("bank:*").
// A rule for "aggregate:ROLE" grants to whoever holds ROLE on the one
// aggregate a request addresses (its owner, a member): the host reads who
// holds what from the aggregate's state, as its manifest declares.
//
// Each host keeps the rules in a Casbin enforcer with a result cache and
// polls the store's policy version, so a change made on one host is
// enforced by all within about a second.
package authz
