//! The domain's records: people, register entries, activity events, HR events
//! and contact reports. Plain data; rules live in [`crate::policy`] and the
//! parsing of outside input in [`crate::interchange`].

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::level::Level;

/// An employee, as the directory shows them at the end of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub org_unit: String,
    pub site: String,
    pub role: String,
    pub manager_id: Option<String>,
    pub clearance: Level,
    /// Need-to-know groups, sorted and unique.
    pub projects: BTreeSet<String>,
    pub hire_date: NaiveDate,
    pub leave_date: Option<NaiveDate>,
}

/// Which need-to-know groups a register entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projects {
    /// `*`: everyone.
    Everyone,
    Groups(BTreeSet<String>),
}

impl Projects {
    pub fn parse(field: &str) -> Projects {
        if field.trim() == "*" {
            Projects::Everyone
        } else {
            Projects::Groups(split_projects(field))
        }
    }

    /// The interchange form: `*` or `;`-separated names.
    pub fn to_field(&self) -> String {
        match self {
            Projects::Everyone => "*".to_string(),
            Projects::Groups(g) => join_projects(g),
        }
    }

    pub fn shares_with(&self, person_projects: &BTreeSet<String>) -> bool {
        match self {
            Projects::Everyone => true,
            Projects::Groups(g) => g.iter().any(|p| person_projects.contains(p)),
        }
    }
}

/// Whether a register entry is a file or knowledge with no file (a
/// development plan briefed at meetings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    #[default]
    File,
    Knowledge,
}

impl Medium {
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::File => "file",
            Medium::Knowledge => "knowledge",
        }
    }

    pub fn parse(s: &str) -> Option<Medium> {
        match s {
            "" | "file" => Some(Medium::File),
            "knowledge" => Some(Medium::Knowledge),
            _ => None,
        }
    }
}

/// A register entry: a document (or piece of knowledge) and its
/// classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub doc_id: String,
    pub title: String,
    pub classification: Level,
    pub owner_id: String,
    pub projects: Projects,
    pub kind: String,
    pub created: NaiveDate,
    pub medium: Medium,
}

/// What an activity event says happened. Field names follow the interchange
/// format; an unknown action is kept as [`Action::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Logon,
    Logoff,
    DocSearch {
        query: String,
    },
    DocView {
        doc: String,
        bytes: Option<u64>,
    },
    DocDownload {
        doc: String,
        bytes: Option<u64>,
    },
    DocPrint {
        doc: String,
        pages: u64,
    },
    DocDenied {
        doc: String,
    },
    UsbWrite {
        bytes: u64,
        files: u64,
        doc: Option<String>,
    },
    EmailSend {
        to_domain: String,
        external: bool,
        bytes: u64,
        attachments: u64,
        doc: Option<String>,
        /// The sender's domain when the mail was not sent from the work
        /// address (a personal account used at work; CERT's `from`).
        from_domain: Option<String>,
        /// How many recipients (to, cc and bcc), when the source says.
        recipients: Option<u64>,
    },
    WebUpload {
        domain: String,
        bytes: u64,
        doc: Option<String>,
    },
    WebVisit {
        domain: String,
        url: Option<String>,
    },
    PrintJob {
        pages: u64,
        doc: Option<String>,
    },
    Briefing {
        doc: String,
    },
    /// An action this version does not know; kept and counted.
    Other {
        name: String,
    },
}

impl Action {
    /// Every action name of the interchange format, in the spec's order.
    pub const KNOWN: [&'static str; 13] = [
        "logon",
        "logoff",
        "doc.search",
        "doc.view",
        "doc.download",
        "doc.print",
        "doc.denied",
        "usb.write",
        "email.send",
        "web.upload",
        "web.visit",
        "print.job",
        "briefing",
    ];

    pub fn name(&self) -> &str {
        match self {
            Action::Logon => "logon",
            Action::Logoff => "logoff",
            Action::DocSearch { .. } => "doc.search",
            Action::DocView { .. } => "doc.view",
            Action::DocDownload { .. } => "doc.download",
            Action::DocPrint { .. } => "doc.print",
            Action::DocDenied { .. } => "doc.denied",
            Action::UsbWrite { .. } => "usb.write",
            Action::EmailSend { .. } => "email.send",
            Action::WebUpload { .. } => "web.upload",
            Action::WebVisit { .. } => "web.visit",
            Action::PrintJob { .. } => "print.job",
            Action::Briefing { .. } => "briefing",
            Action::Other { name } => name,
        }
    }

    /// The register entry the event concerns, if any.
    pub fn doc(&self) -> Option<&str> {
        match self {
            Action::DocView { doc, .. }
            | Action::DocDownload { doc, .. }
            | Action::DocPrint { doc, .. }
            | Action::DocDenied { doc }
            | Action::Briefing { doc } => Some(doc),
            Action::UsbWrite { doc, .. }
            | Action::EmailSend { doc, .. }
            | Action::WebUpload { doc, .. }
            | Action::PrintJob { doc, .. } => doc.as_deref(),
            _ => None,
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self, Action::Other { .. })
    }
}

/// One activity event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub ts: DateTime<FixedOffset>,
    pub user: String,
    pub host: Option<String>,
    pub action: Action,
    /// Fields the format does not define (an exporter's extensions, the
    /// fields of an unknown action), kept as they came.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The kind of a personnel event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HrKind {
    Hire,
    Termination,
    ResignationNotice,
    LeaveStart,
    LeaveEnd,
    PerformanceWarning,
    /// From `ts` on, need to know follows `to_projects`.
    Transfer {
        from_projects: BTreeSet<String>,
        to_projects: BTreeSet<String>,
    },
    Other {
        name: String,
    },
}

impl HrKind {
    pub fn name(&self) -> &str {
        match self {
            HrKind::Hire => "hire",
            HrKind::Termination => "termination",
            HrKind::ResignationNotice => "resignation_notice",
            HrKind::LeaveStart => "leave_start",
            HrKind::LeaveEnd => "leave_end",
            HrKind::PerformanceWarning => "performance_warning",
            HrKind::Transfer { .. } => "transfer",
            HrKind::Other { name } => name,
        }
    }
}

/// A personnel event. HR exports carry no id, so the id is derived from the
/// record's content ([`HrEvent::derive_id`]): re-delivering the same record
/// is counted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrEvent {
    pub id: String,
    pub ts: DateTime<FixedOffset>,
    pub user: String,
    pub kind: HrKind,
    pub detail: Option<String>,
}

impl HrEvent {
    /// `hr-` and the first 16 bytes of SHA-256 over ts, user, type and the
    /// transfer lists, separated by NUL.
    pub fn derive_id(ts: &DateTime<FixedOffset>, user: &str, kind: &HrKind) -> String {
        let mut h = Sha256::new();
        h.update(ts.timestamp_micros().to_be_bytes());
        h.update([0]);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(kind.name().as_bytes());
        if let HrKind::Transfer {
            from_projects,
            to_projects,
        } = kind
        {
            h.update([0]);
            h.update(join_projects(from_projects).as_bytes());
            h.update([0]);
            h.update(join_projects(to_projects).as_bytes());
        }
        let d = h.finalize();
        format!("hr-{}", hex::encode(&d[..16]))
    }
}

/// How an outsider first approached the reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approach {
    AskedDirections,
    LanguageExchange,
    BusinessCard,
    Conference,
    Online,
    Recruiter,
    Other,
}

impl Approach {
    pub fn parse(s: &str) -> Option<Approach> {
        Some(match s {
            "asked_directions" => Approach::AskedDirections,
            "language_exchange" => Approach::LanguageExchange,
            "business_card" => Approach::BusinessCard,
            "conference" => Approach::Conference,
            "online" => Approach::Online,
            "recruiter" => Approach::Recruiter,
            "other" => Approach::Other,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Approach::AskedDirections => "asked_directions",
            Approach::LanguageExchange => "language_exchange",
            Approach::BusinessCard => "business_card",
            Approach::Conference => "conference",
            Approach::Online => "online",
            Approach::Recruiter => "recruiter",
            Approach::Other => "other",
        }
    }
}

/// What the approacher claimed and how they looked; every part optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counterpart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_nationality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_affiliation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An employee's report of being approached by an outsider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactReport {
    pub id: String,
    pub reported_at: DateTime<FixedOffset>,
    pub reporter: String,
    pub met_on: Option<NaiveDate>,
    pub place: String,
    /// An approach value this version does not know is read as `other`.
    pub approach: Approach,
    pub counterpart: Counterpart,
    pub meetings: u32,
    pub gifts_jpy: u64,
    pub requests: Vec<String>,
    pub narrative: String,
}

/// Splits a `;`-separated project list, trimming and dropping empties.
pub fn split_projects(field: &str) -> BTreeSet<String> {
    field
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Joins projects with `;` in sorted order.
pub fn join_projects(projects: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for (i, p) in projects.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(p);
    }
    out
}
