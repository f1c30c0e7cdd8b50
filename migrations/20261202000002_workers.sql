-- Workers announce themselves here every few seconds (a heartbeat), so that the API,
-- which has no access to the runtime, can tell whether anyone can run apps (/ready) and
-- which worker to ask for runtime logs. A crashed worker's row stays behind until it is
-- old enough to be pruned; readers only trust rows seen recently (by the database's
-- clock, so that workers' and the API's clocks need not agree).
CREATE TABLE workers (
    id text PRIMARY KEY,
    host text NOT NULL,
    -- Where the worker's internal HTTP server answers the API; NULL when it runs none.
    url text,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    -- Whether its runtime (the Docker Engine) answered at the last heartbeat, and the
    -- runtime's own words: its version, or why it did not answer.
    runtime_ok boolean NOT NULL,
    runtime_status text NOT NULL
);

CREATE INDEX workers_seen_at ON workers (seen_at);
