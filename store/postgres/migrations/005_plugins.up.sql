-- The plugin registry shared by every host. A domain's row says which
-- version it serves (active_version, 0: none) and whether it is disabled;
-- revision grows with every change of either, so racing writers can name
-- the one they saw. last_version is the highest number ever handed out in
-- the domain: numbers are never reused, even after a delete. Uploads to a
-- domain lock its row to number their versions; registry changes are rare.
CREATE TABLE plugins (
    domain         text        PRIMARY KEY,
    active_version bigint      NOT NULL DEFAULT 0,
    disabled       boolean     NOT NULL DEFAULT false,
    revision       bigint      NOT NULL DEFAULT 0,
    last_version   bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL,
    updated_by     text        NOT NULL DEFAULT ''
);

-- Uploaded modules: their bytes live in a blob store under sha256 (hex).
-- manifest is the module's JSON exactly as it wrote it (text, not jsonb,
-- so it reads back byte for byte).
CREATE TABLE plugin_versions (
    domain      text        NOT NULL REFERENCES plugins (domain),
    version     bigint      NOT NULL CHECK (version > 0),
    sha256      text        NOT NULL,
    size        bigint      NOT NULL,
    abi_version integer     NOT NULL,
    manifest    text        NOT NULL DEFAULT '',
    toolchain   text        NOT NULL DEFAULT '',
    status      text        NOT NULL,
    uploaded_by text        NOT NULL DEFAULT '',
    uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (domain, version),
    CONSTRAINT plugin_versions_sha256_unique UNIQUE (domain, sha256)
);

-- Lifecycle actions, oldest first by id. detail is a JSON object or NULL.
CREATE TABLE plugin_audit (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain  text        NOT NULL,
    version bigint      NOT NULL DEFAULT 0,
    action  text        NOT NULL,
    actor   text        NOT NULL DEFAULT '',
    at      timestamptz NOT NULL,
    detail  text
);
CREATE INDEX plugin_audit_domain ON plugin_audit (domain, id);

-- Bumped whenever a domain's active version or disabled flag changes:
-- hosts poll it to converge.
CREATE TABLE plugin_registry_version (
    one     integer PRIMARY KEY CHECK (one = 1),
    version bigint  NOT NULL
);
INSERT INTO plugin_registry_version (one, version) VALUES (1, 0);
