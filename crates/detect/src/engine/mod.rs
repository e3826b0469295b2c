//! The engine: events in data-time order in, explainable alerts out.
//!
//! Rules, in the order an event meets them:
//! 1. Order and identity: events come in (`ts`, id hash) order; HR events
//!    and contact reports take effect at their own time, between the
//!    events around them. An unknown user is counted, not judged.
//! 2. A person's day closes at their first event of a new local day: each
//!    feature's count goes into their baseline (clipped at the level it
//!    first became surprising, so a misdeed does not become the norm) and
//!    into the recent windows (in full).
//! 3. Once per data day the peer priors (unit and role, unit, everyone),
//!    the units' working hours and the budget's lines are recomputed from
//!    everyone's state: deterministic, whatever the batch sizes.
//! 4. The event adds to today's count of each behaviour it shows
//!    (`features`). A count is judged against the person's baseline over
//!    the day, the last week and the last month (`baseline`); the most
//!    surprising of the three, less the look-elsewhere cost of having
//!    three, is the feature's surprise now.
//! 5. Surprise above `surprise_floor` that has not been credited yet (the
//!    credit fades with the findings' half-life) becomes points: the
//!    feature's weight times the new nats, times the context: after the
//!    person's usual hours, in the leaving window, after an approach by an
//!    outsider others reported too; at `onboarding_factor` in a new hire's
//!    first weeks; nothing in the first `warmup_days` of data.
//! 6. Patterns on top: the climb in sensitivity outside one's scope
//!    (`climb`), taking out within days of an unusual gathering, logons to
//!    another person's or one's manager's computer (features of their
//!    own).
//! 7. The score is the sum of the indicators' points, fading with
//!    `half_life_days`. Severity follows the budget's lines (`budget`);
//!    a person is alerted when their score first crosses a line, again at a
//!    higher one, and once a week while a standing case keeps growing.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use custodian_core::{Event, HrKind, Level};

use crate::baseline::{Days, Decay, Expect, GroupStat, Prior, Track, Tracks, RISE_LENGTH};
use crate::budget::{Budget, Lines};
use crate::climb::Climb;
use crate::features::{Feat, Ind, N_FAMILIES, N_FEAT, N_IND, N_SIZE, SIZES};
use crate::input::{Ev, Kind, Names, NONE};
use crate::scope::{DocExposure, Docs};
use crate::sizes::{SizeExpect, SizeGroup, SizeHist};
use crate::web::{Category, Web};
use crate::{contacts, explain, id_hash, Alert, Config, Context, Indicator, Severity};

mod access;
mod alerting;
mod checkpoint;
mod days;
mod observe;
mod words;

use checkpoint::{no_decay, no_mask, no_weights};
pub use checkpoint::{CheckpointError, CHECKPOINT_FORMAT};
pub use words::human_bytes;
use words::*;

const DAY_US: i64 = 86_400_000_000;
/// Days a gathering is followed for what is taken out.
const GATHER_DAYS: i64 = 4;
const MAX_EVIDENCE: usize = 12;
/// The share of a surprising day's excess the baseline learns.
const LEARN_SHARE: f32 = 0.35;
const MAX_DOMAINS: usize = 1024;
/// A project's outsiders are a peer group from this many people on.
const MIN_OUTSIDERS: f64 = 10.0;
const MAX_HOSTS: usize = 16;

fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap_or_default()
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// One indicator's points, fading, with the events behind them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Acc {
    points: f64,
    at: i64,
    evidence: VecDeque<Box<str>>,
    detail: String,
}

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
        if self.evidence.back().map(|e| &**e) != Some(evidence) {
            if self.evidence.len() >= MAX_EVIDENCE {
                // Keep the first (where it started) and the latest.
                self.evidence.remove(1);
            }
            self.evidence.push_back(evidence.into());
        }
    }
}

/// Surprise already turned into points, fading like the points.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Credit {
    nats: f32,
    at: i64,
}

impl Credit {
    fn value(&self, now: i64, half_life_us: f64) -> f64 {
        if self.nats == 0.0 {
            return 0.0;
        }
        let dt = (now - self.at).max(0) as f64;
        f64::from(self.nats) * (-dt / half_life_us * std::f64::consts::LN_2).exp()
    }
}

/// A person's own rate and burstiness per feature, and their active days,
/// as their groups' statistics last counted them.
type Contribution = ([(f32, f32); N_FEAT], f32);

#[serde_with::serde_as]
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct PersonState {
    unit: u32,
    pair: u32,
    manager: u32,
    clearance: Level,
    projects: Vec<u32>,
    /// Days since 1970-01-01.
    hire: i64,
    leave: Option<i64>,
    notice_at: Option<i64>,
    /// Local day of `today`.
    day: i64,
    days: Days,
    #[serde_as(as = "[_; N_FEAT]")]
    tracks: Tracks,
    /// What the person added to their groups' statistics at the last
    /// recomputation (own rate and burstiness per feature), if anything:
    /// taken out again for their own prior.
    #[serde_as(as = "Option<Box<([_; N_FEAT], _)>>")]
    contrib: Option<Box<Contribution>>,
    /// Each feature's expectation for today, worked out at its first
    /// event of the day (the reference changes only when a day closes).
    #[serde_as(as = "[_; N_FEAT]")]
    expect: [Option<Expect>; N_FEAT],
    sizes: [SizeHist; N_SIZE],
    #[serde_as(as = "[_; N_FEAT]")]
    today: [f32; N_FEAT],
    /// Today's count when a feature first became surprising (0: not yet).
    #[serde_as(as = "[_; N_FEAT]")]
    cross: [f32; N_FEAT],
    #[serde_as(as = "[_; N_FEAT]")]
    credit: [Credit; N_FEAT],
    /// Rises already credited per family of features, in points (one
    /// behaviour's rise is one finding).
    family_credit: [Credit; N_FAMILIES],
    hours: [u32; 24],
    weekend_events: u32,
    events: u32,
    /// Bit h: an unusual hour h already counted today.
    odd_hours_today: u32,
    known_docs: FxHashSet<u32>,
    /// Documents the person has printed or downloaded (a copy taken).
    taken_docs: FxHashSet<u32>,
    tried_docs: FxHashSet<u32>,
    known_projects: Vec<u32>,
    /// Foreign projects touched lately: (project, count fading over a
    /// month, day of the last touch).
    foreign: Vec<(u32, f32, i64)>,
    domains: FxHashSet<u64>,
    hosts: Vec<(u64, u32)>,
    hosts_today: Vec<u64>,
    /// The last event of each sessioned feature (USB copies, job, hacking,
    /// leak, cloud sites).
    sessions: [i64; 5],
    /// The person's last search (a document opened right after one was
    /// sought, not stumbled on).
    last_search: i64,
    climb: Climb,
    climb_credit: Credit,
    /// The per-project peer look's credit (see `foreign_focus`).
    project_credit: Credit,
    gather: Option<(i64, f64)>,
    contact_group: Option<usize>,
    contact_from: i64,
    contact_noted: bool,
    ind: [Acc; N_IND],
    max_score: f64,
    alerted: Option<Severity>,
    alerted_score: f64,
    alerted_at: i64,
}

/// A host and the people who use it most (space-saving counts).
#[derive(Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct HostUsers([(u32, u32); 3]);

impl HostUsers {
    fn note(&mut self, u: u32) {
        if let Some(s) = self.0.iter_mut().find(|s| s.0 == u && s.1 > 0) {
            s.1 += 1;
            return;
        }
        if let Some(s) = self.0.iter_mut().min_by_key(|s| s.1) {
            *s = (u, s.1 + 1);
        }
    }
    /// Its usual user, once clear (three logons, twice anyone else's).
    fn owner(&self) -> Option<u32> {
        let mut v = self.0;
        v.sort_by_key(|x| std::cmp::Reverse(x.1));
        (v[0].1 >= 3 && v[0].1 >= 2 * v[1].1).then_some(v[0].0)
    }
}

/// A finding before context: where it goes and why.
struct Gain {
    ind: Ind,
    points: f64,
    detail: String,
}

/// What the engine did, for the caller's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    pub events: u64,
    pub out_of_order: u64,
    pub unknown_users: u64,
    pub people: usize,
    pub contact_groups: usize,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Timed {
    Transfer(u32, Vec<u32>),
    Notice(u32),
    Report(u32, usize),
}

/// The engine. Feed it with [`Engine::push`] or [`Engine::push_ev`] in
/// data-time order.
#[serde_with::serde_as]
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    // What the configuration gives: not in a checkpoint, set again by
    // `Engine::restore`.
    #[serde(skip)]
    cfg: Config,
    #[serde(skip, default = "no_weights")]
    weights: [f64; N_FEAT],
    #[serde(skip)]
    half_life_us: f64,
    #[serde(skip, default = "no_decay")]
    decay: Decay,
    names: Arc<Names>,
    people: Vec<PersonState>,
    person_ids: Vec<String>,
    person_meta: Vec<(String, String)>,
    docs: Docs,
    unit_names: Vec<String>,
    pair_unit: Vec<u32>,
    pair_size: Vec<u32>,
    #[serde_as(as = "Vec<[_; N_FEAT]>")]
    prior_pair: Vec<[Prior; N_FEAT]>,
    #[serde_as(as = "Vec<[_; N_FEAT]>")]
    prior_unit: Vec<[Prior; N_FEAT]>,
    #[serde_as(as = "[_; N_FEAT]")]
    prior_company: [Prior; N_FEAT],
    /// The groups' statistics the priors came from (for leaving a person
    /// out of their own), and the rate floor they were made with.
    #[serde_as(as = "Vec<[_; N_FEAT]>")]
    stat_pair: Vec<[GroupStat; N_FEAT]>,
    #[serde_as(as = "Vec<[_; N_FEAT]>")]
    stat_unit: Vec<[GroupStat; N_FEAT]>,
    rate_floor: f64,
    #[serde(skip, default = "no_mask")]
    peer_mask: [bool; N_FEAT],
    /// Project names, and per project the non-members' month of touches
    /// (sum, sum of squares, how many non-members): the peers of a person
    /// returning to a project not theirs are everyone else outside it.
    project_names: Vec<String>,
    project_touch: Vec<(f64, f64, f64)>,
    size_pair: Vec<[SizeGroup; N_SIZE]>,
    unit_hours: Vec<[f32; 25]>,
    hosts: FxHashMap<u64, HostUsers>,
    #[serde(skip, default = "Web::empty")]
    web: Web,
    budget: Budget,
    timed: Vec<(i64, Timed)>,
    next_timed: usize,
    groups: Vec<contacts::ContactGroup>,
    data_day: i64,
    /// Whether each person has been seen, and how many have.
    seen_person: Vec<bool>,
    people_seen: usize,
    first_ts: Option<i64>,
    last_ts: i64,
    last_idh: u64,
    out_of_order: u64,
    unknown_users: u64,
    seen: u64,
    /// One person whose every judgement is written down (`--trace`).
    #[serde(skip)]
    trace: Option<(u32, Vec<String>)>,
    /// From half the warm-up on: surprise is judged (and kept out of the
    /// baselines) and rises gather evidence, though nothing is credited
    /// before the warm-up ends.
    judging: bool,
}

impl Engine {
    pub fn new(ctx: &Context, cfg: Config) -> Engine {
        let mut proj_ids: HashMap<String, u32> = HashMap::new();
        let mut intern = |p: &str| {
            let n = proj_ids.len() as u32;
            *proj_ids.entry(p.to_string()).or_insert(n)
        };
        let mut unit_ids: HashMap<String, u32> = HashMap::new();
        let mut pair_ids: HashMap<(u32, String), u32> = HashMap::new();
        let mut unit_names = Vec::new();
        let mut pair_unit = Vec::new();
        let mut pair_size: Vec<u32> = Vec::new();
        let mut people = Vec::with_capacity(ctx.people.len());
        let mut names = Names::default();
        let mut person_ids = Vec::new();
        let mut person_meta = Vec::new();
        let mut managers: Vec<Option<String>> = Vec::new();
        // Projects at the start: roll each person back through transfers.
        let mut transfers: HashMap<&str, Vec<&custodian_core::HrEvent>> = HashMap::new();
        for h in &ctx.hr {
            if matches!(h.kind, HrKind::Transfer { .. }) {
                transfers.entry(h.user.as_str()).or_default().push(h);
            }
        }
        for p in &ctx.people {
            if names.users.contains_key(&p.user_id) {
                continue;
            }
            let unit = *unit_ids.entry(p.org_unit.clone()).or_insert_with(|| {
                unit_names.push(p.org_unit.clone());
                (unit_names.len() - 1) as u32
            });
            let pair = *pair_ids
                .entry((unit, p.role.to_ascii_lowercase()))
                .or_insert_with(|| {
                    pair_unit.push(unit);
                    pair_size.push(0);
                    (pair_unit.len() - 1) as u32
                });
            pair_size[pair as usize] += 1;
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
            managers.push(p.manager_id.clone());
            people.push(PersonState {
                unit,
                pair,
                manager: NONE,
                clearance: p.clearance,
                projects: projects.iter().map(|s| intern(s)).collect(),
                hire: epoch_day(p.hire_date),
                leave: p.leave_date.map(epoch_day),
                notice_at: None,
                day: i64::MIN,
                days: Days::default(),
                tracks: [Track::default(); N_FEAT],
                contrib: None,
                expect: [None; N_FEAT],
                sizes: [SizeHist::default(); N_SIZE],
                today: [0.0; N_FEAT],
                cross: [0.0; N_FEAT],
                credit: [Credit::default(); N_FEAT],
                family_credit: [Credit::default(); N_FAMILIES],
                hours: [0; 24],
                weekend_events: 0,
                events: 0,
                odd_hours_today: 0,
                known_docs: FxHashSet::default(),
                tried_docs: FxHashSet::default(),
                taken_docs: FxHashSet::default(),
                known_projects: Vec::new(),
                foreign: Vec::new(),
                domains: FxHashSet::default(),
                hosts: Vec::new(),
                hosts_today: Vec::new(),
                sessions: [i64::MIN / 2; 5],
                last_search: i64::MIN / 2,
                climb: Climb::default(),
                climb_credit: Credit::default(),
                project_credit: Credit::default(),
                gather: None,
                contact_group: None,
                contact_from: 0,
                contact_noted: false,
                ind: Default::default(),
                max_score: 0.0,
                alerted: None,
                alerted_score: 0.0,
                alerted_at: i64::MIN,
            });
        }
        for (i, m) in managers.iter().enumerate() {
            if let Some(m) = m {
                people[i].manager = names.user(m);
            }
        }
        let (docs, doc_ids) = Docs::new(
            &ctx.documents,
            unit_names.len(),
            cfg.exposure_people,
            &mut intern,
        );
        names.docs = doc_ids;
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
        let mut project_names = vec![String::new(); proj_ids.len()];
        for (name, &i) in &proj_ids {
            project_names[i as usize] = name.clone();
        }
        let n_units = unit_names.len();
        let n_pairs = pair_unit.len();
        let n_people = people.len();
        Engine {
            weights: cfg.feature_weights(),
            half_life_us: cfg.half_life_days * DAY_US as f64,
            decay: Decay::new(cfg.baseline_half_life_days),
            web: Web::new(&cfg.domains),
            budget: Budget::new(&cfg),
            peer_mask: cfg.peer_mask(),
            project_touch: vec![(0.0, 0.0, 0.0); project_names.len()],
            project_names,
            cfg,
            names: Arc::new(names),
            people,
            person_ids,
            person_meta,
            docs,
            unit_names,
            pair_unit,
            pair_size,
            prior_pair: vec![[Prior::default(); N_FEAT]; n_pairs],
            prior_unit: vec![[Prior::default(); N_FEAT]; n_units],
            prior_company: [Prior::default(); N_FEAT],
            stat_pair: vec![[GroupStat::default(); N_FEAT]; n_pairs],
            stat_unit: vec![[GroupStat::default(); N_FEAT]; n_units],
            rate_floor: 0.0,
            size_pair: vec![[SizeGroup::default(); N_SIZE]; n_pairs],
            unit_hours: vec![[0.0; 25]; n_units],
            hosts: FxHashMap::default(),
            timed,
            next_timed: 0,
            groups,
            data_day: i64::MIN,
            seen_person: vec![false; n_people],
            people_seen: 0,
            first_ts: None,
            last_ts: i64::MIN,
            last_idh: 0,
            out_of_order: 0,
            unknown_users: 0,
            seen: 0,
            trace: None,
            judging: false,
        }
    }

    /// Writes down every judgement about one person (for `--trace`):
    /// each count that was weighed, how surprising it was, what it added.
    pub fn trace(&mut self, user_id: &str) -> bool {
        let u = self.names.user(user_id);
        self.trace = (u != NONE).then(|| (u, Vec::new()));
        u != NONE
    }

    /// What was written down for the traced person.
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace
            .as_mut()
            .map(|(_, v)| std::mem::take(v))
            .unwrap_or_default()
    }

    fn traced(&self, u: u32) -> bool {
        self.trace.as_ref().is_some_and(|(t, _)| *t == u)
    }

    fn note(&mut self, now: i64, line: String) {
        if let Some((_, v)) = &mut self.trace {
            let t = DateTime::from_timestamp_micros(now)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            v.push(format!("{t} {line}"));
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
        &self.unit_names
    }

    /// The severity lines now.
    pub fn lines(&self) -> Lines {
        self.budget.lines()
    }

    /// Each person's highest score so far (alerted or not), by user id: what
    /// a ranking at any budget would use.
    pub fn max_scores(&self) -> Vec<(String, f64)> {
        self.person_ids
            .iter()
            .zip(&self.people)
            .map(|(id, p)| (id.clone(), (p.max_score * 10.0).round() / 10.0))
            .collect()
    }

    /// Register entries opened without need to know: who may, who did,
    /// since when (a finding about the register, not about people).
    pub fn exposures(&self) -> Vec<DocExposure> {
        self.docs.exposures(
            |d| {
                self.people
                    .iter()
                    .filter(|p| self.docs.permitted(d, p.clearance, &p.projects))
                    .count() as u64
            },
            |p| {
                (
                    self.person_ids[p as usize].clone(),
                    self.person_meta[p as usize].0.clone(),
                )
            },
        )
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
        let data_day = now.div_euclid(DAY_US);
        if data_day > self.data_day {
            self.data_day = data_day;
            self.new_data_day(now);
        }
        if !self.seen_person[u as usize] {
            self.seen_person[u as usize] = true;
            self.people_seen += 1;
        }
        let local_us = now + i64::from(e.offset_s) * 1_000_000;
        let day = local_us.div_euclid(DAY_US);
        let hour = (local_us.rem_euclid(DAY_US) / 3_600_000_000) as usize;
        // 1970-01-01 was a Thursday.
        let weekday = (day + 3).rem_euclid(7); // 0 = Monday
        let is_weekend = weekday >= 5;
        let warm = now - first >= self.cfg.warmup_days * DAY_US;
        self.judging = now - first >= self.cfg.warmup_days * DAY_US / 2;
        self.roll_day(u, day, warm);
        let unusual = self.unusual_time(u, hour, is_weekend);
        let settled;
        {
            let p = &mut self.people[u as usize];
            p.hours[hour] += 1;
            p.weekend_events += u32::from(is_weekend);
            p.events += 1;
            settled = day - p.hire >= self.cfg.onboarding_days;
        }
        let mut gains: Vec<Gain> = Vec::new();
        let p = &self.people[u as usize];
        if unusual && p.odd_hours_today & (1 << hour) == 0 {
            self.people[u as usize].odd_hours_today |= 1 << hour;
            self.observe(u, Feat::OffHours, 1.0, now, warm, &mut gains);
        }
        if is_weekend && self.people[u as usize].today[Feat::Weekend as usize] == 0.0 {
            self.observe(u, Feat::Weekend, 1.0, now, warm, &mut gains);
        }
        let doc_level = |engine: &Engine| {
            (e.doc != NONE && (e.doc as usize) < engine.docs.docs.len())
                .then(|| engine.docs.docs[e.doc as usize].level)
        };
        match e.kind {
            Kind::View | Kind::Download | Kind::Print | Kind::Briefing | Kind::Denied => {
                if doc_level(self).is_some() {
                    self.doc_access(u, e, now, (warm, settled, unusual), &mut gains);
                }
                match e.kind {
                    Kind::Download => self.observe(u, Feat::Downloads, 1.0, now, warm, &mut gains),
                    Kind::Print => {
                        self.observe(u, Feat::Prints, 1.0, now, warm, &mut gains);
                        let pages = e.pages.min(100_000) as f32;
                        self.observe(u, Feat::Pages, pages, now, warm, &mut gains);
                    }
                    _ => {}
                }
            }
            Kind::PrintJob => {
                let pages = e.pages.min(100_000) as f32;
                self.observe(u, Feat::Pages, pages, now, warm, &mut gains);
            }
            Kind::Logon => self.host_use(u, e.host, now, warm, &mut gains),
            Kind::DeviceConnect => {
                self.observe(u, Feat::UsbConnects, 1.0, now, warm, &mut gains);
                self.host_use(u, e.host, now, warm, &mut gains);
            }
            Kind::Usb => {
                // Copies within a quarter of an hour are one session (a
                // source may log each file of a copy as its own row).
                if self.new_session(u, Feat::UsbWrites, now) {
                    self.observe(u, Feat::UsbWrites, 1.0, now, warm, &mut gains);
                }
                let files = e.files.min(1_000_000) as f32;
                self.observe(u, Feat::UsbFiles, files, now, warm, &mut gains);
                let mb = (e.bytes as f64 / 1e6) as f32;
                self.observe(u, Feat::UsbMegabytes, mb, now, warm, &mut gains);
                if let Some(l) = doc_level(self) {
                    self.observe(u, Feat::UsbDocs, level_units(l), now, warm, &mut gains);
                }
            }
            Kind::Upload => {
                let cat = self.web.domain(e.domain);
                let mb = (e.bytes as f64 / 1e6) as f32;
                self.observe(u, Feat::UploadMegabytes, mb, now, warm, &mut gains);
                if matches!(cat, Category::Cloud | Category::Personal | Category::Leak) {
                    self.observe(u, Feat::UploadsOut, 1.0, now, warm, &mut gains);
                    if let Some(l) = doc_level(self) {
                        self.observe(u, Feat::DocsOut, level_units(l), now, warm, &mut gains);
                    }
                }
                if cat == Category::Leak {
                    self.observe(u, Feat::WebLeak, 1.0, now, warm, &mut gains);
                }
            }
            Kind::Visit => {
                // Visits within a quarter of an hour are one session of
                // browsing; how often one browses is what counts.
                let f = match self.web.visit(e.domain, e.url) {
                    Category::Job => Some(Feat::WebJob),
                    Category::Hacking => Some(Feat::WebHacking),
                    Category::Leak => Some(Feat::WebLeak),
                    Category::Cloud => Some(Feat::WebCloud),
                    Category::Personal | Category::None => None,
                };
                if let Some(f) = f.filter(|f| self.new_session(u, *f, now)) {
                    self.observe(u, f, 1.0, now, warm, &mut gains);
                }
            }
            Kind::Mail => self.mail(u, e, now, warm, &mut gains),
            Kind::Search => self.people[u as usize].last_search = now,
            Kind::Logoff | Kind::Other => {}
        }
        if gains.is_empty() {
            return None;
        }
        self.apply_gains(u, e, now, day, local_us, unusual, is_weekend, gains);
        self.maybe_alert(u, e)
    }
}
