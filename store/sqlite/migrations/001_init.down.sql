DROP TABLE idempotency;
DROP TABLE states;
DROP TABLE events;
