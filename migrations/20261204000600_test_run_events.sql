-- Test runs join the live events and the callbacks, as deployments did.

-- A standalone test run is carried by a hidden deployment of kind `test`: its end is
-- announced once, as `test_run.finished` below, not also as a deployment.
DROP TRIGGER deployments_finished_callback ON deployments;
CREATE TRIGGER deployments_finished_callback
    AFTER UPDATE OF status ON deployments
    FOR EACH ROW
    WHEN (OLD.status IN ('pending', 'cloning', 'building', 'testing', 'releasing')
          AND NEW.status NOT IN ('pending', 'cloning', 'building', 'testing', 'releasing')
          AND NEW.kind <> 'test')
    EXECUTE FUNCTION slipway_deployment_finished();

CREATE FUNCTION slipway_test_run_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM slipway_enqueue_callback(NEW.app_id, 'test_run.finished', NEW.id, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER test_runs_finished_callback
    AFTER UPDATE OF status ON test_runs
    FOR EACH ROW
    WHEN (OLD.status IN ('queued', 'building', 'running')
          AND NEW.status NOT IN ('queued', 'building', 'running'))
    EXECUTE FUNCTION slipway_test_run_finished();

CREATE FUNCTION slipway_notify_test_run_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('slipway_events', json_build_object(
        'event', 'test_run',
        'test_run', NEW.id,
        'deployment', NEW.deployment_id,
        'app', NEW.app_id,
        'status', NEW.status
    )::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER test_runs_notify_insert
    AFTER INSERT ON test_runs
    FOR EACH ROW EXECUTE FUNCTION slipway_notify_test_run_status();

CREATE TRIGGER test_runs_notify_status
    AFTER UPDATE OF status ON test_runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION slipway_notify_test_run_status();
