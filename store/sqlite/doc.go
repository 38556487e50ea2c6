// Package sqlite is the embedded default store driver, on modernc.org/sqlite
// (pure Go, no cgo).
//
// The database runs in WAL mode with synchronous=FULL, so an acknowledged
// commit survives a power cut. SQLite allows one writer at a time: the driver
// keeps one writer connection (transactions start IMMEDIATE, so they never
// fail half-way on an upgrade to a write lock) and a small pool of read-only
// connections that read concurrently with it.
package sqlite
