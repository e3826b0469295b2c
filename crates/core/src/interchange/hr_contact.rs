//! Parsing one HR event or contact report (JSONL) into the domain, with
//! errors that name the field; the shared readers (times, dates, required
//! fields, diagnosing a line serde refused) are the event parser's
//! ([`super::json`]).

use std::borrow::Cow;

use serde::Deserialize;

use super::json::{check_object_start, diagnose, opt, parse_date, parse_ts, require, MAX_ID_LEN};
use super::RecordError;
use crate::model::{split_projects, Approach, ContactReport, Counterpart, HrEvent, HrKind};

#[derive(Deserialize)]
struct HrWire<'a> {
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<Cow<'a, str>>,
    #[serde(default)]
    from_projects: Option<ProjectList>,
    #[serde(default)]
    to_projects: Option<ProjectList>,
}

/// A project list given as a JSON list or as a `;`-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ProjectList {
    List(Vec<String>),
    Text(String),
}

impl ProjectList {
    fn into_set(self) -> std::collections::BTreeSet<String> {
        match self {
            ProjectList::List(v) => v
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            ProjectList::Text(s) => split_projects(&s),
        }
    }
}

/// Parses one `hr.jsonl` line. The id is derived from the content.
pub fn parse_hr(line: &[u8]) -> Result<HrEvent, RecordError> {
    check_object_start(line)?;
    let w: HrWire<'_> = serde_json::from_slice(line).map_err(|_| {
        let e = diagnose(line, &["ts", "user", "type", "detail"], &[], &[]);
        if e.field.is_none() {
            RecordError::line(
                "the record does not match the format (from_projects and to_projects must be lists of strings)",
            )
        } else {
            e
        }
    })?;
    let ts = parse_ts(require(&w.ts, "ts")?, "ts")?;
    let user = require(&w.user, "user")?.to_string();
    let kind = match require(&w.kind, "type")? {
        "hire" => HrKind::Hire,
        "termination" => HrKind::Termination,
        "resignation_notice" => HrKind::ResignationNotice,
        "leave_start" => HrKind::LeaveStart,
        "leave_end" => HrKind::LeaveEnd,
        "performance_warning" => HrKind::PerformanceWarning,
        "transfer" => HrKind::Transfer {
            from_projects: w
                .from_projects
                .ok_or_else(|| RecordError::field("from_projects", "required for a transfer"))?
                .into_set(),
            to_projects: w
                .to_projects
                .ok_or_else(|| RecordError::field("to_projects", "required for a transfer"))?
                .into_set(),
        },
        other => HrKind::Other {
            name: other.to_string(),
        },
    };
    Ok(HrEvent {
        id: HrEvent::derive_id(&ts, &user, &kind),
        ts,
        user,
        kind,
        detail: opt(&w.detail),
    })
}

#[derive(Deserialize)]
struct ContactWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    reported_at: Option<String>,
    #[serde(default)]
    reporter: Option<String>,
    #[serde(default)]
    met_on: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    approach: Option<String>,
    #[serde(default)]
    counterpart: Option<Counterpart>,
    #[serde(default)]
    meetings: Option<u32>,
    #[serde(default)]
    gifts_jpy: Option<u64>,
    #[serde(default)]
    requests: Option<Vec<String>>,
    #[serde(default)]
    narrative: Option<String>,
}

/// Parses one `contacts.jsonl` line.
pub fn parse_contact(line: &[u8]) -> Result<ContactReport, RecordError> {
    check_object_start(line)?;
    let w: ContactWire = serde_json::from_slice(line).map_err(|_| {
        let e = diagnose(
            line,
            &["id", "reported_at", "reporter", "met_on", "place", "approach", "narrative"],
            &["meetings", "gifts_jpy"],
            &[],
        );
        if e.field.is_none() {
            RecordError::line(
                "the record does not match the format (counterpart must be an object of strings, requests a list of strings)",
            )
        } else {
            e
        }
    })?;
    let id =
        w.id.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RecordError::field("id", "required field is missing"))?;
    if id.len() > MAX_ID_LEN {
        return Err(RecordError::field(
            "id",
            format!("longer than {MAX_ID_LEN} bytes"),
        ));
    }
    let reported_at = parse_ts(
        w.reported_at
            .as_deref()
            .ok_or_else(|| RecordError::field("reported_at", "required field is missing"))?,
        "reported_at",
    )?;
    let reporter = w
        .reporter
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| RecordError::field("reporter", "required field is missing"))?;
    let met_on = match w.met_on.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_date(s, "met_on")?),
    };
    Ok(ContactReport {
        id,
        reported_at,
        reporter,
        met_on,
        place: w.place.unwrap_or_default(),
        approach: w
            .approach
            .as_deref()
            .and_then(Approach::parse)
            .unwrap_or(Approach::Other),
        counterpart: w.counterpart.unwrap_or_default(),
        meetings: w.meetings.unwrap_or(0),
        gifts_jpy: w.gifts_jpy.unwrap_or(0),
        requests: w.requests.unwrap_or_default(),
        narrative: w.narrative.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hr_transfer_and_ids() {
        let a = parse_hr(br#"{"ts":"2024-03-01T00:00:00+09:00","user":"E1","type":"transfer","from_projects":["A"],"to_projects":["B","C"]}"#).unwrap();
        let b = parse_hr(br#"{"ts":"2024-03-01T00:00:00+09:00","user":"E1","type":"transfer","from_projects":"A","to_projects":"C;B"}"#).unwrap();
        assert_eq!(a, b);
        assert!(a.id.starts_with("hr-"));
        let e = parse_hr(br#"{"ts":"2024-03-01T00:00:00+09:00","user":"E1","type":"transfer"}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `from_projects`: required for a transfer"
        );
        let c = parse_hr(br#"{"ts":"2024-03-01T00:00:00+09:00","user":"E1","type":"resignation_notice","detail":"family"}"#).unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn contact_report() {
        let c = parse_contact(br#"{"id":"C1","reported_at":"2024-05-01T10:00:00+09:00","reporter":"E1","met_on":"2024-04-20","place":"Shinagawa station","approach":"asked_directions","counterpart":{"claimed_name":"Ivan","phone":"090"},"meetings":3,"gifts_jpy":30000,"requests":["brochure","manual"],"narrative":"dinner"}"#).unwrap();
        assert_eq!(c.approach, Approach::AskedDirections);
        assert_eq!(c.counterpart.claimed_name.as_deref(), Some("Ivan"));
        assert_eq!(c.requests.len(), 2);
        let e = parse_contact(br#"{"id":"C1","reported_at":"2024-05-01T10:00:00+09:00","reporter":"E1","meetings":"many"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `meetings`: expected a non-negative integer, found the string 'many'"
        );
    }
}
