-- Register entries' contents, encrypted by the broker (never plaintext).
CREATE TABLE contents (
    doc_id      TEXT PRIMARY KEY NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    sha256      TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL
);
