-- The tenant becomes part of an aggregate's identity: the same id in two
-- tenants names two aggregates. States are keyed (tenant, domain, resource,
-- id); events carry their tenant, and a stream is unique within its tenant.
ALTER TABLE events ADD COLUMN tenant text NOT NULL DEFAULT '';
-- An aggregate's events move to the tenant its state record names.
UPDATE events e SET tenant = s.tenant
    FROM states s
    WHERE s.tenant <> '' AND e.stream = s.domain || '.' || s.resource || '/' || s.id;
ALTER TABLE events DROP CONSTRAINT events_stream_version_unique;
ALTER TABLE events ADD CONSTRAINT events_stream_version_unique UNIQUE (tenant, stream, version);
ALTER TABLE states DROP CONSTRAINT states_pkey;
ALTER TABLE states ADD PRIMARY KEY (tenant, domain, resource, id);
