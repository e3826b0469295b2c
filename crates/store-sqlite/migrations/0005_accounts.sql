-- Local accounts of the server (passwords as Argon2id PHC strings, never
-- plaintext) and API tokens for machines (SHA-256 of the token, never the
-- token).
CREATE TABLE accounts (
    username       TEXT PRIMARY KEY NOT NULL,
    role           TEXT NOT NULL,
    user_id        TEXT,
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE api_tokens (
    token_sha256   TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
