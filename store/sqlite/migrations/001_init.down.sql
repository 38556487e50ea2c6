DROP TABLE idempotency;
DROP INDEX states_tenant;
DROP TABLE states;
DROP TABLE events;
