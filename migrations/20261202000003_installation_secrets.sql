-- Secrets the API and the workers share without the operator setting them: the first
-- process to start generates one, every other reads it. Whoever can read this table
-- can read everything else too, so it protects nothing the database does not.
CREATE TABLE installation_secrets (
    name       text        PRIMARY KEY,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
