//! Custodian's insider-risk engine.
//!
//! Pure and streaming: events go in in data-time order (`ts`, then `id`),
//! alerts come out. Nothing reads a clock; the same events give the same
//! alerts whatever the batch sizes, because the engine is a state machine
//! over the ordered stream. HR events and contact reports are known up front
//! and take effect at their own data time, between the events around them.
//!
//! Every finding compares a person with their own past and with their peers
//! (people of the same unit) rather than with fixed thresholds, wherever a
//! baseline exists; fixed floors only keep tiny baselines from turning noise
//! into alerts. Findings add points to named indicators; points fade with a
//! half-life of [`Config::half_life_days`], so a pattern spread over weeks
//! still adds up while an old one-off fades. The score is the sum; alerts
//! are raised when it crosses a severity line, and each carries its
//! indicators with their weights and the ids of the events behind them.

pub mod contacts;
mod explain;

pub mod fast;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use custodian_core::{
    Action, ContactReport, Document, Event, HrEvent, HrKind, Level, Person, Projects,
};

/// How an alert's score reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
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
    /// What it saw, in words.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
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
}

/// Tuning. The defaults are what the project ships and measures.
#[derive(Debug, Clone)]
pub struct Config {
    pub half_life_days: f64,
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    /// Days of data before novelty and out-of-scope findings count (the
    /// engine learns what each unit reads first).
    pub warmup_days: i64,
    /// Days after hire during which exploring is expected.
    pub onboarding_days: i64,
    /// Free-mail and consumer cloud domains: where personal copies go.
    pub personal_domains: Vec<String>,
    pub cloud_domains: Vec<String>,
    /// Working hours assumed until a person's own pattern is known.
    pub default_hours: (u32, u32),
}

impl Default for Config {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Config {
            half_life_days: 30.0,
            low: 20.0,
            medium: 40.0,
            high: 65.0,
            warmup_days: 14,
            onboarding_days: 45,
            personal_domains: s(&[
                "gmail.com",
                "googlemail.com",
                "yahoo.com",
                "yahoo.co.jp",
                "ymail.com",
                "outlook.com",
                "outlook.jp",
                "hotmail.com",
                "hotmail.co.jp",
                "live.com",
                "live.jp",
                "icloud.com",
                "me.com",
                "aol.com",
                "protonmail.com",
                "proton.me",
                "gmx.com",
                "mail.ru",
                "yandex.ru",
                "qq.com",
                "163.com",
                "126.com",
                "naver.com",
                "docomo.ne.jp",
                "ezweb.ne.jp",
                "softbank.ne.jp",
                "i.softbank.jp",
                "au.com",
            ]),
            cloud_domains: s(&[
                "dropbox.com",
                "drive.google.com",
                "docs.google.com",
                "onedrive.live.com",
                "1drv.ms",
                "box.com",
                "wetransfer.com",
                "mega.nz",
                "mediafire.com",
                "pastebin.com",
                "github.com",
                "gist.github.com",
                "sendspace.com",
                "firestorage.jp",
                "gigafile.nu",
                "wikileaks.org",
            ]),
            default_hours: (7, 20),
        }
    }
}

/// What the engine knows besides the events.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub people: Vec<Person>,
    pub documents: Vec<Document>,
    pub hr: Vec<HrEvent>,
    pub contacts: Vec<ContactReport>,
}

// ---------------------------------------------------------------- input

/// What an event does, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Logon,
    Logoff,
    Search,
    View,
    Download,
    Print,
    Denied,
    Usb,
    Mail,
    Upload,
    Visit,
    PrintJob,
    Briefing,
    /// `device.connect` (removable media plugged in; CERT's device.csv).
    DeviceConnect,
    Other,
}

/// No such user or document.
pub const NONE: u32 = u32::MAX;

/// One event in the engine's compact form: names already resolved to
/// indexes, strings borrowed from wherever the event was read.
#[derive(Debug, Clone, Copy)]
pub struct Ev<'a> {
    pub id: &'a str,
    /// UTC microseconds.
    pub ts_us: i64,
    /// The event's own UTC offset in seconds (its local time of day).
    pub offset_s: i32,
    pub user: u32,
    pub kind: Kind,
    pub doc: u32,
    /// Bytes (downloads, USB, mail, uploads).
    pub bytes: u64,
    pub pages: u64,
    /// Files written (USB).
    pub files: u64,
    pub attachments: u64,
    pub external: bool,
    /// Mail's `to_domain`, an upload's or visit's `domain`.
    pub domain: &'a str,
}

/// Resolves user and document ids to the engine's indexes; shared with
/// parser threads.
#[derive(Debug, Default)]
pub struct Names {
    users: FxHashMap<String, u32>,
    docs: FxHashMap<String, u32>,
}

impl Names {
    pub fn user(&self, id: &str) -> u32 {
        self.users.get(id).copied().unwrap_or(NONE)
    }
    pub fn doc(&self, id: &str) -> u32 {
        self.docs.get(id).copied().unwrap_or(NONE)
    }

    /// The compact form of a parsed event (`user` is [`NONE`] when unknown).
    pub fn compact<'a>(&self, e: &'a Event) -> Ev<'a> {
        let mut ev = Ev {
            id: &e.id,
            ts_us: e.ts.timestamp_micros(),
            offset_s: e.ts.offset().local_minus_utc(),
            user: self.user(&e.user),
            kind: Kind::Other,
            doc: NONE,
            bytes: 0,
            pages: 0,
            files: 0,
            attachments: 0,
            external: false,
            domain: "",
        };
        let doc = |d: &str| self.doc(d);
        match &e.action {
            Action::Logon => ev.kind = Kind::Logon,
            Action::Logoff => ev.kind = Kind::Logoff,
            Action::DocSearch { .. } => ev.kind = Kind::Search,
            Action::DocView { doc: d, bytes } => {
                ev.kind = Kind::View;
                ev.doc = doc(d);
                ev.bytes = bytes.unwrap_or(0);
            }
            Action::DocDownload { doc: d, bytes } => {
                ev.kind = Kind::Download;
                ev.doc = doc(d);
                ev.bytes = bytes.unwrap_or(0);
            }
            Action::DocPrint { doc: d, pages } => {
                ev.kind = Kind::Print;
                ev.doc = doc(d);
                ev.pages = *pages;
            }
            Action::DocDenied { doc: d } => {
                ev.kind = Kind::Denied;
                ev.doc = doc(d);
            }
            Action::UsbWrite {
                bytes,
                files,
                doc: d,
            } => {
                ev.kind = Kind::Usb;
                ev.bytes = *bytes;
                ev.files = *files;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::EmailSend {
                to_domain,
                external,
                bytes,
                attachments,
                doc: d,
            } => {
                ev.kind = Kind::Mail;
                ev.domain = to_domain;
                ev.external = *external;
                ev.bytes = *bytes;
                ev.attachments = *attachments;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::WebUpload {
                domain,
                bytes,
                doc: d,
            } => {
                ev.kind = Kind::Upload;
                ev.domain = domain;
                ev.bytes = *bytes;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::WebVisit { domain, .. } => {
                ev.kind = Kind::Visit;
                ev.domain = domain;
            }
            Action::PrintJob { pages, doc: d } => {
                ev.kind = Kind::PrintJob;
                ev.pages = *pages;
                ev.doc = d.as_deref().map_or(NONE, doc);
            }
            Action::Briefing { doc: d } => {
                ev.kind = Kind::Briefing;
                ev.doc = doc(d);
            }
            Action::Other { name } => {
                ev.kind = if name == "device.connect" {
                    Kind::DeviceConnect
                } else {
                    Kind::Other
                };
            }
        }
        ev
    }
}

// ---------------------------------------------------------------- indicators

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(usize)]
enum Ind {
    Escalation,
    OutOfScope,
    NeedToKnow,
    Refusals,
    Volume,
    Exfiltration,
    Recurrence,
    Sequence,
    AfterHours,
    Leaving,
    Contact,
}

const N_IND: usize = 11;

impl Ind {
    const ALL: [Ind; N_IND] = [
        Ind::Escalation,
        Ind::OutOfScope,
        Ind::NeedToKnow,
        Ind::Refusals,
        Ind::Volume,
        Ind::Exfiltration,
        Ind::Recurrence,
        Ind::Sequence,
        Ind::AfterHours,
        Ind::Leaving,
        Ind::Contact,
    ];
    fn name(self) -> &'static str {
        match self {
            Ind::Escalation => "escalation_outside_scope",
            Ind::OutOfScope => "outside_usual_scope",
            Ind::NeedToKnow => "need_to_know_violation",
            Ind::Refusals => "access_refused",
            Ind::Volume => "volume_above_baseline",
            Ind::Exfiltration => "exfiltration_channel",
            Ind::Recurrence => "repeated_exfiltration",
            Ind::Sequence => "gather_then_take_out",
            Ind::AfterHours => "after_hours",
            Ind::Leaving => "leaving_window",
            Ind::Contact => "approached_by_outsider",
        }
    }
    /// Findings that the context multipliers (after hours, leaving,
    /// approached) amplify.
    fn amplified(self) -> bool {
        matches!(
            self,
            Ind::OutOfScope
                | Ind::NeedToKnow
                | Ind::Exfiltration
                | Ind::Volume
                | Ind::Escalation
                | Ind::Refusals
                | Ind::Recurrence
                | Ind::Sequence
        )
    }
}

#[derive(Debug, Clone, Default)]
struct Acc {
    points: f64,
    at: i64,
    count: u32,
    evidence: VecDeque<Box<str>>,
    detail: String,
}

const MAX_EVIDENCE: usize = 12;

impl Acc {
    fn value(&self, now: i64, half_life_us: f64) -> f64 {
        if self.points == 0.0 {
            return 0.0;
        }
        let dt = (now - self.at).max(0) as f64;
        self.points * (-dt / half_life_us * std::f64::consts::LN_2).exp()
    }
    fn add(&mut self, now: i64, half_life_us: f64, pts: f64, evidence: &str) {
        self.points = self.value(now, half_life_us) + pts;
        self.at = now;
        self.count += 1;
        if self.evidence.back().map(|e| &**e) != Some(evidence) {
            if self.evidence.len() >= MAX_EVIDENCE {
                // Keep the first (where it started) and the latest.
                self.evidence.remove(1);
            }
            self.evidence.push_back(evidence.into());
        }
    }
}

// ---------------------------------------------------------------- volumes

const METRICS: usize = 7;
const M_DOWNLOADS: usize = 0;
const M_PRINTS: usize = 1;
const M_PAGES: usize = 2;
const M_USB: usize = 3;
const M_UPLOAD: usize = 4;
const M_MAIL_OUT: usize = 5;
const M_USB_FILES: usize = 6;
const METRIC_NAMES: [&str; METRICS] = [
    "downloads",
    "documents printed",
    "pages printed",
    "bytes to USB",
    "bytes uploaded",
    "bytes mailed outside",
    "files written to USB",
];
/// Metrics whose honest use comes in bursts.
const BURSTY: [bool; METRICS] = [false, false, false, true, true, true, false];
/// Below these a day is never unusual, whatever the baseline.
const METRIC_FLOORS: [f64; METRICS] = [12.0, 8.0, 120.0, 50e6, 20e6, 30e6, 20.0];

/// Mean and variance that follow a stream (exponentially weighted).
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    mean: f64,
    var: f64,
    n: u32,
}

impl Ewma {
    fn push(&mut self, x: f64, alpha: f64) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let a = alpha.max(1.0 / f64::from(self.n + 1));
            let d = x - self.mean;
            self.mean += a * d;
            self.var = (1.0 - a) * (self.var + a * d * d);
        }
        self.n = self.n.saturating_add(1);
    }
    fn upper(&self, k: f64) -> f64 {
        self.mean + k * self.var.sqrt()
    }
}

// ---------------------------------------------------------------- state

struct PersonState {
    group: u32,
    clearance: Level,
    projects: Vec<u32>,
    /// Days since 1970-01-01.
    hire: i64,
    leave: Option<i64>,
    notice_at: Option<i64>,
    /// Local day of `today`.
    day: i64,
    today: [f64; METRICS],
    flagged: [f64; METRICS],
    /// The line each flagged metric crossed today.
    clip: [f64; METRICS],
    own: [Ewma; METRICS],
    /// The largest day seen, fading slowly: bursty habits (USB) are
    /// judged against their own bursts.
    own_max: [f64; METRICS],
    active_days: u32,
    hours: [u32; 24],
    weekend: u32,
    events: u32,
    known_docs: FxHashSet<u32>,
    tried_docs: FxHashSet<u32>,
    /// First data week each level was reached outside the usual scope
    /// with success, and by any means (including refused attempts).
    oos_week_ok: [Option<i64>; 4],
    oos_week_any: [Option<i64>; 4],
    escalation_steps: u8,
    used_usb: bool,
    exfil_days: VecDeque<i64>,
    gather_until: i64,
    contact_group: Option<usize>,
    contact_from: i64,
    contact_noted: bool,
    ind: [Acc; N_IND],
    alerted: Option<Severity>,
    alerted_score: f64,
    alerted_at: i64,
}

struct DocInfo {
    level: Level,
    projects: Option<Vec<u32>>,
    users: u32,
}

/// The engine. Feed it with [`Engine::push`] or [`Engine::push_ev`] in
/// data-time order.
pub struct Engine {
    cfg: Config,
    half_life_us: f64,
    names: Arc<Names>,
    people: Vec<PersonState>,
    person_ids: Vec<String>,
    person_meta: Vec<(String, String)>,
    docs: Vec<DocInfo>,
    doc_titles: Vec<String>,
    group_names: Vec<String>,
    group_size: Vec<u32>,
    group_doc_users: FxHashMap<(u32, u32), u32>,
    group_base: Vec<[Ewma; METRICS]>,
    /// HR and contact effects, by time.
    timed: Vec<(i64, Timed)>,
    next_timed: usize,
    groups: Vec<contacts::ContactGroup>,
    personal: FxHashSet<String>,
    cloud: FxHashSet<String>,
    first_ts: Option<i64>,
    last_ts: i64,
    last_idh: u64,
    out_of_order: u64,
    unknown_users: u64,
    seen: u64,
}

enum Timed {
    Transfer(u32, Vec<u32>),
    Notice(u32),
    Report(u32, usize),
}

const DAY_US: i64 = 86_400_000_000;

fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap_or_default()
}

/// What the engine did, for the caller's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    pub events: u64,
    pub out_of_order: u64,
    pub unknown_users: u64,
    pub people: usize,
    pub contact_groups: usize,
}

impl Engine {
    pub fn new(ctx: &Context, cfg: Config) -> Engine {
        let mut proj_ids: HashMap<String, u32> = HashMap::new();
        let mut intern = |p: &str| {
            let n = proj_ids.len() as u32;
            *proj_ids.entry(p.to_string()).or_insert(n)
        };
        let mut group_ids: HashMap<String, u32> = HashMap::new();
        let mut group_names = Vec::new();
        let mut group_size = Vec::new();
        let mut people = Vec::with_capacity(ctx.people.len());
        let mut names = Names::default();
        let mut person_ids = Vec::new();
        let mut person_meta = Vec::new();
        // Projects at the start: roll each person back through transfers.
        let mut transfers: HashMap<&str, Vec<&HrEvent>> = HashMap::new();
        for h in &ctx.hr {
            if matches!(h.kind, HrKind::Transfer { .. }) {
                transfers.entry(h.user.as_str()).or_default().push(h);
            }
        }
        for p in &ctx.people {
            if names.users.contains_key(&p.user_id) {
                continue;
            }
            let g = *group_ids.entry(p.org_unit.clone()).or_insert_with(|| {
                group_names.push(p.org_unit.clone());
                group_size.push(0);
                (group_names.len() - 1) as u32
            });
            group_size[g as usize] += 1;
            let mut projects = p.projects.clone();
            if let Some(ts) = transfers.get_mut(p.user_id.as_str()) {
                ts.sort_by_key(|h| std::cmp::Reverse(h.ts));
                for h in ts.iter() {
                    if let HrKind::Transfer { from_projects, .. } = &h.kind {
                        projects = from_projects.clone();
                    }
                }
            }
            names.users.insert(p.user_id.clone(), people.len() as u32);
            person_ids.push(p.user_id.clone());
            person_meta.push((p.org_unit.clone(), p.role.clone()));
            people.push(PersonState {
                group: g,
                clearance: p.clearance,
                projects: projects.iter().map(|s| intern(s)).collect(),
                hire: epoch_day(p.hire_date),
                leave: p.leave_date.map(epoch_day),
                notice_at: None,
                day: i64::MIN,
                today: [0.0; METRICS],
                flagged: [0.0; METRICS],
                clip: [0.0; METRICS],
                own: [Ewma::default(); METRICS],
                own_max: [0.0; METRICS],
                active_days: 0,
                hours: [0; 24],
                weekend: 0,
                events: 0,
                known_docs: FxHashSet::default(),
                tried_docs: FxHashSet::default(),
                oos_week_ok: [None; 4],
                oos_week_any: [None; 4],
                escalation_steps: 0,
                used_usb: false,
                exfil_days: VecDeque::new(),
                gather_until: i64::MIN,
                contact_group: None,
                contact_from: 0,
                contact_noted: false,
                ind: Default::default(),
                alerted: None,
                alerted_score: 0.0,
                alerted_at: i64::MIN,
            });
        }
        let mut docs = Vec::with_capacity(ctx.documents.len());
        let mut doc_titles = Vec::new();
        for d in &ctx.documents {
            if names.docs.contains_key(&d.doc_id) {
                continue;
            }
            names.docs.insert(d.doc_id.clone(), docs.len() as u32);
            doc_titles.push(d.title.clone());
            docs.push(DocInfo {
                level: d.classification,
                projects: match &d.projects {
                    Projects::Everyone => None,
                    Projects::Groups(g) => Some(g.iter().map(|s| intern(s)).collect()),
                },
                users: 0,
            });
        }
        let mut timed = Vec::new();
        for h in &ctx.hr {
            let u = names.user(&h.user);
            if u == NONE {
                continue;
            }
            let t = h.ts.timestamp_micros();
            match &h.kind {
                HrKind::Transfer { to_projects, .. } => timed.push((
                    t,
                    Timed::Transfer(u, to_projects.iter().map(|s| intern(s)).collect()),
                )),
                HrKind::ResignationNotice => timed.push((t, Timed::Notice(u))),
                _ => {}
            }
        }
        let groups = contacts::link(&ctx.contacts);
        for (gi, g) in groups.iter().enumerate() {
            for &m in &g.members {
                let r = &ctx.contacts[m];
                let u = names.user(&r.reporter);
                if u != NONE {
                    timed.push((r.reported_at.timestamp_micros(), Timed::Report(u, gi)));
                }
            }
        }
        timed.sort_by_key(|(t, _)| *t);
        let n_groups = group_names.len();
        let lower = |v: &[String]| v.iter().map(|s| s.trim().to_ascii_lowercase()).collect();
        Engine {
            half_life_us: cfg.half_life_days * DAY_US as f64,
            personal: lower(&cfg.personal_domains),
            cloud: lower(&cfg.cloud_domains),
            cfg,
            names: Arc::new(names),
            people,
            person_ids,
            person_meta,
            docs,
            doc_titles,
            group_names,
            group_size,
            group_doc_users: FxHashMap::default(),
            group_base: vec![[Ewma::default(); METRICS]; n_groups],
            timed,
            next_timed: 0,
            groups,
            first_ts: None,
            last_ts: i64::MIN,
            last_idh: 0,
            out_of_order: 0,
            unknown_users: 0,
            seen: 0,
        }
    }

    /// The id tables, for parsers on other threads.
    pub fn names(&self) -> Arc<Names> {
        self.names.clone()
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            events: self.seen,
            out_of_order: self.out_of_order,
            unknown_users: self.unknown_users,
            people: self.people.len(),
            contact_groups: self.groups.len(),
        }
    }

    /// The linked contact-report groups.
    pub fn contact_groups(&self) -> &[contacts::ContactGroup] {
        &self.groups
    }

    /// The unit names the engine grouped people by.
    pub fn units(&self) -> &[String] {
        &self.group_names
    }

    fn apply_timed(&mut self, upto: i64) {
        while let Some((t, what)) = self.timed.get(self.next_timed) {
            if *t > upto {
                break;
            }
            let t = *t;
            match what {
                Timed::Transfer(u, p) => self.people[*u as usize].projects = p.clone(),
                Timed::Notice(u) => self.people[*u as usize].notice_at = Some(t),
                Timed::Report(u, g) => {
                    let p = &mut self.people[*u as usize];
                    if p.contact_group.is_none() {
                        p.contact_group = Some(*g);
                        p.contact_from = t;
                    }
                }
            }
            self.next_timed += 1;
        }
    }

    /// Feeds one parsed event.
    pub fn push(&mut self, e: &Event) -> Option<Alert> {
        let names = self.names.clone();
        let ev = names.compact(e);
        self.push_ev(&ev)
    }

    fn is_in(set: &FxHashSet<String>, domain: &str) -> bool {
        let d = domain.trim();
        let mut rest = d;
        loop {
            if set.contains(rest)
                || (rest.bytes().any(|b| b.is_ascii_uppercase())
                    && set.contains(&rest.to_ascii_lowercase()))
            {
                return true;
            }
            match rest.split_once('.') {
                Some((_, r)) if r.contains('.') => rest = r,
                _ => return false,
            }
        }
    }

    /// Feeds one event in compact form. Events must come in data-time
    /// order, ties broken by [`id_hash`]; one that comes earlier than the
    /// previous is still processed, and counted in
    /// [`EngineStats::out_of_order`].
    pub fn push_ev(&mut self, e: &Ev<'_>) -> Option<Alert> {
        let now = e.ts_us;
        let key = (now, id_hash(e.id));
        if key < (self.last_ts, self.last_idh) {
            self.out_of_order += 1;
        } else {
            (self.last_ts, self.last_idh) = key;
        }
        self.seen += 1;
        if self
            .timed
            .get(self.next_timed)
            .is_some_and(|(t, _)| *t <= now)
        {
            self.apply_timed(now);
        }
        let first = *self.first_ts.get_or_insert(now);
        let u = e.user;
        if u == NONE || u as usize >= self.people.len() {
            self.unknown_users += 1;
            return None;
        }
        let local_us = now + i64::from(e.offset_s) * 1_000_000;
        let day = local_us.div_euclid(DAY_US);
        let hour = (local_us.rem_euclid(DAY_US) / 3_600_000_000) as usize;
        // 1970-01-01 was a Thursday.
        let weekday = (day + 3).rem_euclid(7); // 0 = Monday
        let is_weekend = weekday >= 5;
        let week = (now - first) / (7 * DAY_US);
        let warm = now - first >= self.cfg.warmup_days * DAY_US;
        self.roll_day(u, day);
        let p = &mut self.people[u as usize];
        // Unusual time for this person (their own pattern once known).
        let after_hours = if p.events >= 300 {
            f64::from(p.hours[hour]) / f64::from(p.events) < 0.01
                || (is_weekend && f64::from(p.weekend) / f64::from(p.events) < 0.02)
        } else {
            hour < self.cfg.default_hours.0 as usize
                || hour >= self.cfg.default_hours.1 as usize
                || is_weekend
        };
        p.hours[hour] += 1;
        p.weekend += u32::from(is_weekend);
        p.events += 1;
        let onboarding = day - p.hire < self.cfg.onboarding_days;
        let leaving = p.notice_at.is_some_and(|n| now >= n)
            || p.leave.is_some_and(|l| l - day <= 30 && day <= l);
        let mut gain: Vec<(Ind, f64, String)> = Vec::new();
        match e.kind {
            Kind::View | Kind::Download | Kind::Print | Kind::Briefing | Kind::Denied => {
                if e.doc != NONE && (e.doc as usize) < self.docs.len() {
                    self.doc_access(u, e, warm, onboarding, week, &mut gain);
                }
                match e.kind {
                    Kind::Download => {
                        self.people[u as usize].today[M_DOWNLOADS] += 1.0;
                        self.check_volume(u, M_DOWNLOADS, &mut gain);
                    }
                    Kind::Print => {
                        let p = &mut self.people[u as usize];
                        p.today[M_PRINTS] += 1.0;
                        p.today[M_PAGES] += e.pages as f64;
                        self.check_volume(u, M_PRINTS, &mut gain);
                        self.check_volume(u, M_PAGES, &mut gain);
                    }
                    _ => {}
                }
            }
            Kind::PrintJob => {
                self.people[u as usize].today[M_PAGES] += e.pages as f64;
                self.check_volume(u, M_PAGES, &mut gain);
            }
            Kind::Usb | Kind::DeviceConnect => {
                let p = &mut self.people[u as usize];
                p.today[M_USB] += e.bytes as f64;
                let first_use = !p.used_usb && p.active_days >= 20 && warm;
                p.used_usb = true;
                let lvl = self.doc_level(e.doc);
                let pts = if first_use { 4.0 } else { 0.0 } + lvl.map_or(0.0, level_exfil_weight);
                if pts > 0.0 {
                    let what = if e.kind == Kind::DeviceConnect {
                        "connected removable media".to_string()
                    } else {
                        format!("wrote {} to USB", human_bytes(e.bytes))
                    };
                    gain.push((
                        Ind::Exfiltration,
                        pts,
                        format!("{what}{}", if first_use { " (first time)" } else { "" }),
                    ));
                }
                if e.kind == Kind::Usb {
                    self.people[u as usize].today[M_USB_FILES] += e.files as f64;
                    self.check_volume(u, M_USB, &mut gain);
                    self.check_volume(u, M_USB_FILES, &mut gain);
                    self.take_out(u, e.bytes, lvl, "USB", &mut gain);
                }
            }
            Kind::Upload => {
                self.people[u as usize].today[M_UPLOAD] += e.bytes as f64;
                let cloud =
                    Self::is_in(&self.cloud, e.domain) || Self::is_in(&self.personal, e.domain);
                let lvl = self.doc_level(e.doc);
                let pts = if cloud { 3.0 } else { 0.0 } + lvl.map_or(0.0, level_exfil_weight);
                if pts > 0.0 {
                    gain.push((
                        Ind::Exfiltration,
                        pts,
                        format!("uploaded {} to {}", human_bytes(e.bytes), e.domain),
                    ));
                }
                self.check_volume(u, M_UPLOAD, &mut gain);
                if cloud || lvl.is_some() {
                    self.take_out(u, e.bytes, lvl, e.domain, &mut gain);
                }
            }
            // A leak site is an exfiltration channel even when the feed
            // only shows the visit.
            Kind::Visit if e.domain.contains("wikileaks") => {
                gain.push((Ind::Exfiltration, 6.0, format!("visited {}", e.domain)));
            }
            Kind::Mail => {
                let personal = Self::is_in(&self.personal, e.domain);
                let lvl = self.doc_level(e.doc);
                if e.external && e.attachments > 0 {
                    self.people[u as usize].today[M_MAIL_OUT] += e.bytes as f64;
                    self.check_volume(u, M_MAIL_OUT, &mut gain);
                }
                if personal {
                    let pts = match lvl {
                        Some(l) => level_exfil_weight(l),
                        None if e.attachments > 0 => 0.6 * (1.0 + (e.bytes as f64 / 5e6).min(3.0)),
                        None => 0.0,
                    };
                    if pts > 0.0 {
                        let what = match lvl {
                            Some(l) => format!("mailed a {} document to {}", l.as_str(), e.domain),
                            None => format!(
                                "mailed {} attachment(s), {} to {}",
                                e.attachments,
                                human_bytes(e.bytes),
                                e.domain
                            ),
                        };
                        gain.push((Ind::Exfiltration, pts, what));
                    }
                    if lvl.is_some() || e.attachments > 0 {
                        self.take_out(u, e.bytes, lvl, e.domain, &mut gain);
                    }
                } else if e.external {
                    if let Some(l) = lvl.filter(|l| *l >= Level::Confidential) {
                        gain.push((
                            Ind::Exfiltration,
                            level_exfil_weight(l) * 0.6,
                            format!("mailed a {} document to {}", l.as_str(), e.domain),
                        ));
                    }
                }
            }
            _ => {}
        }
        if gain.is_empty() {
            return None;
        }
        self.apply_gain(u, e, now, local_us, after_hours, is_weekend, leaving, gain);
        self.maybe_alert(u, e)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_gain(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        now: i64,
        local_us: i64,
        after_hours: bool,
        is_weekend: bool,
        leaving: bool,
        gain: Vec<(Ind, f64, String)>,
    ) {
        let hl = self.half_life_us;
        let p = &mut self.people[u as usize];
        let contact = p
            .contact_group
            .is_some_and(|g| now >= p.contact_from && self.groups[g].members.len() >= 2);
        for (ind, pts, detail) in gain {
            let acc = &mut p.ind[ind as usize];
            acc.add(now, hl, pts, e.id);
            acc.detail = detail;
            if !ind.amplified() {
                continue;
            }
            if after_hours {
                let a = &mut p.ind[Ind::AfterHours as usize];
                a.add(now, hl, pts * 0.3, e.id);
                let mins = local_us.rem_euclid(DAY_US) / 60_000_000;
                a.detail = format!(
                    "at {:02}:{:02} {}",
                    mins / 60,
                    mins % 60,
                    if is_weekend {
                        "on a weekend"
                    } else {
                        "outside their usual hours"
                    }
                );
            }
            if leaving {
                let a = &mut p.ind[Ind::Leaving as usize];
                a.add(now, hl, pts, e.id);
                a.detail = match (p.notice_at, p.leave) {
                    (Some(_), Some(l)) => {
                        format!("after their resignation notice; leaves {}", date_of(l))
                    }
                    (Some(_), None) => "after their resignation notice".into(),
                    (None, Some(l)) => {
                        format!("in the last 30 days before leaving on {}", date_of(l))
                    }
                    _ => String::new(),
                };
            }
            if contact {
                let a = &mut p.ind[Ind::Contact as usize];
                let bonus = if p.contact_noted { 0.0 } else { 6.0 };
                p.contact_noted = true;
                a.add(now, hl, pts * 0.5 + bonus, e.id);
                if let Some(g) = p.contact_group {
                    let g = &self.groups[g];
                    a.detail = format!(
                        "reported an approach by {} ({} reports by {} people describe the same person)",
                        g.name.as_deref().unwrap_or("an outsider"),
                        g.members.len(),
                        g.reporters.len()
                    );
                }
            }
        }
    }

    fn doc_level(&self, d: u32) -> Option<Level> {
        self.docs.get(d as usize).map(|d| d.level)
    }

    /// Closes the person's previous day into their baselines.
    fn roll_day(&mut self, u: u32, day: i64) {
        let p = &mut self.people[u as usize];
        if p.day == day {
            return;
        }
        if p.day != i64::MIN {
            let g = p.group as usize;
            for (m, &bursty) in BURSTY.iter().enumerate() {
                // An unusual day enters the baselines only up to the line
                // it crossed: otherwise the misdeed would become the norm
                // the next day is judged by.
                // For byte volumes the largest day still counts in full:
                // those habits are bursty (a USB copy now and then) and are
                // judged against their own bursts.
                let v = if p.flagged[m] > 0.0 {
                    p.today[m].min(p.clip[m])
                } else {
                    p.today[m]
                };
                let for_max = if bursty { p.today[m] } else { v };
                p.own[m].push(v, 0.05);
                p.own_max[m] = (p.own_max[m] * 0.99).max(for_max);
                self.group_base[g][m].push(v, 0.002);
            }
            p.active_days += 1;
        }
        p.day = day;
        p.today = [0.0; METRICS];
        p.flagged = [0.0; METRICS];
        p.clip = [0.0; METRICS];
    }

    fn check_volume(&mut self, u: u32, m: usize, gain: &mut Vec<(Ind, f64, String)>) {
        let p = &mut self.people[u as usize];
        let v = p.today[m];
        if v < METRIC_FLOORS[m] {
            return;
        }
        let g = &self.group_base[p.group as usize][m];
        let mut threshold = METRIC_FLOORS[m];
        if p.own[m].n >= 10 {
            threshold = threshold
                .max(p.own[m].upper(5.0))
                .max(p.own[m].mean * 4.0)
                .max(p.own_max[m] * 1.5);
        } else {
            threshold *= 2.0;
        }
        if g.n >= 50 {
            threshold = threshold.max(g.upper(6.0));
        }
        // `flagged` is the next step to cross today: the first line, then
        // each half again above it, each worth more points (at most six).
        let first = p.flagged[m] == 0.0;
        let level = if first { threshold } else { p.flagged[m] };
        if v < level {
            return;
        }
        let mut pts = 0.0;
        let mut next = level;
        if first {
            p.clip[m] = threshold;
            pts += 12.0;
            next *= 1.5;
        }
        let mut steps = 0;
        while v >= next && steps < 8 {
            if next <= threshold * 1.5f64.powi(6) {
                pts += 5.0;
            }
            next *= 1.5;
            steps += 1;
        }
        p.flagged[m] = next;
        if pts == 0.0 {
            return;
        }
        let detail = if (M_USB..=M_MAIL_OUT).contains(&m) {
            format!(
                "{} in one day: {} (usual {}, peers {})",
                METRIC_NAMES[m],
                human_bytes(v as u64),
                human_bytes(p.own[m].mean as u64),
                human_bytes(g.mean as u64)
            )
        } else {
            format!(
                "{} in one day: {:.0} (usual {:.1}, peers {:.1})",
                METRIC_NAMES[m], v, p.own[m].mean, g.mean
            )
        };
        gain.push((Ind::Volume, pts, detail));
        if m <= M_PAGES {
            // Gathering: what is taken out in the next days follows it.
            p.gather_until = (p.day + 4) * DAY_US;
        }
    }

    /// Something left the company: count channels over days, and follow a
    /// gathering.
    fn take_out(
        &mut self,
        u: u32,
        bytes: u64,
        lvl: Option<Level>,
        channel: &str,
        gain: &mut Vec<(Ind, f64, String)>,
    ) {
        let p = &mut self.people[u as usize];
        if lvl.is_some() && p.exfil_days.back() != Some(&p.day) {
            {
                p.exfil_days.push_back(p.day);
                while p.exfil_days.front().is_some_and(|d| p.day - d > 60) {
                    p.exfil_days.pop_front();
                }
                let n = p.exfil_days.len();
                if n >= 3 {
                    let pts = if n == 3 { 12.0 } else { 4.0 };
                    gain.push((
                        Ind::Recurrence,
                        pts,
                        format!("company documents sent out via {channel} on {n} different days in 60 days"),
                    ));
                }
            }
        }
        let local_now = p.day * DAY_US;
        if p.gather_until != i64::MIN && local_now <= p.gather_until && bytes >= 5_000_000 {
            p.gather_until = i64::MIN;
            gain.push((
                Ind::Sequence,
                15.0,
                format!(
                    "{} taken out via {channel} within days of an unusual gathering",
                    human_bytes(bytes)
                ),
            ));
        }
    }

    fn doc_access(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        warm: bool,
        onboarding: bool,
        week: i64,
        gain: &mut Vec<(Ind, f64, String)>,
    ) {
        let d = e.doc;
        let denied = e.kind == Kind::Denied;
        let p = &mut self.people[u as usize];
        let doc = &self.docs[d as usize];
        let level = doc.level;
        let shares = match &doc.projects {
            None => true,
            Some(ps) => ps.iter().any(|x| p.projects.contains(x)),
        };
        let permitted = level <= p.clearance && (level < Level::Confidential || shares);
        let first_time = if denied {
            !p.known_docs.contains(&d) && p.tried_docs.insert(d)
        } else {
            p.known_docs.insert(d)
        };
        if !first_time {
            return;
        }
        let g = p.group;
        let peers = self.group_doc_users.get(&(g, d)).copied().unwrap_or(0);
        let others = doc.users.saturating_sub(peers);
        if !denied && !onboarding {
            // What each unit reads, learned from settled people only.
            *self.group_doc_users.entry((g, d)).or_default() += 1;
            self.docs[d as usize].users += 1;
        }
        let title = &self.doc_titles[d as usize];
        let lw = level_weight(level);
        let act = match e.kind {
            Kind::Print => 1.5,
            Kind::Download => 1.3,
            _ => 1.0,
        };
        let onboard = if onboarding { 0.15 } else { 1.0 };
        if denied {
            let pts = match level {
                Level::Secret => 3.0,
                Level::Confidential => 2.0,
                _ => 1.0,
            };
            gain.push((
                Ind::Refusals,
                pts * onboard,
                format!("refused: {} '{}'", level.as_str(), title),
            ));
        } else if !permitted {
            gain.push((
                Ind::NeedToKnow,
                (lw * 1.5 + 2.0) * act * onboard,
                format!(
                    "opened {} '{}' without {}",
                    level.as_str(),
                    title,
                    if level > p.clearance {
                        "clearance"
                    } else {
                        "need to know"
                    }
                ),
            ));
        }
        // Outside the usual scope: their unit does not read it, others do
        // (or, for need-to-know material, it is not their project's).
        let scope_small = (f64::from(self.group_size[g as usize]) * 0.02).max(1.0);
        let outside = !shares || (f64::from(peers) <= scope_small && others >= 3);
        if !warm || !outside || p.active_days < 10 {
            return;
        }
        let li = level as usize;
        if !denied {
            gain.push((
                Ind::OutOfScope,
                lw * act * onboard,
                format!(
                    "{} {} '{}', which their unit does not use",
                    verb(e.kind),
                    level.as_str(),
                    title
                ),
            ));
            if p.oos_week_ok[li].is_none() {
                p.oos_week_ok[li] = Some(week);
            }
        }
        // Climbing: a higher level reached (or tried) outside the scope in a
        // later week than a lower level was reached with success.
        if p.oos_week_any[li].is_none() {
            p.oos_week_any[li] = Some(week);
            let below = (0..li).filter_map(|l| p.oos_week_ok[l]).min();
            if let Some(start) = below.filter(|w| *w < week) {
                if !onboarding {
                    p.escalation_steps += 1;
                    let path: Vec<&str> = (0..4)
                        .filter(|&l| p.oos_week_any[l].is_some())
                        .map(|l| LEVELS[l])
                        .collect();
                    gain.push((
                        Ind::Escalation,
                        10.0 + 4.0 * f64::from(p.escalation_steps),
                        format!(
                            "climbing outside their scope: {} over {} weeks",
                            path.join(" → "),
                            (week - start).max(1)
                        ),
                    ));
                }
            }
        }
    }

    fn score(&self, u: u32, now: i64) -> f64 {
        let p = &self.people[u as usize];
        p.ind
            .iter()
            .map(|a| a.value(now, self.half_life_us))
            .sum::<f64>()
    }

    fn maybe_alert(&mut self, u: u32, e: &Ev<'_>) -> Option<Alert> {
        let now = e.ts_us;
        let score = self.score(u, now);
        let sev = if score >= self.cfg.high {
            Severity::High
        } else if score >= self.cfg.medium {
            Severity::Medium
        } else if score >= self.cfg.low {
            Severity::Low
        } else {
            return None;
        };
        let p = &self.people[u as usize];
        let raise = match p.alerted {
            None => true,
            Some(prev) if sev > prev => true,
            // A standing case that keeps growing: say so once a week.
            Some(_) => score >= p.alerted_score + 20.0 && now - p.alerted_at >= 7 * DAY_US,
        };
        // A fresh start after the old findings faded.
        let faded = p.alerted.is_some() && now - p.alerted_at > 90 * DAY_US;
        if !raise && !faded {
            return None;
        }
        let mut indicators: Vec<Indicator> = Ind::ALL
            .iter()
            .filter_map(|&i| {
                let a = &p.ind[i as usize];
                let w = a.value(now, self.half_life_us);
                (w >= 0.5).then(|| Indicator {
                    name: i.name().to_string(),
                    weight: (w * 10.0).round() / 10.0,
                    evidence: a.evidence.iter().map(|s| s.to_string()).collect(),
                    detail: a.detail.clone(),
                })
            })
            .collect();
        indicators.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.name.cmp(&b.name)));
        let (unit, role) = &self.person_meta[u as usize];
        let summary = explain::summary(&self.person_ids[u as usize], unit, role, sev, &indicators);
        let p = &mut self.people[u as usize];
        p.alerted = Some(sev);
        p.alerted_score = score;
        p.alerted_at = now;
        let offset = FixedOffset::east_opt(e.offset_s).unwrap_or(FixedOffset::east_opt(0)?);
        let raised_at = DateTime::from_timestamp_micros(now)?.with_timezone(&offset);
        Some(Alert {
            user: self.person_ids[u as usize].clone(),
            raised_at,
            score: (score.min(100.0) * 10.0).round() / 10.0,
            severity: sev,
            indicators,
            summary,
        })
    }
}

const LEVELS: [&str; 4] = ["public", "internal", "confidential", "secret"];

fn level_weight(l: Level) -> f64 {
    match l {
        Level::Public => 1.5,
        Level::Internal => 4.0,
        Level::Confidential => 8.0,
        Level::Secret => 12.0,
    }
}

fn level_exfil_weight(l: Level) -> f64 {
    match l {
        Level::Public => 0.5,
        Level::Internal => 5.0,
        Level::Confidential => 10.0,
        Level::Secret => 14.0,
    }
}

fn verb(k: Kind) -> &'static str {
    match k {
        Kind::Print => "printed",
        Kind::Download => "downloaded",
        Kind::Briefing => "was briefed on",
        _ => "opened",
    }
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
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
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

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
