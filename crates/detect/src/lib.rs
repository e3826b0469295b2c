//! Custodian's insider-risk engine.
//!
//! Pure and streaming: events go in in data-time order (`ts`, then the
//! id's hash), alerts come out. Nothing reads a clock; the same events
//! give the same alerts whatever the batch sizes, because the engine is a
//! state machine over the ordered stream, with bounded state per person.
//!
//! What it believes, in short (each module opens with its own rules):
//! - Nothing is suspicious in itself; an amount is, against the person's
//!   own rate and their peers' (`baseline`): a new or quiet person borrows
//!   their group's rate, someone with months of history is judged by their
//!   own. A constant habit, however large, is never alerted.
//! - How unusual is a probability, not a number of points: a day, a week
//!   or a month of a behaviour is scored by its tail probability
//!   (`tail`), and only surprise beyond one in a thousand counts.
//! - On top of surprise, the patterns of the cases this product exists
//!   for: the climb in sensitivity outside one's scope (`climb`),
//!   gathering then taking out, the leaving window, approaches by an
//!   outsider others reported too, logons to another's computer.
//! - An analyst can work a fixed number of cases: severity follows the
//!   population's scores so that, on any data, medium and high alerts stay
//!   within the configured budget (`budget`); the truly extreme case is
//!   allowed above it.
//! - Background need-to-know access is a finding about the register, not
//!   about people (`scope`): when many open a document without need to
//!   know, its folder permissions are wrong, and it is reported per
//!   document ([`Engine::exposures`]).
//! - Every alert explains itself: which behaviour, how unusual against
//!   whom, and the ids of the events behind it.

mod baseline;
mod budget;
mod climb;
pub mod config;
pub mod contacts;
mod engine;
mod explain;
pub mod fast;
mod features;
mod input;
mod scope;
mod sizes;
pub mod tail;
mod web;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use custodian_core::{ContactReport, Document, Event, HrEvent, Person};

pub use budget::Lines;
pub use config::{Config, ConfigError, Domains};
pub use engine::{human_bytes, CheckpointError, Engine, EngineStats, CHECKPOINT_FORMAT};
pub use features::{Feat, Ind, FEATURES};
pub use input::{Ev, EvOf, Kind, Names, NONE};
pub use scope::DocExposure;

/// How an alert's score reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One reason behind an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    pub name: String,
    /// Points this indicator contributes now (after fading).
    pub weight: f64,
    /// Ids of the events behind it, oldest first (at most a dozen).
    pub evidence: Vec<String>,
    /// What it saw, in words: how much, against whom, how unusual.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The severity lines when an alert was raised (they follow the budget).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub medium: f64,
    pub high: f64,
}

/// An alert in the interchange format's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub user: String,
    pub raised_at: DateTime<FixedOffset>,
    pub score: f64,
    pub severity: Severity,
    pub indicators: Vec<Indicator>,
    pub summary: String,
    pub thresholds: Thresholds,
}

/// What the engine knows besides the events.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub people: Vec<Person>,
    pub documents: Vec<Document>,
    pub hr: Vec<HrEvent>,
    pub contacts: Vec<ContactReport>,
}

/// Runs the engine over events already in (`ts`, `id`) order.
pub fn run<'a>(
    ctx: &Context,
    cfg: Config,
    events: impl IntoIterator<Item = &'a Event>,
) -> (Vec<Alert>, EngineStats) {
    let mut engine = Engine::new(ctx, cfg);
    let mut alerts = Vec::new();
    for e in events {
        if let Some(a) = engine.push(e) {
            alerts.push(a);
        }
    }
    (alerts, engine.stats())
}

/// The tie-break between events of the same microsecond: FNV-1a (64-bit)
/// of the id. Any fixed order makes the result independent of arrival
/// order; a number sorts without touching the id's text.
pub use custodian_core::order::id_hash;

/// Sorts events into the order the engine needs (time, then [`id_hash`])
/// and drops re-deliveries, which repeat an event's `id` and `ts`.
pub fn order_events(events: &mut Vec<Event>) {
    events.sort_unstable_by(|a, b| {
        (a.ts.timestamp_micros(), id_hash(&a.id))
            .cmp(&(b.ts.timestamp_micros(), id_hash(&b.id)))
            .then_with(|| a.id.cmp(&b.id))
    });
    events.dedup_by(|a, b| a.id == b.id && a.ts == b.ts);
}
