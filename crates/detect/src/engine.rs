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
#[derive(Debug, Clone, Default)]
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
#[derive(Debug, Clone, Copy, Default)]
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
    tracks: Tracks,
    /// What the person added to their groups' statistics at the last
    /// recomputation (own rate and burstiness per feature), if anything:
    /// taken out again for their own prior.
    contrib: Option<Box<Contribution>>,
    /// Each feature's expectation for today, worked out at its first
    /// event of the day (the reference changes only when a day closes).
    expect: [Option<Expect>; N_FEAT],
    sizes: [SizeHist; N_SIZE],
    today: [f32; N_FEAT],
    /// Today's count when a feature first became surprising (0: not yet).
    cross: [f32; N_FEAT],
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
#[derive(Default, Clone, Copy)]
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

enum Timed {
    Transfer(u32, Vec<u32>),
    Notice(u32),
    Report(u32, usize),
}

/// The engine. Feed it with [`Engine::push`] or [`Engine::push_ev`] in
/// data-time order.
pub struct Engine {
    cfg: Config,
    weights: [f64; N_FEAT],
    half_life_us: f64,
    decay: Decay,
    names: Arc<Names>,
    people: Vec<PersonState>,
    person_ids: Vec<String>,
    person_meta: Vec<(String, String)>,
    docs: Docs,
    unit_names: Vec<String>,
    pair_unit: Vec<u32>,
    pair_size: Vec<u32>,
    prior_pair: Vec<[Prior; N_FEAT]>,
    prior_unit: Vec<[Prior; N_FEAT]>,
    prior_company: [Prior; N_FEAT],
    /// The groups' statistics the priors came from (for leaving a person
    /// out of their own), and the rate floor they were made with.
    stat_pair: Vec<[GroupStat; N_FEAT]>,
    stat_unit: Vec<[GroupStat; N_FEAT]>,
    rate_floor: f64,
    peer_mask: [bool; N_FEAT],
    /// Project names, and per project the non-members' month of touches
    /// (sum, sum of squares, how many non-members): the peers of a person
    /// returning to a project not theirs are everyone else outside it.
    project_names: Vec<String>,
    project_touch: Vec<(f64, f64, f64)>,
    size_pair: Vec<[SizeGroup; N_SIZE]>,
    unit_hours: Vec<[f32; 25]>,
    hosts: FxHashMap<u64, HostUsers>,
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
    trace: Option<(u32, Vec<String>)>,
    /// From half the warm-up on: surprise is judged (and kept out of the
    /// baselines) and rises gather evidence, though nothing is credited
    /// before the warm-up ends.
    judging: bool,
}

fn level_units(l: Level) -> f32 {
    match l {
        Level::Public => 0.25,
        Level::Internal => 1.0,
        Level::Confidential => 2.0,
        Level::Secret => 3.0,
    }
}

fn verb(k: Kind) -> &'static str {
    match k {
        Kind::Print => "printed",
        Kind::Download => "downloaded",
        Kind::Briefing => "was briefed on",
        Kind::Denied => "tried",
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

/// "1 in 3,000", from nats of surprise.
fn one_in(nats: f64) -> String {
    let n = nats.min(60.0).exp();
    if n >= 1e9 {
        format!("1 in {:.0e}", n)
    } else if n >= 1e6 {
        format!("1 in {:.1} million", n / 1e6)
    } else {
        let v = if n >= 100.0 {
            (n / 100.0).round() * 100.0
        } else {
            n.round()
        };
        let s = format!("{v:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("1 in {out}")
    }
}

fn amount(f: Feat, x: f64) -> String {
    if f.info().megabytes {
        human_bytes((x * 1e6) as u64)
    } else if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
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

    /// The priors, the units' hours and the budget's lines, from
    /// everyone's state (rule 3).
    fn new_data_day(&mut self, now: i64) {
        let floor_days: f64 = self.people.iter().map(|p| f64::from(p.days.n)).sum();
        let floor = 0.5 / (floor_days + 50.0);
        let n_units = self.unit_names.len();
        let n_pairs = self.pair_unit.len();
        let mut all = [GroupStat::default(); N_FEAT];
        let mut units = vec![[GroupStat::default(); N_FEAT]; n_units];
        let mut pairs = vec![[GroupStat::default(); N_FEAT]; n_pairs];
        let mut size_all = [SizeGroup::default(); N_SIZE];
        let mut size_units = vec![[SizeGroup::default(); N_SIZE]; n_units];
        let mut size_pairs = vec![[SizeGroup::default(); N_SIZE]; n_pairs];
        let mut hours = vec![[0.0f32; 25]; n_units];
        for p in &mut self.people {
            let uh = &mut hours[p.unit as usize];
            for (x, &n) in uh.iter_mut().zip(p.hours.iter()) {
                *x += n as f32;
            }
            uh[24] += p.weekend_events as f32;
            if p.days.n < 4.5 {
                continue;
            }
            let contrib = p
                .contrib
                .get_or_insert_with(|| Box::new(([(0.0, 0.0); N_FEAT], 0.0)));
            let n = f64::from(p.days.n);
            contrib.1 = p.days.n;
            for f in 0..N_FEAT {
                if let Some((mu, disp)) = p.tracks[f].own(&p.days) {
                    all[f].add(mu, disp, n);
                    units[p.unit as usize][f].add(mu, disp, n);
                    pairs[p.pair as usize][f].add(mu, disp, n);
                    contrib.0[f] = (mu as f32, disp as f32);
                }
            }
            for k in 0..N_SIZE {
                size_all[k].add(&p.sizes[k]);
                size_units[p.unit as usize][k].add(&p.sizes[k]);
                size_pairs[p.pair as usize][k].add(&p.sizes[k]);
            }
        }
        let prior = |g: &GroupStat, parent: Option<&Prior>| Prior::from_group(g, parent, floor);
        let size_all: Vec<SizeGroup> = size_all.iter().map(|g| g.finish(None, 0.0)).collect();
        let size_units: Vec<Vec<SizeGroup>> = size_units
            .iter()
            .map(|gs| {
                gs.iter()
                    .enumerate()
                    .map(|(k, g)| g.finish(Some(&size_all[k]), 4.0))
                    .collect()
            })
            .collect();
        for (pr, gs) in size_pairs.iter().enumerate() {
            let unit = &size_units[self.pair_unit[pr] as usize];
            for k in 0..N_SIZE {
                self.size_pair[pr][k] = if self.pair_size[pr] as usize >= self.cfg.peer_min {
                    gs[k].finish(Some(&unit[k]), 4.0)
                } else {
                    unit[k]
                };
            }
        }
        let company: Vec<Prior> = all.iter().map(|g| prior(g, None)).collect();
        self.prior_company.copy_from_slice(&company);
        self.rate_floor = floor;
        for (u, stats) in units.iter().enumerate() {
            for (f, st) in stats.iter().enumerate() {
                self.prior_unit[u][f] = prior(st, Some(&company[f]));
            }
        }
        for (pr, stats) in pairs.iter().enumerate() {
            let unit = self.pair_unit[pr] as usize;
            let alone = self.pair_size[pr] as usize >= self.cfg.peer_min;
            for (f, st) in stats.iter().enumerate() {
                self.prior_pair[pr][f] = if alone {
                    prior(st, Some(&self.prior_unit[unit][f]))
                } else {
                    self.prior_unit[unit][f]
                };
            }
        }
        self.stat_pair = pairs;
        self.stat_unit = units;
        // Each project's month of touches by the people outside it.
        let today = now.div_euclid(DAY_US);
        let mut touch = vec![(0.0f64, 0.0f64, 0.0f64); self.project_names.len()];
        let mut members = vec![0.0f64; self.project_names.len()];
        for p in &self.people {
            for &x in &p.projects {
                if let Some(m) = members.get_mut(x as usize) {
                    *m += 1.0;
                }
            }
            for &(x, c, last) in &p.foreign {
                let c = f64::from(c) * 0.5f64.powf((today - last).max(0) as f64 / 30.0);
                if let Some(t) = touch.get_mut(x as usize) {
                    t.0 += c;
                    t.1 += c * c;
                }
            }
        }
        let seen = self.people_seen as f64;
        for (t, m) in touch.iter_mut().zip(members) {
            t.2 = (seen - m).max(0.0);
        }
        self.project_touch = touch;
        for (u, h) in hours.iter().enumerate() {
            let total: f32 = h[..24].iter().sum();
            for (out, x) in self.unit_hours[u].iter_mut().zip(h.iter()) {
                *out = if total > 0.0 { x / total } else { 0.0 };
            }
        }
        // The background: where the population's current scores are.
        let mut current: Vec<f64> = (0..self.people.len() as u32)
            .filter(|&u| self.seen_person[u as usize])
            .map(|u| self.score(u, now))
            .collect();
        let background = crate::budget::background(&mut current);
        self.budget.new_day(self.people_seen, background);
    }

    /// A person's prior for a feature: their peer group's without them
    /// (the pair's if it stands on its own, else the unit's).
    fn prior_of(&self, u: u32, f: usize) -> Prior {
        let p = &self.people[u as usize];
        let pr = p.pair as usize;
        let Some(c) = &p.contrib else {
            return self.prior_pair[pr][f];
        };
        let (mu, disp, n) = (f64::from(c.0[f].0), f64::from(c.0[f].1), f64::from(c.1));
        let unit = p.unit as usize;
        if self.pair_size[pr] as usize >= self.cfg.peer_min {
            Prior::from_group(
                &self.stat_pair[pr][f].without(mu, disp, n),
                Some(&self.prior_unit[unit][f]),
                self.rate_floor,
            )
        } else {
            Prior::from_group(
                &self.stat_unit[unit][f].without(mu, disp, n),
                Some(&self.prior_company[f]),
                self.rate_floor,
            )
        }
    }

    /// Closes the person's previous day into their baselines (rule 2).
    fn roll_day(&mut self, u: u32, day: i64, warm: bool) {
        if self.people[u as usize].day == day {
            return;
        }
        if self.people[u as usize].day != i64::MIN {
            // Yesterday's expectations, for the features that had no event
            // yesterday but a run going.
            for f in 0..N_FEAT {
                let p = &self.people[u as usize];
                if p.expect[f].is_none() && (p.today[f] != 0.0 || p.tracks[f].cusum != 0.0) {
                    let e = Expect::new(&p.tracks[f], &p.days, &self.prior_of(u, f));
                    self.people[u as usize].expect[f] = Some(e);
                }
            }
            let p = &mut self.people[u as usize];
            let s0 = self.cfg.surprise_floor;
            for (k, f) in SIZES.iter().enumerate() {
                let fi = *f as usize;
                let x = p.today[fi];
                // Only a crossed day is clipped (so only it needs the
                // expectation, which is dear to compute).
                let clipped = if p.cross[fi] > 0.0 {
                    match SizeExpect::new(&p.sizes[k], &self.size_pair[p.pair as usize][k]) {
                        Some(e) => x.min(e.at(s0) as f32),
                        None => x,
                    }
                } else {
                    x
                };
                p.sizes[k].roll(clipped, self.decay.base);
            }
            for (f, feat) in Feat::ALL.iter().enumerate() {
                let x = p.today[f];
                if feat.info().size {
                    continue;
                }
                let t = &mut p.tracks[f];
                if x == 0.0 && t.cusum == 0.0 {
                    // Nothing to learn but the quiet day itself.
                    t.roll(0.0, 0.0, 0.0, 0.0, &self.decay);
                    continue;
                }
                let Some(e) = p.expect[f] else { continue };
                // A surprising run enters the baseline at the usual rate
                // plus a third of the excess: a misdeed does not become the
                // norm, a real change of work is learnt, slowly.
                let clipped = if p.cross[f] > 0.0 {
                    let c = (p.cross[f] - 1.0).max(e.mu as f32).min(x);
                    c + LEARN_SHARE * (x - c)
                } else {
                    x
                };
                // Evidence of a rise gathers only once the engine has learnt
                // what is usual (from half the warm-up on, so what starts
                // in the warm-up is not learnt as the norm).
                let llr = if self.judging {
                    e.llr(f64::from(x))
                } else {
                    -1e9
                };
                t.roll(x, clipped, llr, e.freeze, &self.decay);
            }
            p.days.roll(&self.decay);
            if warm {
                self.budget.add_person_day();
            }
        }
        let p = &mut self.people[u as usize];
        p.day = day;
        p.today = [0.0; N_FEAT];
        p.cross = [0.0; N_FEAT];
        p.expect = [None; N_FEAT];
        p.odd_hours_today = 0;
        p.hosts_today.clear();
    }

    /// Whether the hour (or the weekend) is unusual for the person: their
    /// own hours, shrunk towards their unit's.
    fn unusual_time(&self, u: u32, hour: usize, weekend: bool) -> bool {
        let p = &self.people[u as usize];
        let unit = &self.unit_hours[p.unit as usize];
        let unit_known = unit[..24].iter().any(|&x| x > 0.0);
        if p.events < 50 && !unit_known {
            let (a, b) = self.cfg.default_hours;
            return (hour as u32) < a || hour as u32 >= b || weekend;
        }
        const W: f32 = 30.0;
        let n = p.events as f32;
        let share = (p.hours[hour] as f32 + W * unit[hour]) / (n + W);
        let wk = (p.weekend_events as f32 + W * unit[24]) / (n + W);
        share < 0.015 || (weekend && wk < 0.02)
    }

    /// Adds `add` to today's count of `f` and judges it (rules 4-5): a
    /// finding if new surprise is credited, and a gathering-then-taking-out
    /// finding when this takes out what an unusual gathering brought in.
    fn observe(&mut self, u: u32, f: Feat, add: f32, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        let hl = self.half_life_us;
        let s0 = self.cfg.surprise_floor;
        let p = &mut self.people[u as usize];
        let fi = f as usize;
        p.today[fi] += add;
        if !self.judging || add <= 0.0 {
            return;
        }
        let x = f64::from(p.today[fi]);
        let credited = p.credit[fi].value(now, hl);
        if f.info().size {
            self.observe_size(u, f, x, now, (s0 + credited, warm), gains);
            return;
        }
        let e = match p.expect[fi] {
            Some(e) => e,
            None => {
                let p = &self.people[u as usize];
                let e = Expect::new(&p.tracks[fi], &p.days, &self.prior_of(u, fi));
                self.people[u as usize].expect[fi] = Some(e);
                e
            }
        };
        let p = &self.people[u as usize];
        let t = &p.tracks[fi];
        // The day's count against the reference, and the evidence of a
        // rise (rule 4): two looks, each less its floor; the rise's floor
        // is lower, its runs being fewer independent looks. Behaviours that
        // are nobody's habit get a third: their months against the peers'.
        let looks = if self.peer_mask[fi] { 3.0f64 } else { 2.0 };
        let cost = looks.ln();
        let day = if e.could_be_surprising(x) {
            e.surprise(x) - cost
        } else {
            0.0
        };
        let rise = (f64::from(t.cusum) + e.llr(x)).max(0.0) - cost;
        let (rise_x, rise_days) = (f64::from(t.run_x) + x, f64::from(t.run_days) + 1.0);
        let rise_floor = s0 - RISE_LENGTH.ln();
        let base = f64::from(self.decay.base);
        let (peer_x, peer_days) = (
            f64::from(t.raw) * base + x,
            f64::from(p.days.n) * base + 1.0,
        );
        let peer = if self.peer_mask[fi] && p.contrib.is_some() {
            (e.peer_surprise(peer_x, peer_days) - cost).max(0.0)
        } else {
            0.0
        };
        // A rise of one day is that day: reported (and weighed) as such.
        let (excess, which, s) = if peer - s0 > (day - s0).max(rise - rise_floor) {
            (peer - s0, 2u8, peer)
        } else if day - s0 >= rise - rise_floor {
            (day - s0, 0u8, day)
        } else if rise_days <= 1.0 {
            (rise - rise_floor, 0u8, day.max(rise))
        } else {
            (rise - rise_floor, 1u8, rise)
        };
        if self.traced(u) && excess > -s0 {
            let line = format!(
                "{}: {} today (reference {:.4}/day, burstiness {:.2}, prior shape {:.2}; peers {:.4}): day {:.1} nats, rise {:.1} nats ({} in {} days), peers {:.1} nats ({:.1} in {:.0} days); {:.1} over the floor, {:.1} credited",
                f.info().name,
                x,
                e.mu,
                e.disp,
                e.peer_shape,
                e.peer_mean,
                day,
                rise,
                rise_x,
                rise_days,
                peer,
                peer_x,
                peer_days,
                excess,
                credited
            );
            self.note(now, line);
        }
        let p = &mut self.people[u as usize];
        if day > s0 && p.cross[fi] == 0.0 {
            // A surprising day, credited or not, stays out of the norm. (A
            // rise is not clipped: the reference leaves the last month out
            // already, and a real change of work must become the norm.)
            p.cross[fi] = p.today[fi];
        }
        // A rise shared by a family of features counts once, in points: a
        // heavier feature of the family adds what it weighs beyond what was
        // credited already.
        let family = f.family().filter(|_| which == 1);
        let w = self.weights[fi]
            * if which == 1 && !f.takes_out() {
                self.cfg.rise_weight
            } else {
                1.0
            };
        let capped = excess.min(self.cfg.surprise_cap);
        let family_points = family.map_or(0.0, |g| p.family_credit[g].value(now, hl));
        let new_points = w * (capped - credited) - (family_points - w * credited).max(0.0);
        if new_points <= 0.0 || w <= 0.0 || !warm {
            return;
        }
        let new = new_points / w;
        p.credit[fi] = Credit {
            nats: capped as f32,
            at: now,
        };
        if let Some(g) = family {
            p.family_credit[g] = Credit {
                nats: family_points.max(w * capped) as f32,
                at: now,
            };
        }
        let peer_rate = e.peer_mean;
        let info = f.info();
        let unit_word = |v: f64| {
            if info.megabytes {
                human_bytes((v * 1e6) as u64)
            } else {
                format!("{v:.2}")
            }
        };
        let (ind, detail) = match which {
            0 => (
                info.ind,
                format!(
                    "{} {} in one day (usual {} a day, peers {}; {})",
                    amount(f, x),
                    info.what,
                    unit_word(e.mu),
                    unit_word(peer_rate),
                    one_in(s + cost)
                ),
            ),
            1 => (
                if f.takes_out() {
                    Ind::Recurrence
                } else {
                    Ind::Rise
                },
                format!(
                    "{} {} in their last {:.0} active days (before: {} a day, peers {}; evidence of a rise {})",
                    amount(f, rise_x),
                    info.what,
                    rise_days,
                    unit_word(e.rise_mu),
                    unit_word(peer_rate),
                    one_in(s + cost)
                ),
            ),
            _ => (
                Ind::AbovePeers,
                format!(
                    "{} {} over their last months (about {:.0} active days; peers like them would have {}: {})",
                    amount(f, peer_x.floor()),
                    info.what,
                    peer_days,
                    unit_word(peer_rate * peer_days),
                    one_in(s + cost)
                ),
            ),
        };
        self.sequence(u, f, new, gains);
        // (A gradual rise in reading is common, a crunch, a new project, a
        // hand-over, and weighs `rise_weight` of a rise in taking out: in
        // `w` above.)
        gains.push(Gain {
            ind,
            points: new_points,
            detail,
        });
    }

    /// Gathering, then taking out within days: the smaller of the two
    /// surprises again, once per gathering.
    fn sequence(&mut self, u: u32, f: Feat, new: f64, gains: &mut Vec<Gain>) {
        let p = &mut self.people[u as usize];
        let day = p.day;
        if f.gathers() {
            let g = p.gather.map_or(0.0, |(_, n)| n);
            p.gather = Some((day, g.max(new)));
        } else if f.takes_out() {
            if let Some((gd, gn)) = p.gather {
                if day - gd <= GATHER_DAYS {
                    p.gather = None;
                    gains.push(Gain {
                        ind: Ind::Sequence,
                        points: self.cfg.sequence_weight * gn.min(new),
                        detail: format!(
                            "{} within {} days of an unusual gathering ({})",
                            f.info().what,
                            (day - gd).max(1),
                            date_of(gd)
                        ),
                    });
                }
            }
        }
    }

    /// A size (rule 4, for lumps): today's size against the person's
    /// usual size on the days they do it.
    fn observe_size(
        &mut self,
        u: u32,
        f: Feat,
        x: f64,
        now: i64,
        (level, warm): (f64, bool),
        gains: &mut Vec<Gain>,
    ) {
        let fi = f as usize;
        let Some(k) = f.size_slot() else { return };
        let s0 = self.cfg.surprise_floor;
        let p = &self.people[u as usize];
        let group = &self.size_pair[p.pair as usize][k];
        let Some(e) = SizeExpect::new(&p.sizes[k], group) else {
            return;
        };
        let s = e.surprise(x);
        if s <= s0.min(level) && !self.traced(u) {
            return;
        }
        let empty = SizeHist::default();
        let peer_usual = SizeExpect::new(&empty, group).map_or(0.0, |g| g.quantile(0.9));
        let own_usual = e.quantile(0.9);
        if self.traced(u) {
            let line = format!(
                "{}: {} today (their 90th percentile {:.1}, peers' {:.1}): {:.1} nats vs line {:.1}",
                f.info().name,
                amount(f, x),
                own_usual,
                peer_usual,
                s,
                level
            );
            self.note(now, line);
        }
        let p = &mut self.people[u as usize];
        if s > s0 && p.cross[fi] == 0.0 {
            p.cross[fi] = p.today[fi];
        }
        if s <= level || !warm {
            return;
        }
        let s = s.min(s0 + self.cfg.surprise_cap);
        let new = s - level;
        p.credit[fi] = Credit {
            nats: (level - s0 + new) as f32,
            at: now,
        };
        let info = f.info();
        let detail = format!(
            "{} {} in one day (on nine in ten of the days they do it, at most {}; peers {}; {})",
            amount(f, x),
            info.what,
            amount(f, own_usual),
            amount(f, peer_usual),
            one_in(s)
        );
        self.sequence(u, f, new, gains);
        gains.push(Gain {
            ind: info.ind,
            points: self.weights[fi] * new,
            detail,
        });
    }

    /// A first touch, open or refusal, of a register document.
    fn doc_access(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        now: i64,
        (warm, settled, unusual): (bool, bool, bool),
        gains: &mut Vec<Gain>,
    ) {
        let d = e.doc;
        let denied = e.kind == Kind::Denied;
        let p = &mut self.people[u as usize];
        let first_time = if denied {
            !p.known_docs.contains(&d) && p.tried_docs.insert(d)
        } else {
            p.known_docs.insert(d)
        };
        // The first copy taken of a document already read is a step of
        // gathering too (read first, printed the evening before).
        let taken = matches!(e.kind, Kind::Print | Kind::Download);
        let first_take = taken && p.taken_docs.insert(d);
        let unit = p.unit;
        if !denied && settled {
            // What each unit reads, repeats included, from settled people.
            let distinct = p.known_docs.len();
            self.docs.note_read(unit, distinct, d);
        }
        let mut local = Vec::new();
        let shares = self.docs.shares(d, &self.people[u as usize].projects);
        if !shares {
            self.foreign_focus(u, d, now, warm, &mut local);
        }
        if !first_time && !first_take {
            self.name_document(e, d, &mut local);
            gains.append(&mut local);
            return;
        }
        let p = &self.people[u as usize];
        let level = self.docs.docs[d as usize].level;
        let permitted = self.docs.permitted(d, p.clearance, &p.projects);
        let in_scope = self.docs.in_scope(unit, &p.projects, d);
        let outside = !shares || !in_scope;
        // Projects not theirs opened for the first time (usually none).
        let mut new_projects = 0usize;
        if let Some(ps) = self.docs.docs[d as usize]
            .projects
            .as_ref()
            .filter(|_| !shares && !denied)
        {
            let p = &mut self.people[u as usize];
            for x in ps {
                if !p.known_projects.contains(x) {
                    new_projects += 1;
                    if p.known_projects.len() < 64 {
                        p.known_projects.push(*x);
                    }
                }
            }
        }
        if self.traced(u) {
            let line = format!(
                "first {} of {} '{}': {}{}{}",
                verb(e.kind),
                level.as_str(),
                self.docs.docs[d as usize].title,
                if permitted {
                    "permitted"
                } else {
                    "not permitted"
                },
                if outside { ", outside their scope" } else { "" },
                if unusual { ", at an unusual hour" } else { "" }
            );
            self.note(now, line);
        }
        if !first_time {
            // A first copy of a document read before: only the taking.
        } else if denied {
            self.observe(u, Feat::Refused, 1.0, now, warm, &mut local);
        } else {
            self.observe(u, Feat::NewDocs, 1.0, now, warm, &mut local);
            if !permitted {
                let exposed = self.docs.is_exposed(d);
                self.docs.note_violation(d, u, now);
                if exposed {
                    // Background: the folder is open to many; judged as
                    // outside reading against the person's own rate.
                    self.observe(u, Feat::OutsideHigh, 1.0, now, warm, &mut local);
                } else {
                    self.observe(u, Feat::NeedToKnow, 1.0, now, warm, &mut local);
                }
            } else if outside {
                let f = if level >= Level::Confidential {
                    Feat::OutsideHigh
                } else {
                    Feat::OutsideLow
                };
                self.observe(u, f, 1.0, now, warm, &mut local);
            }
            if new_projects > 0 {
                self.observe(u, Feat::NewProjects, 1.0, now, warm, &mut local);
            }
        }
        // A first copy taken outside the scope (on first sight or later).
        if outside && first_take {
            self.observe(u, Feat::OutsideTaken, 1.0, now, warm, &mut local);
            if unusual {
                // The story: printed the evening before a meeting.
                self.observe(u, Feat::OutsideEvening, 1.0, now, warm, &mut local);
            }
        }
        self.name_document(e, d, &mut local);
        gains.append(&mut local);
        // The climb: outside the scope or at an hour the person rarely
        // works, taken (printed or downloaded) or tried; a curious glance
        // is not a step.
        if (outside || unusual) && warm && (taken || denied) {
            let day = self.people[u as usize].day as i32;
            let lvl = level as u8;
            let minute = now.div_euclid(60_000_000);
            if let Some(t) = self.people[u as usize].climb.push(minute, day, lvl) {
                let hl = self.half_life_us;
                let p = &mut self.people[u as usize];
                let credited = p.climb_credit.value(now, hl);
                let s = t
                    .surprise
                    .min(self.cfg.surprise_floor + self.cfg.surprise_cap);
                let new = s - self.cfg.surprise_floor - credited;
                if new > 0.0 {
                    p.climb_credit = Credit {
                        nats: (credited + new) as f32,
                        at: now,
                    };
                    const LEVELS: [&str; 4] = ["public", "internal", "confidential", "secret"];
                    gains.push(Gain {
                        ind: Ind::Escalation,
                        points: self.cfg.climb_weight * new,
                        detail: format!(
                            "climbing outside their scope: {} to {} over {} days ({} touches on {} days{}; z = {:.1}, {})",
                            LEVELS[t.from as usize],
                            LEVELS[t.to as usize],
                            t.span_days.max(1),
                            t.touches,
                            t.days,
                            if t.sittings { ", a few at a sitting" } else { "" },
                            t.z,
                            one_in(t.surprise)
                        ),
                    });
                }
            }
        }
    }

    /// Returning to the same project not theirs, day after day, is
    /// targeting, not curiosity: each day a project is touched (repeat
    /// opens and refusals included) counts once, when the project was
    /// touched before within about a month.
    fn foreign_focus(&mut self, u: u32, d: u32, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        let Some(projects) = &self.docs.docs[d as usize].projects else {
            return;
        };
        let p = &mut self.people[u as usize];
        let day = p.day;
        let mut focus = false;
        for &x in projects {
            let fade = |c: f32, last: i64| c * 0.5f32.powf((day - last) as f32 / 30.0);
            if let Some(e) = p.foreign.iter_mut().find(|e| e.0 == x) {
                if e.2 == day {
                    continue;
                }
                let c = fade(e.1, e.2);
                focus |= c >= 0.9;
                *e = (x, c + 1.0, day);
            } else {
                if p.foreign.len() >= 16 {
                    if let Some(i) = (0..p.foreign.len()).min_by_key(|&i| p.foreign[i].2) {
                        p.foreign.swap_remove(i);
                    }
                }
                p.foreign.push((x, 1.0, day));
            }
        }
        if focus {
            self.observe(u, Feat::ForeignFocus, 1.0, now, warm, gains);
        }
        if self.judging {
            self.project_peers(u, d, now, warm, gains);
        }
    }

    /// The person's month of returning to a project not theirs against
    /// everyone else outside that project (without them): a gamma prior
    /// from the others' counts, less their counting noise, judged by its
    /// predictive; the look costs the log of the number of projects.
    fn project_peers(&mut self, u: u32, d: u32, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        let Some(projects) = &self.docs.docs[d as usize].projects else {
            return;
        };
        let p = &self.people[u as usize];
        let mut best: Option<(f64, u32, f64, f64)> = None;
        for &x in projects {
            let Some(&(_, c, _)) = p.foreign.iter().find(|e| e.0 == x) else {
                continue;
            };
            let Some(&(sum, sum_sq, n)) = self.project_touch.get(x as usize) else {
                continue;
            };
            let c = f64::from(c);
            // Without them (their count before today's touch).
            let own = (c - 1.0).max(0.0);
            let n = n - 1.0;
            if n < MIN_OUTSIDERS || c < 3.0 {
                continue;
            }
            let mean = ((sum - own).max(0.0) / n).max(1e-3);
            let var =
                ((sum_sq - own * own).max(0.0) / n - mean * mean - mean).max(0.25 * mean * mean);
            let shape = mean * mean / var;
            if c <= 3.0 * mean {
                continue;
            }
            let s = crate::tail::nb_surprise(c.floor(), mean, shape);
            if best.is_none_or(|b| s > b.0) {
                best = Some((s, x, c, mean));
            }
        }
        let Some((s, x, c, mean)) = best else { return };
        let cost = (self.project_names.len().max(2) as f64).ln();
        let s = (s - cost).min(self.cfg.surprise_floor + self.cfg.surprise_cap);
        let hl = self.half_life_us;
        let p = &mut self.people[u as usize];
        let credited = p.project_credit.value(now, hl);
        let new = s - self.cfg.surprise_floor - credited;
        if new <= 0.0 || !warm {
            return;
        }
        p.project_credit = Credit {
            nats: (credited + new) as f32,
            at: now,
        };
        gains.push(Gain {
            ind: Ind::AbovePeers,
            points: self.weights[Feat::ForeignFocus as usize] * new,
            detail: format!(
                "returned to {} (not their project) on {:.0} days this month; others outside it: {:.2} ({})",
                self.project_names[x as usize],
                c,
                mean,
                one_in(s + cost)
            ),
        });
    }

    /// Names the document in what was found about it.
    fn name_document(&self, e: &Ev<'_>, d: u32, gains: &mut [Gain]) {
        let doc = &self.docs.docs[d as usize];
        for g in gains {
            if matches!(g.ind, Ind::OutOfScope | Ind::NeedToKnow | Ind::Refusals) {
                g.detail = format!(
                    "{} {} '{}'; {}",
                    verb(e.kind),
                    doc.level.as_str(),
                    doc.title,
                    g.detail
                );
            }
        }
    }

    /// Whether an event of `f` at `now` starts a new session (none of the
    /// same within the last quarter of an hour).
    fn new_session(&mut self, u: u32, f: Feat, now: i64) -> bool {
        const SESSION_US: i64 = 15 * 60 * 1_000_000;
        let slot = match f {
            Feat::UsbWrites => 0,
            Feat::WebJob => 1,
            Feat::WebHacking => 2,
            Feat::WebLeak => 3,
            _ => 4,
        };
        let p = &mut self.people[u as usize];
        let last = std::mem::replace(&mut p.sessions[slot], now);
        now - last > SESSION_US
    }

    /// A logon or a device on a computer: whose is it?
    fn host_use(&mut self, u: u32, host: &str, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        if host.is_empty() {
            return;
        }
        let h = hash_str(host);
        let owner = self.hosts.get(&h).and_then(HostUsers::owner);
        let p = &mut self.people[u as usize];
        let own = p.hosts.iter().find(|x| x.0 == h).map_or(0, |x| x.1);
        let manager = p.manager;
        let new_today = own < 2 && !p.hosts_today.contains(&h);
        if new_today && p.hosts_today.len() < 64 {
            p.hosts_today.push(h);
        }
        if let Some(x) = p.hosts.iter_mut().find(|x| x.0 == h) {
            x.1 += 1;
        } else if p.hosts.len() < MAX_HOSTS {
            p.hosts.push((h, 1));
        } else if let Some(x) = p.hosts.iter_mut().min_by_key(|x| x.1) {
            *x = (h, 1);
        }
        self.hosts.entry(h).or_default().note(u);
        if !new_today {
            return;
        }
        let mut local = Vec::new();
        self.observe(u, Feat::OtherHosts, 1.0, now, warm, &mut local);
        if let Some(o) = owner.filter(|&o| o != u) {
            self.observe(u, Feat::OwnedHosts, 1.0, now, warm, &mut local);
            if o == manager {
                self.observe(u, Feat::ManagerHost, 1.0, now, warm, &mut local);
            }
            for g in &mut local {
                if g.ind == Ind::OtherHost {
                    g.detail = format!(
                        "{host}, usually {}'s computer{}; {}",
                        self.person_ids[o as usize],
                        if o == manager { " (their manager)" } else { "" },
                        g.detail
                    );
                }
            }
        }
        gains.append(&mut local);
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
            Kind::Logoff | Kind::Search | Kind::Other => {}
        }
        if gains.is_empty() {
            return None;
        }
        self.apply_gains(u, e, now, day, local_us, unusual, is_weekend, gains);
        self.maybe_alert(u, e)
    }

    fn mail(&mut self, u: u32, e: &Ev<'_>, now: i64, warm: bool, gains: &mut Vec<Gain>) {
        let personal = self.web.is_personal(e.domain);
        let level = (e.doc != NONE && (e.doc as usize) < self.docs.docs.len())
            .then(|| self.docs.docs[e.doc as usize].level);
        let recipients = e.recipients.clamp(1, 100_000) as f32;
        self.observe(u, Feat::Recipients, recipients, now, warm, gains);
        if !e.from_domain.is_empty() {
            self.observe(u, Feat::FromPersonal, 1.0, now, warm, gains);
        }
        if e.external && e.attachments > 0 {
            let mb = (e.bytes as f64 / 1e6) as f32;
            self.observe(u, Feat::MailOutMegabytes, mb, now, warm, gains);
        }
        if personal {
            self.observe(u, Feat::MailPersonal, 1.0, now, warm, gains);
            if let Some(l) = level.filter(|_| e.attachments > 0) {
                self.observe(u, Feat::DocsOut, level_units(l), now, warm, gains);
            }
        } else if e.external {
            let h = hash_str(&e.domain.to_ascii_lowercase());
            let p = &mut self.people[u as usize];
            if p.domains.len() < MAX_DOMAINS && p.domains.insert(h) {
                self.observe(u, Feat::NewDomains, 1.0, now, warm, gains);
            }
            if let Some(l) = level.filter(|l| *l >= Level::Confidential) {
                self.observe(u, Feat::DocsExternal, level_units(l), now, warm, gains);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_gains(
        &mut self,
        u: u32,
        e: &Ev<'_>,
        now: i64,
        day: i64,
        local_us: i64,
        unusual: bool,
        is_weekend: bool,
        gains: Vec<Gain>,
    ) {
        let hl = self.half_life_us;
        let cfg = &self.cfg;
        let p = &mut self.people[u as usize];
        let onboard = if day - p.hire < cfg.onboarding_days {
            cfg.onboarding_factor
        } else {
            1.0
        };
        let leaving = p.notice_at.is_some_and(|n| now >= n)
            || p.leave.is_some_and(|l| day >= l - cfg.leaving_window_days);
        let contact = p
            .contact_group
            .is_some_and(|g| now >= p.contact_from && self.groups[g].members.len() >= 2);
        if let Some((t, lines)) = &mut self.trace {
            if *t == u {
                for g in &gains {
                    lines.push(format!(
                        "  + {:.1} x{onboard} {} ({}){}{}{}",
                        g.points,
                        g.ind.name(),
                        g.detail,
                        if unusual { " [after hours]" } else { "" },
                        if leaving { " [leaving]" } else { "" },
                        if contact { " [approached]" } else { "" }
                    ));
                }
            }
        }
        for g in gains {
            let pts = g.points * onboard;
            if pts <= 0.0 {
                continue;
            }
            let acc = &mut p.ind[g.ind as usize];
            acc.add(now, hl, pts, e.id);
            acc.detail = g.detail;
            if !g.ind.amplified() {
                continue;
            }
            if unusual {
                let a = &mut p.ind[Ind::AfterHours as usize];
                a.add(now, hl, pts * cfg.after_hours_factor, e.id);
                let mins = local_us.rem_euclid(DAY_US) / 60_000_000;
                a.detail = format!(
                    "at {:02}:{:02} {}",
                    mins / 60,
                    mins % 60,
                    if is_weekend {
                        "on a weekend they rarely work"
                    } else {
                        "outside their usual hours"
                    }
                );
            }
            // Leaving makes a spike or taking out more telling; a leaver
            // reading and downloading more for weeks is handing over.
            if leaving && g.ind != Ind::Rise {
                let a = &mut p.ind[Ind::Leaving as usize];
                a.add(now, hl, pts * cfg.leaving_factor, e.id);
                a.detail = match (p.notice_at, p.leave) {
                    (Some(_), Some(l)) => {
                        format!("after their resignation notice; leaves {}", date_of(l))
                    }
                    (Some(_), None) => "after their resignation notice".into(),
                    (None, Some(l)) => {
                        format!(
                            "within {} days of leaving on {}",
                            cfg.leaving_window_days,
                            date_of(l)
                        )
                    }
                    _ => String::new(),
                };
            }
            if contact {
                let a = &mut p.ind[Ind::Contact as usize];
                let bonus = if p.contact_noted {
                    0.0
                } else {
                    cfg.contact_bonus
                };
                p.contact_noted = true;
                a.add(now, hl, pts * cfg.contact_factor + bonus, e.id);
                if let Some(gi) = p.contact_group {
                    let grp = &self.groups[gi];
                    a.detail = format!(
                        "reported an approach by {} ({} reports by {} people describe the same person)",
                        grp.name.as_deref().unwrap_or("an outsider"),
                        grp.members.len(),
                        grp.reporters.len()
                    );
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
        // Judged by the lines as they stand, then counted in them.
        let lines = self.budget.lines();
        let extreme = self.budget.extreme();
        let old_max = self.people[u as usize].max_score;
        if score > old_max {
            self.budget.raise(old_max, score);
            self.people[u as usize].max_score = score;
        }
        let sev = if score >= lines.high || score >= extreme {
            Severity::High
        } else if score >= lines.medium {
            Severity::Medium
        } else if score >= lines.low {
            Severity::Low
        } else {
            return None;
        };
        let p = &self.people[u as usize];
        let raise = match p.alerted {
            None => true,
            Some(prev) if sev > prev => true,
            // A standing case that keeps growing: say so once a week.
            Some(_) => {
                score >= p.alerted_score + lines.medium * 0.5 && now - p.alerted_at >= 7 * DAY_US
            }
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
        let round = |x: f64| (x * 10.0).round() / 10.0;
        Some(Alert {
            user: self.person_ids[u as usize].clone(),
            raised_at,
            score: round(score.min(9999.0)),
            severity: sev,
            indicators,
            summary,
            thresholds: crate::Thresholds {
                medium: round(lines.medium),
                high: round(lines.high),
            },
        })
    }
}
