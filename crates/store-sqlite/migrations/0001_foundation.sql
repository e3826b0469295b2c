-- Custodian, SQLite: people, the register and its history, activity.

CREATE TABLE people (
    user_id     TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    org_unit    TEXT NOT NULL,
    site        TEXT NOT NULL,
    role        TEXT NOT NULL,
    manager_id  TEXT,
    clearance   INTEGER NOT NULL,        -- 0 public .. 3 secret
    projects    TEXT NOT NULL,           -- ';'-joined, sorted
    hire_date   TEXT NOT NULL,           -- YYYY-MM-DD
    leave_date  TEXT
);

CREATE TABLE documents (
    doc_id          TEXT PRIMARY KEY NOT NULL,
    title           TEXT NOT NULL,
    classification  INTEGER NOT NULL,
    owner_id        TEXT NOT NULL,
    projects        TEXT NOT NULL,       -- '*' or ';'-joined
    kind            TEXT NOT NULL,
    created         TEXT NOT NULL,
    medium          TEXT NOT NULL
);

CREATE TABLE register_changes (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,    -- derived from the content
    doc_id  TEXT NOT NULL,
    at_us   INTEGER NOT NULL,
    at_off  INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    field   TEXT NOT NULL,
    old     TEXT,
    new     TEXT NOT NULL
);
CREATE INDEX register_changes_doc ON register_changes (doc_id, seq);

CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    ts_us    INTEGER NOT NULL,
    ts_off   INTEGER NOT NULL,
    user_id  TEXT NOT NULL,
    action   TEXT NOT NULL,
    doc      TEXT,
    rest     TEXT NOT NULL        -- host, action fields, extensions (JSON)
);
CREATE INDEX events_user_ts ON events (user_id, ts_us);

CREATE TABLE hr_events (
    seq      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    ts_us    INTEGER NOT NULL,
    user_id  TEXT NOT NULL,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL               -- the record in interchange form
);
CREATE INDEX hr_events_user ON hr_events (user_id, ts_us);

CREATE TABLE contact_reports (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    reported_us  INTEGER NOT NULL,
    reporter     TEXT NOT NULL,
    raw          TEXT NOT NULL
);

CREATE TABLE rejects (
    seq     INTEGER PRIMARY KEY,
    file    TEXT NOT NULL,
    line    INTEGER NOT NULL,
    reason  TEXT NOT NULL,
    raw     BLOB NOT NULL,
    key     TEXT NOT NULL UNIQUE
);

-- The custody ledger (see crates/store/src/ledger.rs).
CREATE TABLE ledger_runs (
    first_leaf  INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    first_seq   INTEGER NOT NULL,
    count       INTEGER NOT NULL
);
CREATE INDEX ledger_runs_record ON ledger_runs (kind, first_seq);

CREATE TABLE ledger_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    width  INTEGER NOT NULL,
    nodes  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE ledger_checkpoints (
    size  INTEGER PRIMARY KEY,
    note  TEXT NOT NULL
);
