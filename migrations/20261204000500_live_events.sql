-- Live events for WebSocket clients: every API instance LISTENs on `slipway_events` and
-- forwards what its clients subscribed to, so any instance serves any client whichever
-- worker or API process made the change. Payloads carry ids and positions only (NOTIFY
-- payloads are capped at 8000 bytes); readers fetch the rows they need.

CREATE FUNCTION slipway_notify_deployment_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('slipway_events', json_build_object(
        'event', 'status',
        'deployment', NEW.id,
        'app', NEW.app_id,
        'kind', NEW.kind,
        'status', NEW.status
    )::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER deployments_notify_insert
    AFTER INSERT ON deployments
    FOR EACH ROW EXECUTE FUNCTION slipway_notify_deployment_status();

CREATE TRIGGER deployments_notify_status
    AFTER UPDATE OF status ON deployments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION slipway_notify_deployment_status();

-- One notification per deployment per batch of lines, not per line: a chatty build
-- writes thousands of lines and the worker already batches them.
CREATE FUNCTION slipway_notify_log_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    batch record;
BEGIN
    FOR batch IN
        SELECT n.deployment_id, d.app_id, min(n.seq) AS first_seq, max(n.seq) AS last_seq
        FROM new_lines n JOIN deployments d ON d.id = n.deployment_id
        GROUP BY n.deployment_id, d.app_id
    LOOP
        PERFORM pg_notify('slipway_events', json_build_object(
            'event', 'log',
            'deployment', batch.deployment_id,
            'app', batch.app_id,
            'first_seq', batch.first_seq,
            'last_seq', batch.last_seq
        )::text);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER deployment_logs_notify
    AFTER INSERT ON deployment_logs
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION slipway_notify_log_lines();
