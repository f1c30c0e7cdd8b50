-- Slipway's initial schema: apps, deployments (which are also the work queue), the
-- event history of every status change, build/release log lines, and the containers
-- each running release owns.

CREATE TYPE deployment_status AS ENUM (
    'pending', 'cloning', 'building', 'testing', 'releasing',
    'running', 'failed', 'cancelled', 'superseded', 'crashed', 'rolled_back'
);

CREATE TABLE apps (
    id          uuid PRIMARY KEY,
    -- Filled once authentication lands; every store query already filters through
    -- `owner_id IS NOT DISTINCT FROM` so that adding owners is a column, not a rewrite.
    owner_id    uuid,
    name        text NOT NULL,
    repo_url    text NOT NULL,
    branch      text,
    dockerfile  text NOT NULL DEFAULT 'Dockerfile',
    port        integer CHECK (port BETWEEN 1 AND 65535),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set by DELETE; the worker tears the app's containers down, then removes the row.
    deleted_at  timestamptz
);

-- The name is also the subdomain, so it is unique across all owners while the app lives.
CREATE UNIQUE INDEX apps_name_live ON apps (name) WHERE deleted_at IS NULL;
CREATE INDEX apps_deleted ON apps (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE deployments (
    id               uuid PRIMARY KEY,
    app_id           uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    git_ref          text,
    status           deployment_status NOT NULL DEFAULT 'pending',
    failed_phase     text,
    reason           text,
    commit_sha       text,
    commit_message   text,
    image            text,
    port             integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    worker_id        text,
    lease_expires_at timestamptz,
    attempts         integer NOT NULL DEFAULT 0
);

CREATE INDEX deployments_app_created ON deployments (app_id, created_at DESC);
CREATE INDEX deployments_queue ON deployments (created_at) WHERE status = 'pending';
CREATE INDEX deployments_leases ON deployments (lease_expires_at)
    WHERE status IN ('cloning', 'building', 'testing', 'releasing');

CREATE TABLE deployment_events (
    id            bigserial PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    status        deployment_status NOT NULL,
    message       text,
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX deployment_events_deployment ON deployment_events (deployment_id, id);

-- One global sequence orders every line; `seq` is what clients page with (?after=SEQ).
CREATE TABLE deployment_logs (
    seq           bigserial PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    stream        text NOT NULL,
    line          text NOT NULL
);
CREATE INDEX deployment_logs_deployment ON deployment_logs (deployment_id, seq);

CREATE TABLE deployment_containers (
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    name          text NOT NULL,
    container_id  text NOT NULL,
    process       text NOT NULL DEFAULT 'web',
    ip            text,
    port          integer NOT NULL,
    host_port     integer,
    PRIMARY KEY (deployment_id, name)
);

-- Wakes idle workers the moment work is queued; polling remains the fallback.
CREATE FUNCTION notify_deployment_queued() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('slipway_queue', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER deployments_queued
    AFTER INSERT OR UPDATE OF status ON deployments
    FOR EACH ROW WHEN (NEW.status = 'pending')
    EXECUTE FUNCTION notify_deployment_queued();

-- Tells the worker running a deployment that it was superseded or cancelled, so it
-- stops at once instead of at its next lease renewal.
CREATE FUNCTION notify_deployment_stopped() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('slipway_queue', 'stop:' || NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER deployments_stopped
    AFTER UPDATE OF status ON deployments
    FOR EACH ROW WHEN (
        OLD.status IN ('cloning', 'building', 'testing', 'releasing')
        AND NEW.status IN ('superseded', 'cancelled')
    )
    EXECUTE FUNCTION notify_deployment_stopped();

CREATE FUNCTION notify_app_deleted() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('slipway_queue', 'teardown:' || NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER apps_deleted
    AFTER UPDATE OF deleted_at ON apps
    FOR EACH ROW WHEN (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL)
    EXECUTE FUNCTION notify_app_deleted();
