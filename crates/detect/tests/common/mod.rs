//! What the engine's tests build companies from: people of one unit, the
//! register's documents, and an event log that numbers its events.

#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};

use custodian_core::model::{Document, Medium, Projects};
use custodian_core::{Action, Event, Level, Person};

/// `U{i:03}`: an engineer of `unit` in Tokyo on `projects` (`;`-separated),
/// cleared for confidential, hired in 2015.
pub fn person(i: usize, unit: &str, projects: &str) -> Person {
    Person {
        user_id: format!("U{i:03}"),
        name: format!("Person {i}"),
        email: format!("u{i}@example.co.jp"),
        org_unit: unit.into(),
        site: "Tokyo".into(),
        role: "engineer".into(),
        manager_id: None,
        clearance: Level::Confidential,
        projects: projects
            .split(';')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        hire_date: NaiveDate::from_ymd_opt(2015, 4, 1).unwrap(),
        leave_date: None,
    }
}

/// A register entry of `project`, a file created in 2024.
pub fn document(id: &str, title: &str, level: Level, project: &str) -> Document {
    Document {
        doc_id: id.into(),
        title: title.into(),
        classification: level,
        owner_id: "U000".into(),
        projects: Projects::parse(project),
        kind: "manual".into(),
        created: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        medium: Medium::File,
    }
}

/// `minutes` after midnight, `day` days after 2025-04-01, in Japan.
pub fn at_minute(day: i64, minutes: i64) -> DateTime<FixedOffset> {
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    jst.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap()
        + Duration::days(day)
        + Duration::minutes(minutes)
}

/// Events in the order they are pushed, numbered `e1`, `e2`, …, each on
/// the person's own computer.
#[derive(Default)]
pub struct Log {
    pub events: Vec<Event>,
    seq: u64,
}

impl Log {
    pub fn push(&mut self, user: &str, ts: DateTime<FixedOffset>, action: Action) {
        self.seq += 1;
        self.events.push(Event {
            id: format!("e{}", self.seq),
            ts,
            user: user.into(),
            host: Some(format!("PC-{user}")),
            action,
            extra: Default::default(),
        });
    }
}
