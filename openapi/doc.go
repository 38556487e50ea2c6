// Package openapi describes a host's HTTP API as an OpenAPI 3.1 document,
// made from the manifests of the plugins it serves: one operation per
// command and resource, the state, events and list reads of every
// resource, the platform's own routes (live events, media, batches), the
// problem body, the authentication schemes and the headers, with examples
// made from the schemas that the host itself accepts.
//
// It owns the document's shape and nothing of HTTP: admin serves what
// Build returns at /openapi.json and renders it at /docs.
package openapi
