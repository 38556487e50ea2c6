-- Durable subscriptions (event handlers): each one's place in the feed
-- (the last event handled, as the feed orders it: tx_id, position), the
-- lease that lets one host run it (times of the database's clock, so hosts
-- with skewed clocks agree), and its count of events handled.
CREATE TABLE subscriptions (
    name        text        PRIMARY KEY,
    tx_id       xid8        NOT NULL DEFAULT '0',
    position    bigint      NOT NULL DEFAULT 0,
    owner       text        NOT NULL DEFAULT '',
    lease_until timestamptz NOT NULL DEFAULT 'epoch',
    delivered   bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Deliveries a subscription set aside after they failed; resolution is ''
-- until an operator retries ('retried') or skips ('skipped') one.
CREATE TABLE dead_letters (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription text        NOT NULL,
    event_id     text        NOT NULL,
    tenant       text        NOT NULL,
    stream       text        NOT NULL,
    version      bigint      NOT NULL,
    type         text        NOT NULL,
    tx_id        xid8        NOT NULL DEFAULT '0',
    position     bigint      NOT NULL,
    code         text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    attempts     integer     NOT NULL DEFAULT 0,
    failed_at    timestamptz NOT NULL,
    resolution   text        NOT NULL DEFAULT '',
    resolved_by  text        NOT NULL DEFAULT '',
    resolved_at  timestamptz,
    CONSTRAINT dead_letters_event_unique UNIQUE (subscription, event_id)
);
CREATE INDEX dead_letters_open ON dead_letters (subscription, resolution, id);
