-- Test runs: the `[test] command` of a commit, run in a container of its image. A
-- deployment whose spec has `[test]` records one before it releases; a standalone run
-- (POST /apps/{app}/test-runs) is carried by a hidden deployment of kind `test`, so it
-- shares the queue, leases, workers, logs and cancellation with deployments.

-- A `test` deployment that got through its tests ends here (never `running`: it
-- releases nothing). The outcome itself is on its test run.
ALTER TYPE deployment_status ADD VALUE 'tested';

ALTER TABLE deployments DROP CONSTRAINT deployments_kind_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_kind_check
    CHECK (kind IN ('build', 'config', 'rollback', 'test'));

CREATE TABLE test_runs (
    id            uuid PRIMARY KEY,
    app_id        uuid NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- The deployment that carries the run: a release gated by it, or the hidden `test`
    -- deployment of a standalone run. Its log is the run's log.
    deployment_id uuid NOT NULL UNIQUE REFERENCES deployments (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN (
        'queued', 'building', 'running', 'passed', 'failed', 'error', 'cancelled')),
    git_ref       text,
    commit_sha    text,
    -- As shown to users; `command_override` holds the words a standalone run was asked
    -- to run instead of the spec's `[test] command`.
    command       text,
    command_override jsonb,
    exit_code     integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    duration_ms   bigint,
    -- Counts read from the JUnit report named by `[test] report`; NULL without one.
    tests_total   integer,
    tests_passed  integer,
    tests_failed  integer,
    tests_skipped integer,
    -- [{suite, name, message}] of the report's failed and errored test cases.
    failures      jsonb,
    -- Why the run has no counts (a missing or malformed report), or why it errored.
    note          text,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL
);

CREATE INDEX test_runs_app_created ON test_runs (app_id, created_at DESC, id DESC);
