-- Deaths of the replicas of running releases, as the watcher saw them: the reconciler
-- recreates a dead replica after a back-off that grows with its recent deaths, and a
-- replica that keeps dying turns its release `crashed`. Every worker watching the same
-- runtime sees the same death; the key (the runtime's replica id and the runtime's
-- time of death) makes the second sighting a no-op.
CREATE TABLE replica_deaths (
    deployment_id uuid        NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    replica       text        NOT NULL,
    replica_id    text        NOT NULL,
    died_at       timestamptz NOT NULL,
    exit_code     bigint,
    PRIMARY KEY (replica_id, died_at)
);
CREATE INDEX replica_deaths_recent ON replica_deaths (deployment_id, replica, died_at);
