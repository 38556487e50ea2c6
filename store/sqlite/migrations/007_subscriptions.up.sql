-- Durable subscriptions (event handlers): each one's place in the feed
-- (the last event handled, by position; tx_id is PostgreSQL's and stays 0
-- here), the lease that lets one host run it, and its count of events
-- handled. Times are Unix nanoseconds, UTC.
CREATE TABLE subscriptions (
    name        TEXT    PRIMARY KEY,
    tx_id       INTEGER NOT NULL DEFAULT 0,
    position    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    delivered   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Deliveries a subscription set aside after they failed; resolution is ''
-- until an operator retries ('retried') or skips ('skipped') one.
CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    stream       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    tx_id        INTEGER NOT NULL DEFAULT 0,
    position     INTEGER NOT NULL,
    code         TEXT    NOT NULL DEFAULT '',
    message      TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    failed_at    INTEGER NOT NULL,
    resolution   TEXT    NOT NULL DEFAULT '',
    resolved_by  TEXT    NOT NULL DEFAULT '',
    resolved_at  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subscription, event_id)
);
CREATE INDEX dead_letters_open ON dead_letters (subscription, resolution, id);
