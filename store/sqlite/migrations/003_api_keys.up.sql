-- API keys for services and operators: the secret is stored as its SHA-256
-- hash only. roles is a JSON array of strings.
CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL DEFAULT '',
    tenant     TEXT    NOT NULL DEFAULT '',
    roles      TEXT    NOT NULL DEFAULT '[]',
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    revoked_at INTEGER
) WITHOUT ROWID;
