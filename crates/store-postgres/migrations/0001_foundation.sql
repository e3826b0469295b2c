-- Custodian, PostgreSQL: people, the register and its history, activity.

CREATE TABLE people (
    user_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    site        TEXT NOT NULL,
    role        TEXT NOT NULL,
    manager_id  TEXT,
    clearance   SMALLINT NOT NULL CHECK (clearance BETWEEN 0 AND 3),
    projects    TEXT NOT NULL,
    hire_date   TEXT NOT NULL,
    leave_date  TEXT
);

CREATE TABLE documents (
    doc_id          TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    classification  SMALLINT NOT NULL CHECK (classification BETWEEN 0 AND 3),
    owner_id        TEXT NOT NULL,
    projects        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    created         TEXT NOT NULL,
    medium          TEXT NOT NULL
);

CREATE TABLE register_changes (
    seq     BIGINT PRIMARY KEY,          -- assigned by Custodian, contiguous per batch
    id      TEXT NOT NULL UNIQUE,
    doc_id  TEXT NOT NULL,
    at_us   BIGINT NOT NULL,
    at_off  INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    field   TEXT NOT NULL,
    old     TEXT,
    new     TEXT NOT NULL
);
CREATE INDEX register_changes_doc ON register_changes (doc_id, seq);

CREATE TABLE events (
    seq      BIGINT PRIMARY KEY,         -- assigned by Custodian, contiguous per batch
    id       TEXT NOT NULL UNIQUE,
    ts_us    BIGINT NOT NULL,
    ts_off   INTEGER NOT NULL,
    user_id  TEXT NOT NULL,
    action   TEXT NOT NULL,
    doc      TEXT,
    rest     TEXT NOT NULL        -- host, action fields, extensions (JSON)
);
CREATE INDEX events_user_ts ON events (user_id, ts_us);

CREATE TABLE hr_events (
    seq      BIGINT PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    ts_us    BIGINT NOT NULL,
    user_id  TEXT NOT NULL,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX hr_events_user ON hr_events (user_id, ts_us);

CREATE TABLE contact_reports (
    seq          BIGINT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    reported_us  BIGINT NOT NULL,
    reporter     TEXT NOT NULL,
    raw          TEXT NOT NULL
);

CREATE TABLE rejects (
    seq     BIGSERIAL PRIMARY KEY,
    file    TEXT NOT NULL,
    line    BIGINT NOT NULL,
    reason  TEXT NOT NULL,
    raw     BYTEA NOT NULL,
    key     TEXT NOT NULL UNIQUE
);

-- The custody ledger (see crates/store/src/ledger.rs).
CREATE TABLE ledger_runs (
    first_leaf  BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    first_seq   BIGINT NOT NULL,
    count       BIGINT NOT NULL
);
CREATE INDEX ledger_runs_record ON ledger_runs (kind, first_seq);

CREATE TABLE ledger_tiles (
    level  SMALLINT NOT NULL,
    idx    BIGINT NOT NULL,
    width  INTEGER NOT NULL,
    nodes  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE ledger_checkpoints (
    size  BIGINT PRIMARY KEY,
    note  TEXT NOT NULL
);
