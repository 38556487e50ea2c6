-- The event log: append-only. position is the global order (one writer, so
-- commit order is position order); (stream, version) is unique, which is
-- what makes a lost update impossible.
CREATE TABLE events (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    stream     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    type       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL, -- Unix nanoseconds, UTC
    UNIQUE (stream, version)
);

-- State records (read models): the latest state of each aggregate.
CREATE TABLE states (
    domain     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    etag       TEXT    NOT NULL,
    tenant     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT '',
    deleted_at INTEGER,
    PRIMARY KEY (domain, resource, id)
) WITHOUT ROWID;

-- No secondary index yet: a (domain, resource, tenant) index made the
-- planner pick it over the primary key for single-record reads, scanning a
-- whole resource per command. Query indexes come with the query language.

-- Idempotency records: the answer given to a command sent with a key.
CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    response     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
