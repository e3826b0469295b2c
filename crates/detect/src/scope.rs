//! Documents: what a unit's work uses, what needs a need to know, and
//! which register entries are exposed by their folder permissions.
//!
//! Rules:
//! - A document is in a person's usual scope when it belongs to a project
//!   of theirs (the register says they need it), or when their unit's
//!   settled members read it at least half as much as the unit's average
//!   document. Reads are weighed by how focused the reader is (one over
//!   the number of documents they have read): someone whose work spans
//!   every product line spreads their weight thin and does not make another
//!   line's brochure the unit's, and a curious glance now and then weighs
//!   little against a colleague's daily work.
//! - A confidential or secret document needs a shared project, and every
//!   document a clearance at least its level (`core::policy`'s rule);
//!   opening one without is a need-to-know violation, whatever the DMS
//!   allowed.
//! - When at least `exposure_people` people have opened a document without
//!   need to know, its folder permissions are wrong: that is a finding
//!   about the register, reported per document ([`DocExposure`]), and its
//!   readers are background (their opens still count as touching
//!   confidential material outside their scope, judged against their own
//!   rate, so a person's own rise above the background still alerts).

use chrono::{DateTime, FixedOffset};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use custodian_core::{Document, Level, Projects};

/// A register entry as the engine sees it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DocInfo {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub level: Level,
    /// `None`: everyone.
    pub projects: Option<Vec<u32>>,
}

/// Who opened a document without need to know (bounded by the directory).
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
struct Exposure {
    people: rustc_hash::FxHashSet<u32>,
    first_us: i64,
    last_us: i64,
    opens: u64,
}

/// A document is the unit's when its focus-weighed reads are at least this
/// share of the unit's average document's.
const UNIT_SHARE: f32 = 0.5;

/// At most this many violators are remembered by name per document.
const EXPOSURE_NAMES: usize = 64;

/// A register entry opened without need to know, for its owner and the
/// administrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocExposure {
    pub doc: String,
    pub title: String,
    pub level: Level,
    pub owner: String,
    /// People the register lets open it (clearance and project).
    pub may: u64,
    /// Distinct people who opened it without need to know, and how often.
    pub did: u64,
    pub opens: u64,
    pub since: DateTime<FixedOffset>,
    pub last: DateTime<FixedOffset>,
    /// Some of them (at most 64), by user id.
    pub people: Vec<String>,
    /// Their units, with how many of them each.
    pub units: Vec<(String, u64)>,
    /// At least `exposure_people` did: the folder permissions are wrong.
    pub exposed: bool,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Docs {
    pub docs: Vec<DocInfo>,
    /// Reads by settled members, weighed by focus, per (unit, document),
    /// and per unit.
    unit_reads: FxHashMap<(u32, u32), f32>,
    unit_total: Vec<f32>,
    unit_docs: Vec<u32>,
    exposure: Vec<Exposure>,
    exposure_people: u32,
}

fn micros_to_time(us: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .fixed_offset()
}

impl Docs {
    pub fn new(
        documents: &[Document],
        units: usize,
        exposure_people: u32,
        mut project: impl FnMut(&str) -> u32,
    ) -> (Docs, FxHashMap<String, u32>) {
        let mut ids = FxHashMap::default();
        let mut docs = Vec::with_capacity(documents.len());
        for d in documents {
            if ids.contains_key(&d.doc_id) {
                continue;
            }
            ids.insert(d.doc_id.clone(), docs.len() as u32);
            docs.push(DocInfo {
                id: d.doc_id.clone(),
                title: d.title.clone(),
                owner: d.owner_id.clone(),
                level: d.classification,
                projects: match &d.projects {
                    Projects::Everyone => None,
                    Projects::Groups(g) => Some(g.iter().map(|s| project(s)).collect()),
                },
            });
        }
        let n = docs.len();
        (
            Docs {
                docs,
                unit_reads: FxHashMap::default(),
                unit_total: vec![0.0; units],
                unit_docs: vec![0; units],
                exposure: (0..n).map(|_| Exposure::default()).collect(),
                exposure_people: exposure_people.max(1),
            },
            ids,
        )
    }

    /// Whether the person's projects include one of the document's.
    pub fn shares(&self, d: u32, projects: &[u32]) -> bool {
        match &self.docs[d as usize].projects {
            None => true,
            Some(ps) => ps.iter().any(|x| projects.contains(x)),
        }
    }

    /// Whether the register lets someone with this clearance and these
    /// projects open the document.
    pub fn permitted(&self, d: u32, clearance: Level, projects: &[u32]) -> bool {
        let level = self.docs[d as usize].level;
        level <= clearance && (level < Level::Confidential || self.shares(d, projects))
    }

    /// Whether the document is in the usual scope of a person of `unit`
    /// with `projects` (see the rules).
    pub fn in_scope(&self, unit: u32, projects: &[u32], d: u32) -> bool {
        let doc = &self.docs[d as usize];
        if doc.projects.is_some() && self.shares(d, projects) {
            return true;
        }
        let mass = self.unit_reads.get(&(unit, d)).copied().unwrap_or(0.0);
        let (total, n) = (
            self.unit_total[unit as usize],
            self.unit_docs[unit as usize],
        );
        total > 0.0 && mass * n as f32 >= UNIT_SHARE * total
    }

    /// A read by a settled member of `unit` who has read `distinct`
    /// documents so far.
    pub fn note_read(&mut self, unit: u32, distinct: usize, d: u32) {
        let w = 1.0 / distinct.max(5) as f32;
        let r = self.unit_reads.entry((unit, d)).or_default();
        if *r == 0.0 {
            self.unit_docs[unit as usize] += 1;
        }
        *r += w;
        self.unit_total[unit as usize] += w;
    }

    /// An open without need to know; true when the document is exposed
    /// (counting this one).
    pub fn note_violation(&mut self, d: u32, person: u32, at_us: i64) -> bool {
        let e = &mut self.exposure[d as usize];
        e.opens += 1;
        if e.people.is_empty() {
            e.first_us = at_us;
        }
        e.last_us = at_us;
        e.people.insert(person);
        e.people.len() as u32 >= self.exposure_people
    }

    pub fn is_exposed(&self, d: u32) -> bool {
        self.exposure[d as usize].people.len() as u32 >= self.exposure_people
    }

    /// The register finding: every document opened without need to know,
    /// most-exposed first. `may` counts who may open each; `who` names a
    /// person and their unit.
    pub fn exposures(
        &self,
        may: impl Fn(u32) -> u64,
        who: impl Fn(u32) -> (String, String),
    ) -> Vec<DocExposure> {
        let mut out: Vec<DocExposure> = self
            .exposure
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.people.is_empty())
            .map(|(i, e)| {
                let d = &self.docs[i];
                let mut units: FxHashMap<String, u64> = FxHashMap::default();
                let mut people = Vec::new();
                let mut ids: Vec<u32> = e.people.iter().copied().collect();
                ids.sort_unstable();
                for p in ids {
                    let (id, unit) = who(p);
                    if people.len() < EXPOSURE_NAMES {
                        people.push(id);
                    }
                    *units.entry(unit).or_default() += 1;
                }
                let mut units: Vec<(String, u64)> = units.into_iter().collect();
                units.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                DocExposure {
                    doc: d.id.clone(),
                    title: d.title.clone(),
                    level: d.level,
                    owner: d.owner.clone(),
                    may: may(i as u32),
                    did: e.people.len() as u64,
                    opens: e.opens,
                    since: micros_to_time(e.first_us),
                    last: micros_to_time(e.last_us),
                    people,
                    units,
                    exposed: e.people.len() as u32 >= self.exposure_people,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.did
                .cmp(&a.did)
                .then(b.level.cmp(&a.level))
                .then(a.doc.cmp(&b.doc))
        });
        out
    }
}
