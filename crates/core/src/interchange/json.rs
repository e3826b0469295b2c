//! Parsing one JSONL event into the domain, with errors that name the
//! field (HR events and contact reports: [`super::hr_contact`], which
//! shares the readers here).

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use serde_json::Value;

use super::RecordError;
use crate::model::{Action, Event};

/// Longest `id` accepted.
pub const MAX_ID_LEN: usize = 256;

/// Every field the format defines for events.
pub const EVENT_FIELDS: [&str; 17] = [
    "id",
    "ts",
    "user",
    "action",
    "host",
    "query",
    "doc",
    "domain",
    "to_domain",
    "url",
    "bytes",
    "pages",
    "files",
    "attachments",
    "external",
    "from_domain",
    "recipients",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventWire<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    doc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    domain: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    to_domain: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(default)]
    bytes: Option<u64>,
    #[serde(default)]
    pages: Option<u64>,
    #[serde(default)]
    files: Option<u64>,
    #[serde(default)]
    attachments: Option<u64>,
    #[serde(default)]
    external: Option<bool>,
    #[serde(borrow, default)]
    from_domain: Option<Cow<'a, str>>,
    #[serde(default)]
    recipients: Option<u64>,
}

const EVENT_STRING_FIELDS: [&str; 11] = [
    "id",
    "ts",
    "user",
    "action",
    "host",
    "query",
    "doc",
    "domain",
    "to_domain",
    "url",
    "from_domain",
];
const EVENT_COUNT_FIELDS: [&str; 5] = ["bytes", "pages", "files", "attachments", "recipients"];

/// The largest plausible value of each count field of one event: 16 TiB,
/// a million pages, ten million files, ten thousand attachments, a
/// hundred thousand recipients. A larger value is no measurement (a
/// collector's overflow, a forged line): the line is rejected, naming the
/// field, rather than making someone "copy 9 billion GB".
pub const COUNT_LIMITS: [(&str, u64); 5] = [
    ("bytes", 1 << 44),
    ("pages", 1_000_000),
    ("files", 10_000_000),
    ("attachments", 10_000),
    ("recipients", 100_000),
];

/// The first of an event's counts, given in the order of
/// [`COUNT_LIMITS`], that is above its limit: (field, value, limit).
pub fn implausible_count(counts: [Option<u64>; 5]) -> Option<(&'static str, u64, u64)> {
    COUNT_LIMITS
        .iter()
        .zip(counts)
        .find_map(|(&(field, limit), v)| v.filter(|&n| n > limit).map(|n| (field, n, limit)))
}

fn check_counts(w: &EventWire<'_>) -> Result<(), RecordError> {
    match implausible_count([w.bytes, w.pages, w.files, w.attachments, w.recipients]) {
        Some((field, n, limit)) => Err(RecordError::field(
            field,
            format!("{n} is not plausible for one event (at most {limit})"),
        )),
        None => Ok(()),
    }
}

pub(super) fn require<'a>(
    v: &'a Option<Cow<'a, str>>,
    field: &'static str,
) -> Result<&'a str, RecordError> {
    match v.as_deref() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(RecordError::field(field, "is empty")),
        None => Err(RecordError::field(field, "required field is missing")),
    }
}

fn require_n(v: Option<u64>, field: &'static str) -> Result<u64, RecordError> {
    v.ok_or_else(|| RecordError::field(field, "required field is missing"))
}

pub(super) fn opt(v: &Option<Cow<'_, str>>) -> Option<String> {
    v.as_deref().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Parses an RFC 3339 timestamp with an offset, kept to the microsecond
/// (finer digits are dropped: stores and the ledger work in microseconds).
pub fn parse_ts(s: &str, field: &'static str) -> Result<DateTime<FixedOffset>, RecordError> {
    use chrono::{DurationRound, TimeDelta};
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t))
        .map_err(|e| {
            RecordError::field(
                field,
                format!("not an RFC 3339 timestamp with offset ('{}': {e})", clip(s)),
            )
        })
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(s: &str, field: &'static str) -> Result<NaiveDate, RecordError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| {
        RecordError::field(field, format!("not a YYYY-MM-DD date ('{}': {e})", clip(s)))
    })
}

/// Shortens text quoted in an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

pub(super) fn check_object_start(line: &[u8]) -> Result<(), RecordError> {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        None => Err(RecordError::line("empty record")),
        Some(_) => Err(RecordError::line(diagnose_json(line))),
    }
}

/// Explains why a line that serde rejected is not a record we accept,
/// naming the field where there is one. Only called on bad lines.
pub(super) fn diagnose(
    line: &[u8],
    strings: &[&'static str],
    counts: &[&'static str],
    bools: &[&'static str],
) -> RecordError {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(_) => return RecordError::line(diagnose_json(line)),
    };
    let Value::Object(map) = value else {
        return RecordError::line("not a JSON object");
    };
    for (name, v) in &map {
        let n = name.as_str();
        if let Some(&f) = strings.iter().find(|f| **f == n) {
            if !(v.is_string() || v.is_null()) {
                return RecordError::field(f, format!("expected a string, found {}", kind_of(v)));
            }
        } else if let Some(&f) = counts.iter().find(|f| **f == n) {
            if !(v.is_u64() || v.is_null()) {
                return RecordError::field(
                    f,
                    format!("expected a non-negative integer, found {}", kind_of(v)),
                );
            }
        } else if let Some(&f) = bools.iter().find(|f| **f == n) {
            if !(v.is_boolean() || v.is_null()) {
                return RecordError::field(
                    f,
                    format!("expected true or false, found {}", kind_of(v)),
                );
            }
        }
    }
    RecordError::line("the record does not match the format")
}

fn diagnose_json(line: &[u8]) -> String {
    match std::str::from_utf8(line) {
        Err(e) => format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ),
        Ok(text) => match serde_json::from_str::<Value>(text) {
            Err(e) if e.is_eof() => format!("truncated JSON ({e})"),
            Err(e) => format!("not valid JSON ({e})"),
            Ok(_) => "not a JSON object".to_string(),
        },
    }
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string '{}'", clip(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Parses one `events.jsonl` line. Unknown actions become
/// [`Action::Other`]; fields the format does not define are kept in
/// [`Event::extra`].
pub fn parse_event(line: &[u8]) -> Result<Event, RecordError> {
    parse_event_checked(line, true)
}

/// An event as stored (see `event_from_parts`): it was parsed and judged
/// plausible when it came in, so it is rebuilt without judging it again
/// (a record stored before a bound existed still reads back).
pub(crate) fn parse_stored_event(line: &[u8]) -> Result<Event, RecordError> {
    parse_event_checked(line, false)
}

fn parse_event_checked(line: &[u8], plausible: bool) -> Result<Event, RecordError> {
    check_object_start(line)?;
    // Fast path: only defined fields. Anything else (extension fields, or a
    // bad line) takes the slow path, which separates extensions and names
    // the field at fault.
    match serde_json::from_slice::<EventWire<'_>>(line) {
        Ok(w) => event_from_wire(w, serde_json::Map::new(), plausible),
        Err(_) => {
            let bad = || {
                diagnose(
                    line,
                    &EVENT_STRING_FIELDS,
                    &EVENT_COUNT_FIELDS,
                    &["external"],
                )
            };
            let Ok(Members { mut map, repeated }) = serde_json::from_slice::<Members>(line) else {
                return Err(bad());
            };
            if let Some(k) = repeated {
                return Err(match EVENT_FIELDS.iter().find(|f| **f == k) {
                    Some(f) => RecordError::field(f, "appears twice in the line"),
                    None => RecordError::line("a field appears twice in the line"),
                });
            }
            let mut known = serde_json::Map::new();
            for f in EVENT_FIELDS {
                if let Some(v) = map.remove(f) {
                    known.insert(f.to_string(), v);
                }
            }
            let known = Value::Object(known);
            let w = EventWire::deserialize(&known).map_err(|_| bad())?;
            event_from_wire(w, map, plausible)
        }
    }
}

/// A JSON object's members, and the first key among them that appears
/// twice, read in one pass. A line that says two things (two `ts`, two
/// `user`) is ambiguous: a reader that takes the first and one that takes
/// the last would disagree (the first pass of detection by time reads the
/// first), so the caller refuses it rather than read it either way.
struct Members {
    map: serde_json::Map<String, Value>,
    repeated: Option<String>,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Members, A::Error> {
                let mut m = Members {
                    map: serde_json::Map::new(),
                    repeated: None,
                };
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    if m.map.contains_key(&k) {
                        m.repeated.get_or_insert(k);
                    } else {
                        m.map.insert(k, v);
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

fn event_from_wire(
    w: EventWire<'_>,
    extra: serde_json::Map<String, Value>,
    plausible: bool,
) -> Result<Event, RecordError> {
    let mut extra = extra;
    keep_unused_fields(&w, &mut extra);
    if plausible {
        check_counts(&w)?;
    }
    let id = require(&w.id, "id")?;
    if id.len() > MAX_ID_LEN {
        return Err(RecordError::field(
            "id",
            format!("longer than {MAX_ID_LEN} bytes"),
        ));
    }
    let ts = parse_ts(require(&w.ts, "ts")?, "ts")?;
    let user = require(&w.user, "user")?;
    let action_name = require(&w.action, "action")?;
    let doc = || require(&w.doc, "doc").map(str::to_string);
    let action = match action_name {
        "logon" => Action::Logon,
        "logoff" => Action::Logoff,
        "doc.search" => Action::DocSearch {
            query: w
                .query
                .as_deref()
                .map(str::to_string)
                .ok_or_else(|| RecordError::field("query", "required field is missing"))?,
        },
        "doc.view" => Action::DocView {
            doc: doc()?,
            bytes: w.bytes,
        },
        "doc.download" => Action::DocDownload {
            doc: doc()?,
            bytes: w.bytes,
        },
        "doc.print" => Action::DocPrint {
            doc: doc()?,
            pages: require_n(w.pages, "pages")?,
        },
        "doc.denied" => Action::DocDenied { doc: doc()? },
        "usb.write" => Action::UsbWrite {
            bytes: require_n(w.bytes, "bytes")?,
            files: require_n(w.files, "files")?,
            doc: opt(&w.doc),
        },
        "email.send" => Action::EmailSend {
            to_domain: require(&w.to_domain, "to_domain")?.to_string(),
            external: w
                .external
                .ok_or_else(|| RecordError::field("external", "required field is missing"))?,
            bytes: require_n(w.bytes, "bytes")?,
            attachments: require_n(w.attachments, "attachments")?,
            doc: opt(&w.doc),
            from_domain: opt(&w.from_domain),
            recipients: w.recipients,
        },
        "web.upload" => Action::WebUpload {
            domain: require(&w.domain, "domain")?.to_string(),
            bytes: require_n(w.bytes, "bytes")?,
            doc: opt(&w.doc),
        },
        "web.visit" => Action::WebVisit {
            domain: require(&w.domain, "domain")?.to_string(),
            url: opt(&w.url),
        },
        "print.job" => Action::PrintJob {
            pages: require_n(w.pages, "pages")?,
            doc: opt(&w.doc),
        },
        "briefing" => Action::Briefing { doc: doc()? },
        other => Action::Other {
            name: other.to_string(),
        },
    };
    Ok(Event {
        id: id.to_string(),
        ts,
        user: user.to_string(),
        host: opt(&w.host),
        action,
        extra,
    })
}

/// The optional fields each known action uses; a defined field the action
/// does not use (a `doc` on a `logon`) is kept in `extra`, not dropped.
fn used_fields(action: &str) -> Option<&'static [&'static str]> {
    Some(match action {
        "logon" | "logoff" => &[],
        "doc.search" => &["query"],
        "doc.view" | "doc.download" => &["doc", "bytes"],
        "doc.print" => &["doc", "pages"],
        "doc.denied" | "briefing" => &["doc"],
        "usb.write" => &["bytes", "files", "doc"],
        "email.send" => &[
            "to_domain",
            "external",
            "bytes",
            "attachments",
            "doc",
            "from_domain",
            "recipients",
        ],
        "web.upload" => &["domain", "bytes", "doc"],
        "web.visit" => &["domain", "url"],
        "print.job" => &["pages", "doc"],
        _ => return None,
    })
}

fn keep_unused_fields(w: &EventWire<'_>, extra: &mut serde_json::Map<String, Value>) {
    let action = w.action.as_deref().unwrap_or("");
    let used = used_fields(action).unwrap_or(&[]);
    let mut keep = |name: &str, v: Option<Value>| {
        if let Some(v) = v {
            if !used.contains(&name) {
                extra.insert(name.to_string(), v);
            }
        }
    };
    let s = |v: &Option<Cow<'_, str>>| v.as_deref().map(|x| Value::from(x.to_string()));
    keep("query", s(&w.query));
    keep("doc", s(&w.doc));
    keep("domain", s(&w.domain));
    keep("to_domain", s(&w.to_domain));
    keep("url", s(&w.url));
    keep("bytes", w.bytes.map(Value::from));
    keep("pages", w.pages.map(Value::from));
    keep("files", w.files.map(Value::from));
    keep("attachments", w.attachments.map(Value::from));
    keep("external", w.external.map(Value::from));
    keep("from_domain", s(&w.from_domain));
    keep("recipients", w.recipients.map(Value::from));
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_field_given_twice_is_refused_not_read_either_way() {
        // Found by fuzzing the first pass of detection by time: it read the
        // first `ts`, the parser (through serde_json's map) the last.
        let two_ts = r#"{"ts":"2024-04-01T09:00:00+09:00","id":"a","user":"E1","action":"logon","ts":"2023-03-01T09:00:00Z"}"#;
        let e = parse_event(two_ts.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("ts") && e.contains("appears twice"), "{e}");
        let two_users =
            r#"{"ts":"2024-04-01T09:00:00Z","id":"a","user":"E1","action":"logon","user":"E2"}"#;
        let e = parse_event(two_users.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("user") && e.contains("appears twice"), "{e}");
        // An extension field twice: ambiguous too, said without echoing it.
        let two_ext = r#"{"ts":"2024-04-01T09:00:00Z","id":"a","user":"E1","action":"logon","x_site":"A","x_site":"B"}"#;
        let e = parse_event(two_ext.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("a field appears twice") && !e.contains("x_site"),
            "{e}"
        );
        // The same key inside a nested object once each is fine, and so is
        // an extension field given once.
        let fuzzed = r#"{"ts":"2024-04-01T09:00:00+09:00","id":"a","user":"E1","action":"logob","ts":"2023-03-01T09:00:00Z","user":"E1","action":"logon","doc_meta":{"ts":"2030-01-01T00:00:00Z"}}"#;
        let e = parse_event(fuzzed.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("appears twice"), "{e}");
        let nested = r#"{"ts":"2024-04-01T09:00:00Z","id":"a","user":"E1","action":"logon","x_meta":{"ts":"2030-01-01T00:00:00Z"},"x_site":"A"}"#;
        let ev = parse_event(nested.as_bytes()).unwrap();
        assert_eq!(ev.ts.to_rfc3339(), "2024-04-01T09:00:00+00:00");
    }

    #[test]
    fn implausible_counts_are_rejected_naming_the_field() {
        let line = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"usb.write","bytes":9223372036854775808,"files":1}"#;
        let e = parse_event(line.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("bytes") && e.contains("not plausible"), "{e}");
        let line = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.print","doc":"D1","pages":1000001}"#;
        let e = parse_event(line.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("pages"), "{e}");
        // A stored event is rebuilt as it was stored, bound or not.
        let huge = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.print","doc":"D1","pages":1000001}"#;
        assert!(parse_stored_event(huge.as_bytes()).is_ok());
        // At the limit is still a measurement.
        let line = r#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.print","doc":"D1","pages":1000000}"#;
        assert!(parse_event(line.as_bytes()).is_ok());
    }

    use super::*;

    fn reason(line: &str) -> String {
        parse_event(line.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn every_known_action_parses() {
        let lines = [
            r#"{"id":"1","ts":"2024-04-01T09:00:00+09:00","user":"E1","action":"logon","host":"pc1"}"#,
            r#"{"id":"2","ts":"2024-04-01T09:00:00+09:00","user":"E1","action":"logoff"}"#,
            r#"{"id":"3","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.search","query":"lens"}"#,
            r#"{"id":"4","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.view","doc":"D1","bytes":10}"#,
            r#"{"id":"5","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.download","doc":"D1"}"#,
            r#"{"id":"6","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.print","doc":"D1","pages":3}"#,
            r#"{"id":"7","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.denied","doc":"D1"}"#,
            r#"{"id":"8","ts":"2024-04-01T09:00:00Z","user":"E1","action":"usb.write","bytes":5,"files":1}"#,
            r#"{"id":"9","ts":"2024-04-01T09:00:00Z","user":"E1","action":"email.send","to_domain":"gmail.com","external":true,"bytes":5,"attachments":1,"doc":"D1"}"#,
            r#"{"id":"10","ts":"2024-04-01T09:00:00Z","user":"E1","action":"web.upload","domain":"dropbox.com","bytes":5}"#,
            r#"{"id":"11","ts":"2024-04-01T09:00:00Z","user":"E1","action":"web.visit","domain":"example.com","url":"https://example.com/"}"#,
            r#"{"id":"12","ts":"2024-04-01T09:00:00Z","user":"E1","action":"print.job","pages":2}"#,
            r#"{"id":"13","ts":"2024-04-01T09:00:00Z","user":"E1","action":"briefing","doc":"D7"}"#,
        ];
        for (line, name) in lines.iter().zip(Action::KNOWN) {
            let e = parse_event(line.as_bytes()).unwrap();
            assert_eq!(e.action.name(), name);
            assert!(e.action.is_known());
        }
    }

    #[test]
    fn unknown_action_and_extension_fields_are_kept() {
        let e = parse_event(
            br#"{"id":"x","ts":"2024-04-01T09:00:00Z","user":"E1","action":"badge.swipe","door":"B2","extra":{"a":[1]}}"#,
        )
        .unwrap();
        assert_eq!(
            e.action,
            Action::Other {
                name: "badge.swipe".into()
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert!(
            reason(r#"{"id":"1","ts":"2024-04-01T09:00:00Z","user":"E1""#)
                .contains("truncated JSON")
        );
        assert_eq!(
            reason(r#"{"id":"1","user":"E1","action":"logon"}"#),
            "field `ts`: required field is missing"
        );
        assert!(
            reason(r#"{"id":"1","ts":"2024-13-01T09:00:00Z","user":"E1","action":"logon"}"#)
                .starts_with("field `ts`: not an RFC 3339")
        );
        assert!(
            reason(r#"{"id":"1","ts":"2024-04-01 09:00:00","user":"E1","action":"logon"}"#)
                .starts_with("field `ts`")
        );
        assert_eq!(
            reason(
                r#"{"id":"1","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.print","doc":"D"}"#
            ),
            "field `pages`: required field is missing"
        );
        assert_eq!(
            reason(
                r#"{"id":"1","ts":"2024-04-01T09:00:00Z","user":"E1","action":"doc.view","doc":"D","bytes":"lots"}"#
            ),
            "field `bytes`: expected a non-negative integer, found the string 'lots'"
        );
        assert_eq!(
            reason(r#"{"id":7,"ts":"2024-04-01T09:00:00Z","user":"E1","action":"logon"}"#),
            "field `id`: expected a string, found the number 7"
        );
        assert_eq!(
            reason(r#"["1","2024-04-01T09:00:00Z","E1","logon"]"#),
            "not a JSON object"
        );
        assert!(reason("\u{1}\u{2}garbage").starts_with("not valid JSON"));
        assert!(parse_event(&[0xff, 0xfe, b'{'])
            .unwrap_err()
            .to_string()
            .starts_with("not UTF-8"));
    }
}
