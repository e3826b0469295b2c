//! Writing the interchange format: what the simulator and exports produce.

use std::io::{self, Write};

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

use crate::model::{
    join_projects, Action, ContactReport, Document, Event, HrEvent, HrKind, Person,
};

pub const DIRECTORY_HEADER: &str =
    "user_id,name,email,org_unit,site,role,manager_id,clearance,projects,hire_date,leave_date";
pub const DOCUMENTS_HEADER: &str =
    "doc_id,title,classification,owner_id,projects,kind,created,medium";

fn csv_err(e: csv::Error) -> io::Error {
    io::Error::other(e)
}

/// Writes `directory.csv`.
pub fn write_directory<W: Write>(w: W, people: &[Person]) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(DIRECTORY_HEADER.split(','))
        .map_err(csv_err)?;
    for p in people {
        out.write_record([
            p.user_id.as_str(),
            &p.name,
            &p.email,
            &p.org_unit,
            &p.site,
            &p.role,
            p.manager_id.as_deref().unwrap_or(""),
            p.clearance.as_str(),
            &join_projects(&p.projects),
            &p.hire_date.format("%Y-%m-%d").to_string(),
            &p.leave_date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    out.flush()
}

/// Writes `documents.csv` (with the `medium` extension column).
pub fn write_documents<W: Write>(w: W, docs: &[Document]) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(DOCUMENTS_HEADER.split(','))
        .map_err(csv_err)?;
    for d in docs {
        out.write_record([
            d.doc_id.as_str(),
            &d.title,
            d.classification.as_str(),
            &d.owner_id,
            &d.projects.to_field(),
            &d.kind,
            &d.created.format("%Y-%m-%d").to_string(),
            d.medium.as_str(),
        ])
        .map_err(csv_err)?;
    }
    out.flush()
}

fn ts(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One `events.jsonl` line (without the newline): the event's canonical
/// encoding. A JSON object with keys in byte order (as RFC 8785 sorts them
/// for ASCII keys), no whitespace, strings escaped as `serde_json` does, the
/// timestamp as RFC 3339 with its original offset and only as many
/// fractional digits as it has. See `docs/canonical-encoding.md`.
pub fn event_to_json(e: &Event) -> String {
    if e.extra.is_empty() {
        let rest = rest_wire(e);
        let w = CanonWire {
            action: e.action.name(),
            attachments: rest.attachments,
            bytes: rest.bytes,
            doc: rest.doc,
            domain: rest.domain,
            external: rest.external,
            files: rest.files,
            from_domain: rest.from_domain,
            host: rest.host,
            id: &e.id,
            pages: rest.pages,
            query: rest.query,
            recipients: rest.recipients,
            to_domain: rest.to_domain,
            ts: ts(&e.ts),
            url: rest.url,
            user: &e.user,
        };
        if let Ok(s) = serde_json::to_string(&w) {
            return s;
        }
    }
    event_to_value(e).to_string()
}

/// The event as a JSON value (the general path of [`event_to_json`]).
pub fn event_to_value(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id));
    m.insert("ts".into(), json!(ts(&e.ts)));
    m.insert("user".into(), json!(e.user));
    m.insert("action".into(), json!(e.action.name()));
    for (k, v) in event_rest(e) {
        m.insert(k, v);
    }
    Value::Object(m)
}

/// Every field of a canonical event without extensions, in byte order.
#[derive(serde::Serialize)]
struct CanonWire<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_domain: Option<&'a str>,
    ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    user: &'a str,
}

/// Everything of an event but `id`, `ts`, `user` and `action`: `host`, the
/// action's fields and extension fields (a map: keys come out sorted).
/// Stores keep this, as [`event_rest_json`], next to their indexed columns.
pub fn event_rest(e: &Event) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(h) = &e.host {
        m.insert("host".into(), json!(h));
    }
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match &e.action {
        Action::Logon | Action::Logoff | Action::Other { .. } => {}
        Action::DocSearch { query } => put("query", json!(query)),
        Action::DocView { doc, bytes } | Action::DocDownload { doc, bytes } => {
            put("doc", json!(doc));
            if let Some(b) = bytes {
                put("bytes", json!(b));
            }
        }
        Action::DocPrint { doc, pages } => {
            put("doc", json!(doc));
            put("pages", json!(pages));
        }
        Action::DocDenied { doc } | Action::Briefing { doc } => put("doc", json!(doc)),
        Action::UsbWrite { bytes, files, doc } => {
            put("bytes", json!(bytes));
            put("files", json!(files));
            if let Some(d) = doc {
                put("doc", json!(d));
            }
        }
        Action::EmailSend {
            to_domain,
            external,
            bytes,
            attachments,
            doc,
            from_domain,
            recipients,
        } => {
            put("to_domain", json!(to_domain));
            put("external", json!(external));
            put("bytes", json!(bytes));
            put("attachments", json!(attachments));
            if let Some(d) = doc {
                put("doc", json!(d));
            }
            if let Some(f) = from_domain {
                put("from_domain", json!(f));
            }
            if let Some(r) = recipients {
                put("recipients", json!(r));
            }
        }
        Action::WebUpload { domain, bytes, doc } => {
            put("domain", json!(domain));
            put("bytes", json!(bytes));
            if let Some(d) = doc {
                put("doc", json!(d));
            }
        }
        Action::WebVisit { domain, url } => {
            put("domain", json!(domain));
            if let Some(u) = url {
                put("url", json!(u));
            }
        }
        Action::PrintJob { pages, doc } => {
            put("pages", json!(pages));
            if let Some(d) = doc {
                put("doc", json!(d));
            }
        }
    }
    for (k, v) in &e.extra {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// The fields of [`event_rest`] in key order, for the common case without
/// extension fields (declaration order here is byte order).
#[derive(serde::Serialize)]
struct RestWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// [`event_rest`] as compact JSON text; the same bytes, faster.
pub fn event_rest_json(e: &Event) -> String {
    if !e.extra.is_empty() {
        return Value::Object(event_rest(e)).to_string();
    }
    serde_json::to_string(&rest_wire(e))
        .unwrap_or_else(|_| Value::Object(event_rest(e)).to_string())
}

fn rest_wire(e: &Event) -> RestWire<'_> {
    let mut w = RestWire {
        attachments: None,
        bytes: None,
        doc: e.action.doc(),
        domain: None,
        external: None,
        files: None,
        from_domain: None,
        host: e.host.as_deref(),
        pages: None,
        query: None,
        recipients: None,
        to_domain: None,
        url: None,
    };
    match &e.action {
        Action::Logon | Action::Logoff | Action::Other { .. } => {}
        Action::DocSearch { query } => w.query = Some(query),
        Action::DocView { bytes, .. } | Action::DocDownload { bytes, .. } => w.bytes = *bytes,
        Action::DocPrint { pages, .. } | Action::PrintJob { pages, .. } => w.pages = Some(*pages),
        Action::DocDenied { .. } | Action::Briefing { .. } => {}
        Action::UsbWrite { bytes, files, .. } => {
            w.bytes = Some(*bytes);
            w.files = Some(*files);
        }
        Action::EmailSend {
            to_domain,
            external,
            bytes,
            attachments,
            from_domain,
            recipients,
            ..
        } => {
            w.to_domain = Some(to_domain);
            w.external = Some(*external);
            w.bytes = Some(*bytes);
            w.attachments = Some(*attachments);
            w.from_domain = from_domain.as_deref();
            w.recipients = *recipients;
        }
        Action::WebUpload { domain, bytes, .. } => {
            w.domain = Some(domain);
            w.bytes = Some(*bytes);
        }
        Action::WebVisit { domain, url } => {
            w.domain = Some(domain);
            w.url = url.as_deref();
        }
    }
    w
}

/// Rebuilds an event from a store's columns and its [`event_rest`] text.
pub fn event_from_parts(
    id: &str,
    ts_rfc3339: &str,
    user: &str,
    action: &str,
    rest: &str,
) -> Result<Event, super::RecordError> {
    let rest: Map<String, Value> = serde_json::from_str(rest).map_err(|e| {
        super::RecordError::line(format!("stored fields are not a JSON object ({e})"))
    })?;
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("ts".into(), json!(ts_rfc3339));
    m.insert("user".into(), json!(user));
    m.insert("action".into(), json!(action));
    m.extend(rest);
    super::json::parse_stored_event(Value::Object(m).to_string().as_bytes())
}

/// One `hr.jsonl` line.
pub fn hr_to_json(e: &HrEvent) -> String {
    let mut m = Map::new();
    m.insert("ts".into(), json!(ts(&e.ts)));
    m.insert("user".into(), json!(e.user));
    m.insert("type".into(), json!(e.kind.name()));
    if let HrKind::Transfer {
        from_projects,
        to_projects,
    } = &e.kind
    {
        m.insert("from_projects".into(), json!(from_projects));
        m.insert("to_projects".into(), json!(to_projects));
    }
    if let Some(d) = &e.detail {
        m.insert("detail".into(), json!(d));
    }
    Value::Object(m).to_string()
}

/// One `contacts.jsonl` line.
pub fn contact_to_json(c: &ContactReport) -> String {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("reported_at".into(), json!(ts(&c.reported_at)));
    m.insert("reporter".into(), json!(c.reporter));
    if let Some(d) = c.met_on {
        m.insert("met_on".into(), json!(d.format("%Y-%m-%d").to_string()));
    }
    m.insert("place".into(), json!(c.place));
    m.insert("approach".into(), json!(c.approach.as_str()));
    m.insert(
        "counterpart".into(),
        serde_json::to_value(&c.counterpart).unwrap_or(Value::Null),
    );
    m.insert("meetings".into(), json!(c.meetings));
    m.insert("gifts_jpy".into(), json!(c.gifts_jpy));
    m.insert("requests".into(), json!(c.requests));
    m.insert("narrative".into(), json!(c.narrative));
    Value::Object(m).to_string()
}
