-- Uploaded files (media): their metadata; the bytes are in the blob store
-- under blob_key, shared by uploads of the same content in one tenant.
CREATE TABLE media (
    id           text        PRIMARY KEY,
    tenant       text        NOT NULL,
    owner        text        NOT NULL,
    name         text        NOT NULL,
    size         bigint      NOT NULL,
    content_type text        NOT NULL,
    sha256       text        NOT NULL,
    blob_key     text        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX media_content ON media (tenant, sha256, created_at);
CREATE INDEX media_blob ON media (blob_key);

-- The aggregates that reference each media (commands attach them).
CREATE TABLE media_refs (
    tenant       text        NOT NULL,
    media_id     text        NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    domain       text        NOT NULL,
    resource     text        NOT NULL,
    aggregate_id text        NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (media_id, domain, resource, aggregate_id)
);
