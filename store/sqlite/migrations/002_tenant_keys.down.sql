-- Back to keys without the tenant. This fails (and changes nothing) if two
-- tenants hold the same id: they cannot share one key.
CREATE TABLE states_old (
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
INSERT INTO states_old (domain, resource, id, data, version, etag, tenant, created_at, created_by, updated_at, updated_by, deleted_at)
    SELECT domain, resource, id, data, version, etag, tenant, created_at, created_by, updated_at, updated_by, deleted_at FROM states;
DROP TABLE states;
ALTER TABLE states_old RENAME TO states;

CREATE TABLE events_old (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    stream     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    type       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (stream, version)
);
INSERT INTO events_old (position, id, stream, version, type, data, metadata, created_at)
    SELECT position, id, stream, version, type, data, metadata, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(position), 0) FROM events)) WHERE name = 'events';
