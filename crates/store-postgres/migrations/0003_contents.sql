-- Register entries' contents, encrypted by the broker (never plaintext).
CREATE TABLE contents (
    doc_id      TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    nonce       BYTEA NOT NULL,
    ciphertext  BYTEA NOT NULL,
    sha256      TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL
);
