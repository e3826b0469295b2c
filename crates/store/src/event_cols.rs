//! An event's stored columns, and what is derived from them alone: its
//! ledger entry body (what verification hashes, with no parsing) and its
//! `events.jsonl` line (what detection reads). Both backends read rows into
//! [`EventCols`]; neither writes these forms itself.

use chrono::{DateTime, FixedOffset};
use custodian_core::Event;

use crate::ledger::write_rfc3339_micros;
use crate::{ts_from_db, ts_to_db, Result};

/// An event's columns as stored, borrowed from a row: the time as
/// microseconds since the epoch and its UTC offset in seconds, the user,
/// the action, the document and the remaining fields as stored (compact
/// JSON with sorted keys,
/// [`event_rest_json`](custodian_core::interchange::event_rest_json)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCols<'a> {
    pub us: i64,
    pub off: i32,
    pub user: &'a str,
    pub action: &'a str,
    pub doc: Option<&'a str>,
    pub rest: &'a str,
}

impl<'a> EventCols<'a> {
    /// The columns an event is stored in, with its stored `rest`.
    pub fn of_event(e: &'a Event, rest: &'a str) -> Self {
        let (us, off) = ts_to_db(&e.ts);
        EventCols {
            us,
            off,
            user: &e.user,
            action: e.action.name(),
            doc: e.action.doc(),
            rest,
        }
    }

    /// The time, or why the stored columns are not one.
    pub fn ts(&self) -> Result<DateTime<FixedOffset>> {
        ts_from_db(self.us, i64::from(self.off))
    }

    /// The ledger entry body: exactly the stored columns, one a line —
    /// time (RFC 3339, microseconds, original offset), user, action, document
    /// (empty if none), and the remaining fields as stored (compact JSON with
    /// sorted keys, [`event_rest_json`](custodian_core::interchange::event_rest_json)).
    /// Any change to any column changes the leaf; checking needs no parsing.
    pub fn entry_body(&self) -> String {
        let mut out =
            Vec::with_capacity(36 + self.user.len() + self.action.len() + self.rest.len());
        self.write_body(&mut out);
        // Every part is text, and so is what is written between them.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the [entry body](Self::entry_body) to `out`.
    pub fn write_body(&self, out: &mut Vec<u8>) {
        write_rfc3339_micros(out, self.us, self.off);
        for part in [self.user, self.action, self.doc.unwrap_or("")] {
            out.push(b'\n');
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'\n');
        out.extend_from_slice(self.rest.as_bytes());
    }

    /// The event as an `events.jsonl` line (what detection reads), or why
    /// its time is not one.
    pub fn line(&self, id: &str) -> Result<String> {
        let ts = self.ts()?;
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let mut line = String::with_capacity(96 + self.rest.len());
        line.push_str("{\"id\":");
        line.push_str(&q(id));
        line.push_str(",\"ts\":\"");
        line.push_str(&ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        line.push_str("\",\"user\":");
        line.push_str(&q(self.user));
        line.push_str(",\"action\":");
        line.push_str(&q(self.action));
        // The stored `rest` normally repeats the document (the column is there
        // for indexing); a key must appear once.
        let has_doc =
            self.rest.trim_start().starts_with("{\"doc\":") || self.rest.contains(",\"doc\":");
        if let Some(d) = self.doc.filter(|_| !has_doc) {
            line.push_str(",\"doc\":");
            line.push_str(&q(d));
        }
        let inner = self
            .rest
            .trim()
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .unwrap_or("")
            .trim();
        if !inner.is_empty() {
            line.push(',');
            line.push_str(inner);
        }
        line.push('}');
        Ok(line)
    }
}
