-- Releases: the app spec file, encrypted config vars, process scaling, image reuse and
-- rollbacks, and crash tracking by the watcher.

-- Where the spec file lives in the repository, and the replica counts set through the
-- API (they override the spec's `replicas`).
ALTER TABLE apps
    ADD COLUMN spec_path text NOT NULL DEFAULT 'slipway.toml',
    ADD COLUMN scale jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Each value is sealed with an AEAD keyed by SLIPWAY_SECRET_KEY, bound to its app and
-- name, so a value copied to another row does not decrypt.
CREATE TABLE config_vars (
    app_id     uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name       text NOT NULL,
    sealed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

-- `kind`: `build` (from git), `config` (the current image with changed config vars),
-- `rollback` (an earlier release's image and config again).
-- `source_deployment_id`: the release whose image a config or rollback release reuses.
-- `spec`: the parsed slipway.toml the release runs with (JSON).
-- `config_snapshot`: the sealed config vars the release runs with, copied as they were
-- sealed (name -> base64), so a rollback restores them without ever decrypting in SQL.
-- `released_at`: when it first served; a release that never did is no rollback target.
ALTER TABLE deployments
    ADD COLUMN kind text NOT NULL DEFAULT 'build' CHECK (kind IN ('build', 'config', 'rollback')),
    ADD COLUMN source_deployment_id uuid REFERENCES deployments (id) ON DELETE SET NULL,
    ADD COLUMN spec jsonb,
    ADD COLUMN config_snapshot jsonb,
    ADD COLUMN released_at timestamptz;

CREATE INDEX deployments_released ON deployments (app_id, released_at DESC)
    WHERE released_at IS NOT NULL;

ALTER TABLE deployment_containers
    ADD COLUMN replica integer NOT NULL DEFAULT 1;

-- Scaling and config changes wake the worker that reconciles the app's containers.
CREATE FUNCTION notify_app_scaled() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('slipway_queue', 'reconcile:' || NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER apps_scaled
    AFTER UPDATE OF scale ON apps
    FOR EACH ROW WHEN (OLD.scale IS DISTINCT FROM NEW.scale)
    EXECUTE FUNCTION notify_app_scaled();
