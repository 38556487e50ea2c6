-- Lists sort by the record's times by default (newest first): an index per
-- time, in the order a list reads, skipping soft-deleted records.
CREATE INDEX states_list_created ON states (tenant, domain, resource, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX states_list_updated ON states (tenant, domain, resource, updated_at, id) WHERE deleted_at IS NULL;
