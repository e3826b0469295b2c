//! The Custodian interchange format, version 1 (`docs/interchange.md` in the
//! repository, copied from the shared specification): reading it record by
//! record with errors that name the field, and writing it.
//!
//! Nothing here opens files: readers take any [`std::io::BufRead`], so the
//! shell decides about paths, gzip and progress.

mod csv_records;
mod hr_contact;
mod json;
mod lines;
mod write;

use std::fmt;

pub use csv_records::{Columns, CsvItem, CsvRecord, CsvRecords, HeaderError};
pub use hr_contact::{parse_contact, parse_hr};
pub use json::{
    implausible_count, parse_date, parse_event, parse_ts, COUNT_LIMITS, EVENT_FIELDS, MAX_ID_LEN,
};
pub use lines::{Line, LineReader};
pub use write::{
    contact_to_json, event_from_parts, event_rest, event_rest_json, event_to_json, event_to_value,
    hr_to_json, write_directory, write_documents, DIRECTORY_HEADER, DOCUMENTS_HEADER,
};

use crate::level::Level;
use crate::model::{split_projects, Document, Medium, Person, Projects};

/// Why one record was not accepted, naming the field where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub field: Option<String>,
    pub reason: String,
}

impl RecordError {
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        RecordError {
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }

    pub fn line(reason: impl Into<String>) -> Self {
        RecordError {
            field: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for RecordError {}

/// The dataset's files, by their names in the specification.
pub mod files {
    pub const DIRECTORY: &str = "directory.csv";
    pub const DOCUMENTS: &str = "documents.csv";
    pub const EVENTS: &str = "events.jsonl";
    pub const HR: &str = "hr.jsonl";
    pub const CONTACTS: &str = "contacts.jsonl";
}

pub const DIRECTORY_COLUMNS: [&str; 11] = [
    "user_id",
    "name",
    "email",
    "org_unit",
    "site",
    "role",
    "manager_id",
    "clearance",
    "projects",
    "hire_date",
    "leave_date",
];

pub const DOCUMENTS_COLUMNS: [&str; 7] = [
    "doc_id",
    "title",
    "classification",
    "owner_id",
    "projects",
    "kind",
    "created",
];

fn level(s: &str, field: &str) -> Result<Level, RecordError> {
    s.parse::<Level>()
        .map_err(|e| RecordError::field(field, e.to_string()))
}

fn non_empty<'a>(s: &'a str, field: &str) -> Result<&'a str, RecordError> {
    if s.is_empty() {
        Err(RecordError::field(field, "is empty"))
    } else {
        Ok(s)
    }
}

/// One `directory.csv` row.
pub fn parse_person(cols: &Columns, rec: &CsvRecord) -> Result<Person, RecordError> {
    let g = |n| cols.get(rec, n);
    let user_id = non_empty(g("user_id"), "user_id")?;
    if user_id.len() > MAX_ID_LEN {
        return Err(RecordError::field("user_id", "too long"));
    }
    let leave = g("leave_date");
    Ok(Person {
        user_id: user_id.to_string(),
        name: g("name").to_string(),
        email: g("email").to_string(),
        org_unit: g("org_unit").to_string(),
        site: g("site").to_string(),
        role: g("role").to_string(),
        manager_id: Some(g("manager_id"))
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        clearance: level(g("clearance"), "clearance")?,
        projects: split_projects(g("projects")),
        hire_date: parse_date(g("hire_date"), "hire_date")?,
        leave_date: if leave.is_empty() {
            None
        } else {
            Some(parse_date(leave, "leave_date")?)
        },
    })
}

/// One `documents.csv` row. An optional extension column `medium`
/// (`file` or `knowledge`) marks entries that have no file.
pub fn parse_document(cols: &Columns, rec: &CsvRecord) -> Result<Document, RecordError> {
    let g = |n| cols.get(rec, n);
    let doc_id = non_empty(g("doc_id"), "doc_id")?;
    if doc_id.len() > MAX_ID_LEN {
        return Err(RecordError::field("doc_id", "too long"));
    }
    let medium = Medium::parse(g("medium"))
        .ok_or_else(|| RecordError::field("medium", "expected file or knowledge"))?;
    Ok(Document {
        doc_id: doc_id.to_string(),
        title: g("title").to_string(),
        classification: level(g("classification"), "classification")?,
        owner_id: non_empty(g("owner_id"), "owner_id")?.to_string(),
        projects: Projects::parse(g("projects")),
        kind: g("kind").to_string(),
        created: parse_date(g("created"), "created")?,
        medium,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_rows() {
        let text = "user_id,name,email,org_unit,site,role,manager_id,clearance,projects,hire_date,leave_date\n\
                    E1,Sato,s@x.jp,R&D Optics,Tokyo,engineer,,confidential,A; B,2020-04-01,\n\
                    E2,Ito,i@x.jp,Sales,Osaka,sales,E1,top,A,2020-04-01,\n\
                    E3,Abe,a@x.jp,Sales,Osaka,sales,E1,internal,,2020-04-31,\n";
        let mut r = CsvRecords::new(text.as_bytes(), 1 << 16).unwrap();
        r.columns().require(&DIRECTORY_COLUMNS).unwrap();
        let cols = r.columns().clone();
        let mut got = vec![];
        while let Some(CsvItem::Record(rec)) = r.next_item().unwrap() {
            got.push(parse_person(&cols, &rec).map_err(|e| e.to_string()));
        }
        let p = got[0].as_ref().unwrap();
        assert_eq!(p.projects.len(), 2);
        assert_eq!(p.manager_id, None);
        assert_eq!(
            got[1].as_ref().unwrap_err(),
            "field `clearance`: unknown level 'top' (expected public, internal, confidential or secret)"
        );
        assert!(got[2]
            .as_ref()
            .unwrap_err()
            .starts_with("field `hire_date`"));
    }
}
