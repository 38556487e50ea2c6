-- API keys for services and operators: the secret is stored as its SHA-256
-- hash only.
CREATE TABLE api_keys (
    id         text        PRIMARY KEY,
    name       text        NOT NULL DEFAULT '',
    tenant     text        NOT NULL DEFAULT '',
    roles      text[]      NOT NULL DEFAULT '{}',
    hash       bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL DEFAULT '',
    revoked_at timestamptz
);
