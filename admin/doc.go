// Package admin is the HTTP face of a Fluvius host, on Fiber: the REST API
// for commands, state and events in Fluvius's URL style, the domain metadata
// endpoint, and the problem renderer every error goes through.
//
//	POST /{domain}:{command}/{resource}/{id}     run a command (id ":new" creates)
//	GET  /{domain}.{resource}/{id}               current state (ETag; ?version=N replays)
//	GET  /{domain}.{resource}/{id}/events        the aggregate's events
//	GET  /_meta, /_meta/{domain}                 domains, commands and payload schemas
//	GET  /_events                                live events: SSE, or a WebSocket on upgrade
//	GET  /healthz                                liveness
package admin
