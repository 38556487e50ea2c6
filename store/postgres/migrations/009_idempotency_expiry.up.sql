-- Idempotency records expire: the sweep deletes the oldest first.
CREATE INDEX idempotency_created ON idempotency (created_at);
