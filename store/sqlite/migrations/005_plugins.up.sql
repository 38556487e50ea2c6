-- The plugin registry shared by every host. A domain's row says which
-- version it serves (active_version, 0: none) and whether it is disabled;
-- revision grows with every change of either, so racing writers can name
-- the one they saw. last_version is the highest number ever handed out in
-- the domain: numbers are never reused, even after a delete.
CREATE TABLE plugins (
    domain         TEXT    PRIMARY KEY,
    active_version INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    revision       INTEGER NOT NULL DEFAULT 0,
    last_version   INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL, -- Unix nanoseconds, UTC
    updated_by     TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Uploaded modules: their bytes live in a blob store under sha256 (hex).
-- manifest is the module's JSON exactly as it wrote it.
CREATE TABLE plugin_versions (
    domain      TEXT    NOT NULL REFERENCES plugins (domain),
    version     INTEGER NOT NULL CHECK (version > 0),
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    abi_version INTEGER NOT NULL,
    manifest    TEXT    NOT NULL DEFAULT '',
    toolchain   TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    uploaded_by TEXT    NOT NULL DEFAULT '',
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (domain, version),
    UNIQUE (domain, sha256)
) WITHOUT ROWID;

-- Lifecycle actions, oldest first by id. detail is a JSON object or NULL.
CREATE TABLE plugin_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    domain  TEXT    NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    action  TEXT    NOT NULL,
    actor   TEXT    NOT NULL DEFAULT '',
    at      INTEGER NOT NULL,
    detail  TEXT
);
CREATE INDEX plugin_audit_domain ON plugin_audit (domain, id);

-- Bumped whenever a domain's active version or disabled flag changes:
-- hosts poll it to converge.
CREATE TABLE plugin_registry_version (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    version INTEGER NOT NULL
);
INSERT INTO plugin_registry_version (one, version) VALUES (1, 0);
