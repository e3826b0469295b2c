-- Detection's saved state (derived data, not ledgered): one row per engine.
CREATE TABLE engine_checkpoints (
    name     TEXT PRIMARY KEY,
    meta     TEXT NOT NULL,
    state    BLOB NOT NULL,
    saved_at TEXT NOT NULL
);
