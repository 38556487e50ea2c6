-- Back to keys without the tenant. This fails (and changes nothing) if two
-- tenants hold the same id: they cannot share one key.
ALTER TABLE states DROP CONSTRAINT states_pkey;
ALTER TABLE states ADD PRIMARY KEY (domain, resource, id);
ALTER TABLE events DROP CONSTRAINT events_stream_version_unique;
ALTER TABLE events ADD CONSTRAINT events_stream_version_unique UNIQUE (stream, version);
ALTER TABLE events DROP COLUMN tenant;
