-- Users and their API tokens. A token is stored only as the SHA-256 of its text: tokens
-- are 256-bit random strings, so a fast hash is enough and a leaked table reveals none.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    is_admin    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The token's first characters, shown in listings so a user can tell tokens apart.
    prefix        text NOT NULL,
    hash          bytea NOT NULL UNIQUE,
    name          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Apps created before users existed keep a NULL owner: only admins see them.
ALTER TABLE apps ADD CONSTRAINT apps_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id);
CREATE INDEX apps_owner ON apps (owner_id) WHERE deleted_at IS NULL;
