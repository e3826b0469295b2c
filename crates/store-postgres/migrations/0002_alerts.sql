-- Alerts raised by detection; each is a ledger entry (kind 'alert').
CREATE TABLE alerts (
    seq        BIGINT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,     -- derived from the content
    user_id    TEXT NOT NULL,
    raised_us  BIGINT NOT NULL,
    raised_off INTEGER NOT NULL,
    severity   TEXT NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    body       TEXT NOT NULL             -- canonical JSON, as ledgered
);
CREATE INDEX alerts_user ON alerts (user_id, raised_us);
