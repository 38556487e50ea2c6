-- The event log. position is the global insert order; under concurrent
-- writers commit order differs, so each event also records its transaction
-- (tx_id, xid8) and the feed reads in (tx_id, position) order below the
-- oldest running transaction. The unique (stream, version) constraint is the
-- only concurrency control: no lock on any shared row, table or category.
CREATE TABLE events (
    position   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text        NOT NULL,
    stream     text        NOT NULL,
    version    bigint      NOT NULL CHECK (version > 0),
    type       text        NOT NULL,
    data       jsonb       NOT NULL,
    metadata   jsonb       NOT NULL DEFAULT '{}',
    tx_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL,
    CONSTRAINT events_id_unique UNIQUE (id),
    CONSTRAINT events_stream_version_unique UNIQUE (stream, version)
);

CREATE INDEX events_feed ON events (tx_id, position);

-- State records (read models), with audit columns and soft delete.
CREATE TABLE states (
    domain     text        NOT NULL,
    resource   text        NOT NULL,
    id         text        NOT NULL,
    data       jsonb       NOT NULL,
    version    bigint      NOT NULL,
    etag       text        NOT NULL,
    tenant     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL DEFAULT '',
    deleted_at timestamptz,
    PRIMARY KEY (domain, resource, id)
);

-- No secondary index yet: a (domain, resource, tenant) index made the
-- planner pick it over the primary key for single-record reads, scanning a
-- whole resource per command. Query indexes come with the query language.

-- Idempotency records: the exact answer given to a command sent with a key.
CREATE TABLE idempotency (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    response     bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
