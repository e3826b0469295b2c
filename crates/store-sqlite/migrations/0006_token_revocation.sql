-- API tokens can be revoked: a revoked token stays listed (who had it,
-- when it ended) and is refused from the moment of revocation.
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
