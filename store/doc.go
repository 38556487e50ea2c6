// Package store defines the persistence contract of the Fluvius host: one
// Driver interface behind which the event log, state records (read models)
// and idempotency records live, whatever the backend.
//
// Drivers live in sub-packages (store/sqlite, the embedded default; a
// PostgreSQL driver follows) and translate backend errors into the sentinels
// below, so callers use errors.Is. Every write exists on Executor, which both
// the driver (one statement, its own transaction) and a Tx (the caller's
// transaction) implement: the dispatcher appends events, writes state and
// records idempotency in one transaction.
//
// store/storetest is the conformance suite every driver's tests run.
package store
