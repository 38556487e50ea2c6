// Package postgres is the store driver for PostgreSQL, on pgx/v5: the
// backend many host processes share when Fluvius outgrows one machine.
//
// Appends are one statement (the expected-version check, the version
// numbering and the insert of every event, via unnest), and the unique
// (stream, version) constraint is the only concurrency control. The event
// feed is gapless under concurrent writers: every event records its
// transaction id (xid8) and the feed only returns events of transactions
// older than the oldest one still running, in (tx_id, position) order.
// Readers are woken with LISTEN/NOTIFY, with polling as the fallback.
package postgres
