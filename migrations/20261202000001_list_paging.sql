-- Lists are paged newest first on (created_at, id): in that order an index makes each
-- page a short range scan however many rows there are. Deployments are paged within
-- one app (deployments_app_created), tokens within one user (api_tokens_user).
CREATE INDEX apps_live_created ON apps (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX users_created ON users (created_at DESC, id DESC);
