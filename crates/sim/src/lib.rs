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
mod company;
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
