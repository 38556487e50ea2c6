-- Uploaded files (media): their metadata; the bytes are in the blob store
-- under blob_key, shared by uploads of the same content in one tenant.
-- Times are Unix nanoseconds, UTC.
CREATE TABLE media (
    id           TEXT    PRIMARY KEY,
    tenant       TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    blob_key     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX media_content ON media (tenant, sha256, created_at);
CREATE INDEX media_blob ON media (blob_key);

-- The aggregates that reference each media (commands attach them).
CREATE TABLE media_refs (
    tenant       TEXT    NOT NULL,
    media_id     TEXT    NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    domain       TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    aggregate_id TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (media_id, domain, resource, aggregate_id)
) WITHOUT ROWID;
