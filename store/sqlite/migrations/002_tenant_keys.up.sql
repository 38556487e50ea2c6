-- The tenant becomes part of an aggregate's identity: the same id in two
-- tenants names two aggregates. States are keyed (tenant, domain, resource,
-- id); events carry their tenant, and a stream is unique within its tenant.
-- SQLite cannot change a primary key or a unique constraint in place, so
-- both tables are rebuilt; events keep their positions.
CREATE TABLE states_new (
    tenant     TEXT    NOT NULL DEFAULT '',
    domain     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    etag       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT '',
    deleted_at INTEGER,
    PRIMARY KEY (tenant, domain, resource, id)
) WITHOUT ROWID;
INSERT INTO states_new (tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by, deleted_at)
    SELECT tenant, domain, resource, id, data, version, etag, created_at, created_by, updated_at, updated_by, deleted_at FROM states;
DROP TABLE states;
ALTER TABLE states_new RENAME TO states;

CREATE TABLE events_new (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    tenant     TEXT    NOT NULL DEFAULT '',
    stream     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    type       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (tenant, stream, version)
);
-- An aggregate's events move to the tenant its state record names.
INSERT INTO events_new (position, id, tenant, stream, version, type, data, metadata, created_at)
    SELECT e.position, e.id, coalesce(s.tenant, ''), e.stream, e.version, e.type, e.data, e.metadata, e.created_at
    FROM events e LEFT JOIN states s ON e.stream = s.domain || '.' || s.resource || '/' || s.id;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
-- AUTOINCREMENT stays past every position handed out (the rename carries
-- the sequence; this guards it).
UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(position), 0) FROM events)) WHERE name = 'events';
