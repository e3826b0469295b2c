//! A synthetic precision-machinery maker, written as an interchange-format
//! dataset (or in the CERT r4.2 layout): people in units with roles and
//! projects, a register of documents per product line, and their working
//! days (logons, reading, downloading, printing, searching, mail, web, USB),
//! HR events and contact reports.
//!
//! Rules of the simulation:
//! - Deterministic for a seed and a [`Background`]: the same inputs write
//!   the same bytes.
//! - Habits differ person to person (how much they read, print, mail, when
//!   they start and stop); work follows weekdays and Japanese public
//!   holidays.
//! - The honest background is a set of knobs ([`Background`]): curiosity
//!   and folder permissions looser than the register, refusals, personal
//!   mail, USB, odd hours, broad roles, crunches, transfers, job browsing,
//!   logons to others' PCs, personal sender accounts. Detection is judged
//!   over a sweep of them ([`sweep_grid`]), never at one setting.
//! - Planted insiders act on top of their ordinary days, which go on as
//!   before; the ground truth records them ([`Truth`]).

mod background;
mod cert_layout;
pub mod faults;
mod honest;
mod insiders;

pub use background::{sweep_grid, Background, BackgroundError, GridPoint};
pub use insiders::{Truth, INSIDER_KINDS};

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use custodian_core::interchange::{
    contact_to_json, event_to_json, hr_to_json, write_directory, write_documents,
};
use custodian_core::{
    Approach, ContactReport, Counterpart, Document, Event, HrEvent, HrKind, Level, Medium, Person,
    Projects,
};

/// Free mail providers: where personal mail goes.
pub const PERSONAL_MAIL: [&str; 4] = ["gmail.com", "yahoo.co.jp", "outlook.jp", "icloud.com"];
/// Home ISP mail: personal too, though no free-mail list names it.
pub const ISP_MAIL: [&str; 6] = [
    "nifty.com",
    "ocn.ne.jp",
    "biglobe.ne.jp",
    "so-net.ne.jp",
    "plala.or.jp",
    "comcast.net",
];
/// Consumer cloud storage.
pub const CLOUD: [&str; 3] = ["dropbox.com", "drive.google.com", "wetransfer.com"];
/// Job sites.
pub const JOB_SITES: [&str; 6] = [
    "monster.com",
    "careerbuilder.com",
    "indeed.com",
    "jobhuntersbible.com",
    "simplyhired.com",
    "doda.jp",
];
/// Where keyloggers and spyware come from.
pub const HACKING_SITES: [&str; 4] = [
    "www.actualkeylogger.com",
    "www.refog.com",
    "www.spyrix.com",
    "kidlogger.net",
];

/// How the events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The interchange format: directory.csv, documents.csv, events.jsonl, …
    #[default]
    Interchange,
    /// The CERT Insider Threat Test Dataset r4.2 layout: logon, device,
    /// file, email and http CSVs and monthly LDAP snapshots; no register.
    CertR42,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub people: usize,
    pub days: u32,
    pub seed: u64,
    pub start: NaiveDate,
    /// Write `events.jsonl.gz` instead of `events.jsonl`.
    pub gzip: bool,
    /// Where the ground truth goes; `truth.jsonl` in the output folder if
    /// unset. Detection never reads it.
    pub truth: Option<std::path::PathBuf>,
    /// The honest people's habits.
    pub background: Background,
    pub layout: Layout,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            people: 200,
            days: 30,
            seed: 1,
            start: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap_or_default(),
            gzip: false,
            truth: None,
            background: Background::default(),
            layout: Layout::Interchange,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub people: usize,
    pub documents: usize,
    pub events: u64,
    pub hr_events: usize,
    pub contacts: usize,
    pub insiders: usize,
}

struct Unit {
    name: &'static str,
    /// CERT's functional unit (the level above the department).
    function: &'static str,
    roles: &'static [&'static str],
    lines: &'static [usize],
    clearance: Level,
}

const PRODUCT_LINES: [(&str, &str); 6] = [
    ("LX", "lithography optics"),
    ("MX", "machining centres"),
    ("SX", "wafer steppers"),
    ("RX", "robot arms"),
    ("VX", "vision sensors"),
    ("PX", "precision bearings"),
];

const UNITS: [Unit; 9] = [
    Unit {
        name: "R&D Optics",
        function: "Research and Development",
        roles: &["engineer", "engineer", "senior-engineer", "researcher"],
        lines: &[0, 4],
        clearance: Level::Secret,
    },
    Unit {
        name: "R&D Mechatronics",
        function: "Research and Development",
        roles: &["engineer", "engineer", "senior-engineer"],
        lines: &[1, 3],
        clearance: Level::Secret,
    },
    Unit {
        name: "R&D Semiconductor",
        function: "Research and Development",
        roles: &["engineer", "senior-engineer", "researcher"],
        lines: &[2],
        clearance: Level::Secret,
    },
    Unit {
        name: "Production Engineering",
        function: "Manufacturing",
        roles: &["engineer", "technician", "technician"],
        lines: &[1, 5, 3],
        clearance: Level::Confidential,
    },
    Unit {
        name: "Quality Assurance",
        function: "Manufacturing",
        roles: &["qa-auditor", "qa-engineer"],
        lines: &[0, 1, 2, 3, 4, 5],
        clearance: Level::Confidential,
    },
    Unit {
        name: "Field Service",
        function: "Sales and Service",
        roles: &["field-engineer", "field-engineer", "technician"],
        lines: &[0, 1, 2, 3],
        clearance: Level::Confidential,
    },
    Unit {
        name: "Sales",
        function: "Sales and Service",
        roles: &["sales", "sales", "account-manager"],
        lines: &[0, 1, 2, 3, 4, 5],
        clearance: Level::Internal,
    },
    Unit {
        name: "Administration",
        function: "Corporate",
        roles: &["hr", "accounting", "legal", "it-admin"],
        lines: &[],
        clearance: Level::Internal,
    },
    Unit {
        name: "Marketing",
        function: "Sales and Service",
        roles: &["marketing"],
        lines: &[0, 1, 2, 3, 4, 5],
        clearance: Level::Internal,
    },
];

/// Field service and production: the units whose staff take manuals to
/// customer sites.
const SITE_UNITS: [usize; 2] = [3, 5];
const ADMIN_UNIT: usize = 7;

const SITES: [&str; 4] = ["Tokyo", "Utsunomiya", "Osaka", "Kumamoto"];
const SURNAMES: [&str; 16] = [
    "Sato",
    "Suzuki",
    "Takahashi",
    "Tanaka",
    "Watanabe",
    "Ito",
    "Yamamoto",
    "Nakamura",
    "Kobayashi",
    "Kato",
    "Yoshida",
    "Yamada",
    "Sasaki",
    "Yamaguchi",
    "Matsumoto",
    "Inoue",
];
const GIVEN: [&str; 16] = [
    "Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Mei", "Kaito", "Sakura", "Riku",
    "Yuna", "Hiroshi", "Keiko", "Takeshi", "Naoko",
];
const WEB: [&str; 10] = [
    "news.example.jp",
    "weather.example.jp",
    "supplier-portal.example.com",
    "docs.rs",
    "wikipedia.org",
    "stackoverflow.com",
    "maps.example.com",
    "jisc.go.jp",
    "ieee.org",
    "nikkei.com",
];
const CUSTOMERS: [&str; 6] = [
    "customer-a.co.jp",
    "customer-b.com",
    "fab-c.co.kr",
    "oem-d.de",
    "distributor-e.com.tw",
    "lab-f.ac.jp",
];
const CORP_DOMAIN: &str = "precision.example.co.jp";

/// How one person works.
struct Habits {
    docs_per_day: f64,
    print_rate: f64,
    download_rate: f64,
    start_hour: f64,
    day_hours: f64,
    mails_per_day: f64,
    web_per_day: f64,
    /// USB sessions per working day (0 without the habit).
    usb_rate: f64,
    weekend_rate: f64,
    /// Evening sessions per working day (odd-hours people).
    evening_rate: f64,
    /// Curious opens outside the scope per working day.
    curiosity: f64,
}

/// Which of the background's habits a person has.
#[derive(Default, Clone)]
struct Traits {
    /// Mails themselves at home: the address's domain.
    personal_mail: Option<&'static str>,
    /// Also sends from a personal account.
    personal_sender: bool,
    usb_manuals: bool,
    broad: bool,
    job_browsing: f64,
    /// Logons to other PCs per working day.
    roaming: f64,
}

struct Sim {
    cfg: SimConfig,
    bg: Background,
    rng: ChaCha8Rng,
    tz: FixedOffset,
    people: Vec<Person>,
    habits: Vec<Habits>,
    traits: Vec<Traits>,
    units: Vec<usize>,
    docs: Vec<Document>,
    /// Indexes into `docs` per product line.
    docs_by_line: Vec<Vec<usize>>,
    /// Each person's documents in scope and out of it (files only).
    scope: Vec<Vec<usize>>,
    outside: Vec<Vec<usize>>,
    hr: Vec<HrEvent>,
    contacts: Vec<ContactReport>,
    next_id: u64,
    plan: insiders::Plan,
}

/// Japanese public holidays and company closures that do not move much
/// from year to year (New Year, Golden Week, Obon).
pub fn is_holiday(d: NaiveDate) -> bool {
    let (m, day) = (d.month(), d.day());
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        || (m == 1 && day <= 3)
        || (m == 12 && day >= 29)
        || (m == 4 && day == 29)
        || (m == 5 && (3..=5).contains(&day))
        || (m == 8 && (13..=16).contains(&day))
        || (m == 2 && day == 11)
        || (m == 11 && (day == 3 || day == 23))
}

fn project_name(line: usize, n: usize) -> String {
    format!("{}-{}", PRODUCT_LINES[line].0, 100 + n * 100)
}

/// A person's own PC.
fn own_pc(user_id: &str) -> String {
    format!("pc-{}", user_id.get(1..).unwrap_or(user_id))
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, spread: f64) -> f64 {
    let z: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>() * 0.85;
    median * (z * spread).exp()
}

impl Sim {
    fn new(cfg: SimConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        Sim {
            bg: cfg.background.clone(),
            cfg,
            rng,
            tz: jst(),
            people: Vec::new(),
            habits: Vec::new(),
            traits: Vec::new(),
            units: Vec::new(),
            docs: Vec::new(),
            docs_by_line: vec![Vec::new(); PRODUCT_LINES.len()],
            scope: Vec::new(),
            outside: Vec::new(),
            hr: Vec::new(),
            contacts: Vec::new(),
            next_id: 0,
            plan: insiders::Plan::default(),
        }
    }

    fn at(&self, day: NaiveDate, hours: f64) -> DateTime<FixedOffset> {
        let secs = (hours * 3600.0).clamp(0.0, 86_399.0) as i64;
        let base = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.tz
            .from_local_datetime(&(base + Duration::seconds(secs)))
            .single()
            .unwrap_or_else(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset())
    }

    fn make_people(&mut self) {
        let n = self.cfg.people;
        let end = self.cfg.start + Duration::days(i64::from(self.cfg.days));
        for i in 0..n {
            // Bigger units get more people: weights by index.
            let weights = [14, 12, 8, 14, 8, 12, 16, 8, 8];
            let total: u32 = weights.iter().sum();
            let mut pick = self.rng.gen_range(0..total);
            let mut u = 0;
            for (k, w) in weights.iter().enumerate() {
                if pick < *w {
                    u = k;
                    break;
                }
                pick -= w;
            }
            let unit = &UNITS[u];
            let role = unit.roles[self.rng.gen_range(0..unit.roles.len())];
            let mut projects = BTreeSet::new();
            if !unit.lines.is_empty() {
                let line = unit.lines[self.rng.gen_range(0..unit.lines.len())];
                projects.insert(project_name(line, self.rng.gen_range(0..3)));
                if self.rng.gen_bool(0.3) {
                    let line2 = unit.lines[self.rng.gen_range(0..unit.lines.len())];
                    projects.insert(project_name(line2, self.rng.gen_range(0..3)));
                }
            }
            let mut clearance = unit.clearance;
            if role == "technician" || role == "field-engineer" {
                clearance = clearance.min(Level::Confidential);
            }
            if self.rng.gen_bool(0.1) && clearance > Level::Internal {
                clearance = Level::Internal;
            }
            let hire_date = if self.rng.gen_bool(0.03) {
                self.cfg.start
                    + Duration::days(self.rng.gen_range(0..i64::from(self.cfg.days.max(1))))
            } else {
                NaiveDate::from_ymd_opt(
                    self.rng.gen_range(1990..2024),
                    self.rng.gen_range(1..=12),
                    1,
                )
                .unwrap_or(self.cfg.start)
            };
            let leave_date = if self.rng.gen_bool(0.02) {
                Some(
                    self.cfg.start
                        + Duration::days(self.rng.gen_range(
                            i64::from(self.cfg.days / 3)..=i64::from(self.cfg.days.max(1)),
                        )),
                )
            } else {
                None
            };
            let user_id = format!("E{:05}", 10_000 + i);
            let name = format!(
                "{} {}",
                SURNAMES[self.rng.gen_range(0..SURNAMES.len())],
                GIVEN[self.rng.gen_range(0..GIVEN.len())]
            );
            let email = format!("{}@{CORP_DOMAIN}", user_id.to_lowercase());
            self.people.push(Person {
                user_id,
                name,
                email,
                org_unit: unit.name.to_string(),
                site: SITES[self.rng.gen_range(0..SITES.len())].to_string(),
                role: role.to_string(),
                manager_id: None,
                clearance,
                projects,
                hire_date,
                leave_date: leave_date.filter(|d| *d < end),
            });
            self.units.push(u);
            let broad_role = matches!(
                role,
                "qa-auditor" | "field-engineer" | "sales" | "account-manager"
            );
            let act = self.bg.activity;
            let rng = &mut self.rng;
            let h = Habits {
                docs_per_day: lognormal(rng, if broad_role { 4.0 } else { 2.5 }, 0.5) * act,
                print_rate: lognormal(rng, 0.06, 0.7).min(0.5),
                download_rate: lognormal(rng, 0.2, 0.5).min(0.7),
                start_hour: rng.gen_range(7.5..10.0),
                day_hours: rng.gen_range(8.0..11.0),
                mails_per_day: lognormal(rng, 0.8, 0.5) * act,
                web_per_day: lognormal(rng, 0.9, 0.5) * act,
                usb_rate: if rng.gen_bool(self.bg.usb.clamp(0.0, 1.0)) {
                    // Most use it now and then; some every day.
                    lognormal(rng, 0.06, 1.0).min(1.5)
                } else {
                    0.0
                },
                weekend_rate: 0.01,
                evening_rate: 0.0,
                curiosity: lognormal(rng, self.bg.curiosity / 5.0, 0.6),
            };
            self.habits.push(h);
            let odd = self.rng.gen_bool(self.bg.odd_hours.clamp(0.0, 1.0));
            if odd {
                let h = self.habits.last_mut();
                if let Some(h) = h {
                    h.weekend_rate = 0.15;
                    h.evening_rate = self.rng.gen_range(0.05..0.25);
                }
            }
            let mut t = Traits::default();
            if self.rng.gen_bool(self.bg.personal_mail.clamp(0.0, 1.0)) {
                let all: Vec<&'static str> = PERSONAL_MAIL
                    .iter()
                    .chain(ISP_MAIL.iter())
                    .copied()
                    .collect();
                t.personal_mail = all.choose(&mut self.rng).copied();
            }
            t.personal_sender = self.rng.gen_bool(self.bg.personal_sender.clamp(0.0, 1.0));
            t.usb_manuals =
                SITE_UNITS.contains(&u) && self.rng.gen_bool(self.bg.usb_manuals.clamp(0.0, 1.0));
            t.broad = self.rng.gen_bool(self.bg.broad.clamp(0.0, 1.0));
            if self.rng.gen_bool(self.bg.job_browsing.clamp(0.0, 1.0)) {
                t.job_browsing = lognormal(&mut self.rng, 0.1, 0.7);
            }
            if self.bg.roaming > 0.0 {
                if role == "it-admin" {
                    t.roaming = self.rng.gen_range(1.0..4.0);
                } else if self.rng.gen_bool(self.bg.roaming.clamp(0.0, 1.0)) {
                    t.roaming = lognormal(&mut self.rng, 0.1, 0.7);
                }
            }
            self.traits.push(t);
        }
        // Managers: someone of the same unit with a lower index.
        for i in 1..n {
            let u = self.units[i];
            let candidates: Vec<usize> = (0..i.min(400)).filter(|&j| self.units[j] == u).collect();
            if let Some(&m) = candidates.choose(&mut self.rng) {
                self.people[i].manager_id = Some(self.people[m].user_id.clone());
            }
        }
    }

    fn make_docs(&mut self) {
        let kinds: [(&str, Level, usize); 7] = [
            ("brochure", Level::Public, 3),
            ("training", Level::Internal, 4),
            ("manual", Level::Internal, 4),
            ("manual", Level::Confidential, 3),
            ("test-report", Level::Confidential, 4),
            ("spec", Level::Confidential, 4),
            ("design", Level::Secret, 4),
        ];
        let owners: Vec<usize> = (0..self.people.len())
            .filter(|&i| self.people[i].clearance == Level::Secret)
            .collect();
        for (line, (code, what)) in PRODUCT_LINES.iter().enumerate() {
            for (kind, level, count) in kinds {
                for k in 0..count {
                    let project = project_name(line, k % 3);
                    let projects = if level >= Level::Confidential {
                        Projects::Groups(BTreeSet::from([project.clone()]))
                    } else {
                        Projects::Everyone
                    };
                    let owner = owners
                        .iter()
                        .copied()
                        .find(|&i| self.people[i].projects.contains(&project))
                        .or_else(|| owners.first().copied())
                        .map(|i| self.people[i].user_id.clone())
                        .unwrap_or_else(|| "E10000".to_string());
                    let doc_id = format!(
                        "D-{code}-{}-{:02}",
                        kind.to_uppercase().replace('-', ""),
                        self.docs_by_line[line].len()
                    );
                    let medium = if kind == "design" && k == 3 {
                        Medium::Knowledge
                    } else {
                        Medium::File
                    };
                    let title = match (kind, medium) {
                        (_, Medium::Knowledge) => {
                            format!("{code} next-generation development plan (briefed at meetings)")
                        }
                        ("brochure", _) => format!("{code} {what} brochure {}", k + 1),
                        ("training", _) => format!("{code} {what} training course part {}", k + 1),
                        ("manual", _) => format!(
                            "{code} {what} {} manual",
                            if level == Level::Internal {
                                "operator"
                            } else {
                                "service"
                            }
                        ),
                        ("test-report", _) => {
                            format!("{project} reliability test report {}", k + 1)
                        }
                        ("spec", _) => format!("{project} specification rev {}", k + 1),
                        _ => format!("{project} design data package {}", k + 1),
                    };
                    self.docs_by_line[line].push(self.docs.len());
                    self.docs.push(Document {
                        doc_id,
                        title,
                        classification: level,
                        owner_id: owner,
                        projects,
                        kind: kind.to_string(),
                        created: self.cfg.start - Duration::days(self.rng.gen_range(30..2000)),
                        medium,
                    });
                }
            }
        }
    }

    fn make_hr(&mut self) {
        let days = i64::from(self.cfg.days.max(1));
        for i in 0..self.people.len() {
            let p = &self.people[i];
            if p.hire_date >= self.cfg.start {
                let ts = self.at(p.hire_date, 9.0);
                self.hr.push(hr(ts, &p.user_id, HrKind::Hire, None));
            }
            if let Some(leave) = p.leave_date {
                let notice =
                    (leave - Duration::days(self.rng.gen_range(14..45))).max(self.cfg.start);
                let user = p.user_id.clone();
                let ts = self.at(notice, 10.0);
                self.hr.push(hr(
                    ts,
                    &user,
                    HrKind::ResignationNotice,
                    Some("personal reasons"),
                ));
                let ts = self.at(leave, 18.0);
                self.hr.push(hr(ts, &user, HrKind::Termination, None));
            }
        }
        // Project transfers: the directory shows the end state.
        let transfers = ((self.people.len() as f64 * self.bg.transfers).round() as usize)
            .max(usize::from(self.bg.transfers > 0.0));
        for _ in 0..transfers {
            let i = self.rng.gen_range(0..self.people.len());
            let u = self.units[i];
            if UNITS[u].lines.is_empty() || self.people[i].projects.is_empty() {
                continue;
            }
            let from = self.people[i].projects.clone();
            let line = UNITS[u].lines[self.rng.gen_range(0..UNITS[u].lines.len())];
            let to: BTreeSet<String> = [project_name(line, self.rng.gen_range(0..3))].into();
            if to == from {
                continue;
            }
            let day = self.cfg.start + Duration::days(self.rng.gen_range(1..days));
            let ts = self.at(day, 9.0);
            self.people[i].projects = to.clone();
            let user = self.people[i].user_id.clone();
            self.hr.push(hr(
                ts,
                &user,
                HrKind::Transfer {
                    from_projects: from,
                    to_projects: to,
                },
                None,
            ));
        }
    }

    fn make_contacts(&mut self) {
        if self.people.len() < 10 {
            return;
        }
        let days = i64::from(self.cfg.days.max(1));
        // The handler of the story, and a recruiter working a trade fair.
        // Each report describes them a little differently.
        let names = ["Ivan Petrenko", "Ivan", "I. Petrenko", "Petrenko"];
        let phones = [Some("+81-90-1234-5678"), None, Some("090 1234 5678")];
        let handled = self.plan.handled.clone();
        let mut approaches: Vec<(NaiveDate, Option<usize>)> = Vec::new();
        for (k, (insider, met)) in handled.iter().enumerate() {
            // The insider reports the first, innocent-looking meeting only
            // in some cases; colleagues approached around then report too.
            if k % 2 == 0 {
                approaches.push((*met, Some(*insider)));
            }
            for _ in 0..2 {
                let d = *met + Duration::days(self.rng.gen_range(-20..20));
                approaches.push((d.max(self.cfg.start), None));
            }
        }
        if handled.is_empty() {
            for _ in 0..2 {
                let d = self.cfg.start + Duration::days(self.rng.gen_range(0..days));
                approaches.push((d, None));
            }
        }
        for (r, (met, who)) in approaches.into_iter().enumerate() {
            let i = who.unwrap_or_else(|| {
                let mut i = self.rng.gen_range(0..self.people.len());
                while self.plan.insiders.contains(&i) {
                    i = self.rng.gen_range(0..self.people.len());
                }
                i
            });
            let counterpart = Counterpart {
                claimed_name: Some(names[r % names.len()].to_string()),
                claimed_nationality: (r % 3 != 2).then(|| "Ukrainian".to_string()),
                claimed_affiliation: Some(
                    [
                        "trade mission",
                        "Ukrainian trade office",
                        "embassy trade section",
                    ][r % 3]
                        .to_string(),
                ),
                phone: phones[r % phones.len()].map(str::to_string),
                email: None,
                description: Some(
                    [
                        "tall, about 40, fluent Japanese",
                        "around 40, speaks good Japanese",
                        "",
                    ][r % 3]
                        .to_string(),
                )
                .filter(|d| !d.is_empty()),
            };
            let reporter_is_insider = who.is_some();
            let delay = Duration::days(self.rng.gen_range(1..6));
            self.contacts.push(ContactReport {
                id: format!("C{:04}", self.contacts.len() + 1),
                reported_at: self.at(met + delay, 12.0),
                reporter: self.people[i].user_id.clone(),
                met_on: Some(met),
                place: [
                    "Shinagawa station",
                    "a restaurant in Shinbashi",
                    "Tokyo station",
                ][r % 3]
                    .into(),
                approach: Approach::AskedDirections,
                counterpart,
                meetings: if reporter_is_insider {
                    1
                } else {
                    1 + (r % 2) as u32
                },
                gifts_jpy: if r % 2 == 0 { 0 } else { 8_000 },
                requests: if reporter_is_insider {
                    vec![]
                } else {
                    vec!["brochure".into()]
                },
                narrative: "Asked me for directions, then insisted on dinner to thank me.".into(),
            });
        }
        for r in 0..3 {
            let i = self.rng.gen_range(0..self.people.len());
            let met = self.cfg.start + Duration::days(self.rng.gen_range(0..days));
            self.contacts.push(ContactReport {
                id: format!("C{:04}", self.contacts.len() + 1),
                reported_at: self.at(met + Duration::days(2), 12.0),
                reporter: self.people[i].user_id.clone(),
                met_on: Some(met),
                place: "a trade fair at Tokyo Big Sight".into(),
                approach: Approach::Conference,
                counterpart: Counterpart {
                    claimed_name: Some(if r == 1 { "Alex" } else { "Alex Chen" }.into()),
                    claimed_nationality: Some("Singaporean".into()),
                    claimed_affiliation: Some("consulting firm".into()),
                    phone: None,
                    email: (r != 2).then(|| "alex.chen@consult.example.sg".into()),
                    description: None,
                },
                meetings: 1,
                gifts_jpy: 0,
                requests: vec!["business_card".into()],
                narrative: "Offered paid consulting on our market.".into(),
            });
        }
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("ev-{:x}-{:08}", self.cfg.seed, self.next_id)
    }

    /// The documents a person's work needs and the policy lets them open,
    /// as of their projects now.
    fn scope_docs(&self, i: usize) -> Vec<usize> {
        let p = &self.people[i];
        let u = &UNITS[self.units[i]];
        let all_lines = [0, 1, 2, 3, 4, 5];
        let lines: &[usize] = if self.traits.get(i).is_some_and(|t| t.broad) {
            &all_lines
        } else {
            u.lines
        };
        let mut out = Vec::new();
        for &line in lines {
            for &d in &self.docs_by_line[line] {
                let doc = &self.docs[d];
                if doc.medium == Medium::Knowledge {
                    continue;
                }
                let ok = doc.classification <= p.clearance
                    && (!doc.classification.needs_need_to_know()
                        || doc.projects.shares_with(&p.projects));
                if ok {
                    out.push(d);
                }
            }
        }
        if out.is_empty() {
            // Administration reads public and internal material broadly.
            out = (0..self.docs.len())
                .filter(|&d| {
                    self.docs[d].classification <= Level::Internal
                        && self.docs[d].medium == Medium::File
                })
                .collect();
        }
        out
    }

    /// Files outside a person's scope: what curiosity reaches for.
    fn outside_docs(&self, scope: &[usize]) -> Vec<usize> {
        let inside: BTreeSet<usize> = scope.iter().copied().collect();
        (0..self.docs.len())
            .filter(|d| !inside.contains(d) && self.docs[*d].medium == Medium::File)
            .collect()
    }

    /// Recomputes everyone's scope (after the projects changed).
    fn refresh_scopes(&mut self) {
        self.scope = (0..self.people.len()).map(|i| self.scope_docs(i)).collect();
        self.outside = (0..self.people.len())
            .map(|i| self.outside_docs(&self.scope[i]))
            .collect();
    }
}

/// Japan Standard Time, +09:00.
#[allow(clippy::unwrap_used)] // a constant, valid offset
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap()
}

fn hr(ts: DateTime<FixedOffset>, user: &str, kind: HrKind, detail: Option<&str>) -> HrEvent {
    HrEvent {
        id: HrEvent::derive_id(&ts, user, &kind),
        ts,
        user: user.to_string(),
        kind,
        detail: detail.map(str::to_string),
    }
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        // Normal approximation for large means.
        let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
        return (mean + z * mean.sqrt()).round().max(0.0) as u32;
    }
    // Knuth's method; means here are small.
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l || k > 200 {
            return k;
        }
        k += 1;
    }
}

/// Where a simulated company's events go.
trait Sink {
    fn event(&mut self, e: &Event) -> io::Result<()>;
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct JsonlSink(Box<dyn Write>);

impl Sink for JsonlSink {
    fn event(&mut self, e: &Event) -> io::Result<()> {
        self.0.write_all(event_to_json(e).as_bytes())?;
        self.0.write_all(b"\n")
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

/// Writes a simulated company to `out` (created if missing).
pub fn generate(cfg: &SimConfig, out: &Path) -> io::Result<SimStats> {
    std::fs::create_dir_all(out)?;
    let mut sim = Sim::new(cfg.clone());
    sim.make_people();
    sim.make_docs();
    sim.make_hr();
    sim.refresh_scopes();
    sim.make_plan();
    sim.make_contacts();
    let truth_path = cfg.truth.clone().unwrap_or_else(|| out.join("truth.jsonl"));
    let mut t_out = BufWriter::new(File::create(&truth_path)?);
    for t in &sim.plan.truth {
        let t = match cfg.layout {
            Layout::Interchange => t.clone(),
            // CERT's dates carry no offset and are read as UTC: the truth
            // speaks the same wall-clock time.
            Layout::CertR42 => t.as_wall_clock_utc(),
        };
        writeln!(
            t_out,
            "{}",
            serde_json::to_string(&t).map_err(io::Error::other)?
        )?;
    }
    t_out.flush()?;
    let mut planned = std::mem::take(&mut sim.plan.events);
    planned.sort_by_key(|e| e.ts);
    let mut planned = planned.into_iter().peekable();

    let mut sink: Box<dyn Sink> = match cfg.layout {
        Layout::Interchange => {
            write_directory(
                BufWriter::new(File::create(out.join("directory.csv"))?),
                &sim.people,
            )?;
            write_documents(
                BufWriter::new(File::create(out.join("documents.csv"))?),
                &sim.docs,
            )?;
            let mut hr_out = BufWriter::new(File::create(out.join("hr.jsonl"))?);
            let mut hr_sorted = sim.hr.clone();
            hr_sorted.sort_by_key(|e| e.ts);
            for e in &hr_sorted {
                writeln!(hr_out, "{}", hr_to_json(e))?;
            }
            hr_out.flush()?;
            let mut c_out = BufWriter::new(File::create(out.join("contacts.jsonl"))?);
            for c in &sim.contacts {
                writeln!(c_out, "{}", contact_to_json(c))?;
            }
            c_out.flush()?;
            let w: Box<dyn Write> = if cfg.gzip {
                Box::new(flate2::write::GzEncoder::new(
                    BufWriter::with_capacity(1 << 20, File::create(out.join("events.jsonl.gz"))?),
                    flate2::Compression::fast(),
                ))
            } else {
                Box::new(BufWriter::with_capacity(
                    1 << 20,
                    File::create(out.join("events.jsonl"))?,
                ))
            };
            Box::new(JsonlSink(w))
        }
        Layout::CertR42 => Box::new(cert_layout::CertSink::create(
            out,
            &sim.people,
            &sim.units,
            cfg.start,
            cfg.days,
        )?),
    };

    // Projects before transfers, for the days before each transfer.
    let final_projects: Vec<BTreeSet<String>> =
        sim.people.iter().map(|p| p.projects.clone()).collect();
    let mut transfer_days: Vec<NaiveDate> = sim
        .hr
        .iter()
        .filter(|e| matches!(e.kind, HrKind::Transfer { .. }))
        .map(|e| e.ts.date_naive())
        .collect();
    transfer_days.sort();
    let mut count = 0u64;
    let mut day_buf = Vec::new();
    for d in 0..cfg.days {
        let day = cfg.start + Duration::days(i64::from(d));
        // Replay need to know as of this day for the people who transferred.
        if d == 0 || transfer_days.contains(&day) {
            for (i, p) in sim.people.iter_mut().enumerate() {
                p.projects = final_projects[i].clone();
            }
            for e in sim.hr.iter().filter(|e| e.ts.date_naive() > day) {
                if let HrKind::Transfer { from_projects, .. } = &e.kind {
                    if let Some(p) = sim.people.iter_mut().find(|p| p.user_id == e.user) {
                        p.projects = from_projects.clone();
                    }
                }
            }
            sim.refresh_scopes();
        }
        day_buf.clear();
        sim.day_events(day, &mut day_buf);
        while let Some(e) = planned.next_if(|e| e.ts.date_naive() <= day) {
            day_buf.push(e);
        }
        day_buf.sort_by_key(|e| e.ts);
        for e in &day_buf {
            sink.event(e)?;
        }
        count += day_buf.len() as u64;
    }
    sink.finish()?;
    Ok(SimStats {
        people: sim.people.len(),
        documents: sim.docs.len(),
        events: count,
        hr_events: sim.hr.len(),
        contacts: sim.contacts.len(),
        insiders: sim.plan.truth.iter().filter(|t| t.insider).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_dataset_and_everything_parses() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let cfg = SimConfig {
            people: 50,
            days: 10,
            seed: 7,
            ..Default::default()
        };
        let sa = generate(&cfg, a.path()).unwrap();
        let sb = generate(&cfg, b.path()).unwrap();
        assert_eq!(sa, sb);
        assert!(sa.events > 500, "{sa:?}");
        let ea = std::fs::read(a.path().join("events.jsonl")).unwrap();
        assert_eq!(ea, std::fs::read(b.path().join("events.jsonl")).unwrap());
        for line in ea.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            custodian_core::interchange::parse_event(line).unwrap();
        }
        for line in std::fs::read(a.path().join("hr.jsonl"))
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            custodian_core::interchange::parse_hr(line).unwrap();
        }
    }

    #[test]
    fn holidays() {
        assert!(is_holiday(NaiveDate::from_ymd_opt(2025, 5, 5).unwrap()));
        assert!(is_holiday(NaiveDate::from_ymd_opt(2025, 4, 5).unwrap())); // Saturday
        assert!(!is_holiday(NaiveDate::from_ymd_opt(2025, 4, 7).unwrap()));
    }

    /// Each knob changes what it names: a background that did nothing
    /// would make the sweep a lie.
    #[test]
    fn the_knobs_change_the_company() {
        fn count(knobs: &str, what: &dyn Fn(&Event) -> bool) -> usize {
            let dir = tempfile::tempdir().unwrap();
            let cfg = SimConfig {
                people: 150,
                days: 40,
                seed: 3,
                background: Background::parse(knobs).unwrap(),
                ..Default::default()
            };
            generate(&cfg, dir.path()).unwrap();
            let text = std::fs::read(dir.path().join("events.jsonl")).unwrap();
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| custodian_core::interchange::parse_event(l).unwrap())
                .filter(|e| what(e))
                .count()
        }
        use custodian_core::Action;
        let denied = |e: &Event| matches!(e.action, Action::DocDenied { .. });
        assert!(count("refusals=5", &denied) > 5 * count("refusals=0.1", &denied).max(1));
        let to_home = |e: &Event| {
            matches!(&e.action, Action::EmailSend { to_domain, .. }
                if PERSONAL_MAIL.contains(&to_domain.as_str()) || ISP_MAIL.contains(&to_domain.as_str()))
        };
        assert!(
            count("personal_mail=0.4", &to_home) > 4 * count("personal_mail=0.01", &to_home).max(1)
        );
        let jobs = |e: &Event| matches!(&e.action, Action::WebVisit { domain, .. } if JOB_SITES.contains(&domain.as_str()));
        assert!(count("job_browsing=0.3", &jobs) > 10);
        let elsewhere = |e: &Event| {
            matches!(e.action, Action::Logon) && e.host.as_deref() != Some(own_pc(&e.user).as_str())
        };
        assert!(count("roaming=0.3", &elsewhere) > 20);
        let from_home = |e: &Event| {
            matches!(
                &e.action,
                Action::EmailSend {
                    from_domain: Some(_),
                    ..
                }
            )
        };
        assert!(count("personal_sender=0.5", &from_home) > 20);
        assert!(count("activity=2.5", &|_| true) > 2 * count("", &|_| true));
    }
}
