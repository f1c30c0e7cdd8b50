-- Signed callbacks: each finished deployment (and, later, test run) is POSTed to the
-- app's callback_url, retried with back-off, every attempt recorded.

ALTER TABLE apps ADD COLUMN callback_url text;

CREATE TABLE callback_deliveries (
    id              uuid        PRIMARY KEY,
    app_id          uuid        NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- `deployment.finished`, …: sent as X-Slipway-Event.
    event           text        NOT NULL,
    -- The deployment (test run, …) the event is about.
    subject_id      uuid        NOT NULL,
    -- The exact body sent. NULL until the API renders it from the subject at the first
    -- attempt (the view code lives in the API; the worker may be the one that finished
    -- the deployment); every retry then sends the same bytes.
    payload         text,
    -- pending → delivered | failed (gave up).
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX callback_deliveries_due ON callback_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX callback_deliveries_app ON callback_deliveries (app_id, created_at DESC, id DESC);

CREATE TABLE callback_attempts (
    id           bigserial   PRIMARY KEY,
    delivery_id  uuid        NOT NULL REFERENCES callback_deliveries (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    -- The receiver's HTTP status, or NULL with `error` when none came back.
    http_status  smallint,
    error        text,
    duration_ms  integer     NOT NULL
);
CREATE INDEX callback_attempts_delivery ON callback_attempts (delivery_id, id);

-- The one way a callback is queued, from Rust (`store::callbacks::enqueue`) and from the
-- trigger below alike: nothing when the app has no callback_url or is being deleted.
-- Wakes the API's delivery loop.
CREATE FUNCTION slipway_enqueue_callback(p_app uuid, p_event text, p_subject uuid, p_payload text)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    queued uuid;
BEGIN
    INSERT INTO callback_deliveries (id, app_id, event, subject_id, payload)
    SELECT gen_random_uuid(), id, p_event, p_subject, p_payload FROM apps
    WHERE id = p_app AND callback_url IS NOT NULL AND deleted_at IS NULL
    RETURNING id INTO queued;
    IF queued IS NOT NULL THEN
        PERFORM pg_notify('slipway_callbacks', queued::text);
    END IF;
    RETURN queued;
END $$;

-- A deployment finishes when it leaves the queued/in-flight statuses, whichever
-- process moves it (a worker ending or promoting it, the API cancelling it, a newer
-- deployment superseding it): a trigger sees every such update in the transaction that
-- makes it. A running release that later crashes or is replaced has already finished.
CREATE FUNCTION slipway_deployment_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM slipway_enqueue_callback(NEW.app_id, 'deployment.finished', NEW.id, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER deployments_finished_callback
    AFTER UPDATE OF status ON deployments
    FOR EACH ROW
    WHEN (OLD.status IN ('pending', 'cloning', 'building', 'testing', 'releasing')
          AND NEW.status NOT IN ('pending', 'cloning', 'building', 'testing', 'releasing'))
    EXECUTE FUNCTION slipway_deployment_finished();
