-- The broker's records (acknowledgements, approvals, copies, refusals);
-- each is a ledger entry (kind 'custody').
CREATE TABLE custody_records (
    seq      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    doc_id   TEXT,
    user_id  TEXT NOT NULL,
    at_us    INTEGER NOT NULL,
    at_off   INTEGER NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX custody_kind_doc ON custody_records (kind, doc_id, seq);
CREATE INDEX custody_kind_user ON custody_records (kind, user_id, seq);
