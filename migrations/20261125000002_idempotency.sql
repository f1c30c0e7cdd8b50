-- A POST repeated with the same Idempotency-Key (or X-Request-ID) within 24 hours gets
-- the first answer again instead of doing the work twice. `status` is NULL while the
-- first request is still being answered.
CREATE TABLE idempotency_keys (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         text NOT NULL,
    request     bytea NOT NULL,
    status      smallint,
    location    text,
    response    bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
