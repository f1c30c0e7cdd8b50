-- Tokens may be given a lifetime when created. NULL: the token never expires (every token
-- made before this column existed, and the configured admin token). An expired token is
-- refused like a revoked one, but with its own reason, so it is kept rather than deleted.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
