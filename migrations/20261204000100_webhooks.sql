-- Signed forge webhooks (POST /hooks/{provider}/{app}).

-- The secret forges sign their deliveries with, and Slipway its callbacks. It is shown
-- to the app's owner, so it is kept recoverable: sealed with SLIPWAY_SECRET_KEY (as
-- config vars are) when the server has one, else as it is (webhook_secret_sealed says
-- which). Apps created before this migration get theirs the first time it is needed.
ALTER TABLE apps
    ADD COLUMN webhook_secret        bytea,
    ADD COLUMN webhook_secret_sealed boolean NOT NULL DEFAULT false;

-- Deliveries already acted on, by the forge's delivery id, with the answer they got:
-- a repeat within 24 hours gets that answer again and does nothing. Only deliveries
-- that were accepted are kept; a refused one changed nothing and may be sent again.
CREATE TABLE webhook_deliveries (
    app_id       uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    provider     text        NOT NULL,
    delivery_id  text        NOT NULL,
    status       smallint,
    body         text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, provider, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- Pull/merge request events, recorded for preview environments to act on. `action` is
-- normalised across forges (GitHub `synchronize`, Gitea `synchronized` and a GitLab
-- `update` with new commits are all `synchronized`; a merge is `closed` with `merged`).
CREATE TABLE pull_request_events (
    id            uuid        PRIMARY KEY,
    app_id        uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    provider      text        NOT NULL,
    delivery_id   text        NOT NULL,
    number        bigint      NOT NULL,
    action        text        NOT NULL,
    head_sha      text        NOT NULL,
    head_ref      text,
    head_repo     text,
    base_ref      text,
    base_repo     text,
    merged        boolean     NOT NULL DEFAULT false,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pull_request_events_app ON pull_request_events (app_id, number, received_at);
