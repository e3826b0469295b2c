//! The CERT Insider Threat Test Dataset, release 4.2 (Carnegie Mellon
//! University's Software Engineering Institute and ExactData): the de facto
//! research layout, mapped onto the interchange format's actions as its
//! public release notes describe the files.
//!
//! | CERT file | row | interchange |
//! |---|---|---|
//! | `logon.csv` | id, date, user, pc, activity | `logon` / `logoff` |
//! | `device.csv` | id, date, user, pc, activity | `device.connect` / `device.disconnect` (extension actions) |
//! | `file.csv` | id, date, user, pc, filename, content | `usb.write`: each row is one file copied to removable media; `files` 1, `bytes` unknown (0): `content` is a hex file header and keywords, not the file, so its length says nothing of the size; the file name goes to the event's `filename` extension field |
//! | `email.csv` | id, date, user, pc, to, cc, bcc, from, size, attachments, content | `email.send`: `to_domain` the first recipient outside the company's domain (else the first), `external` whether any is, `recipients` the count of to, cc and bcc, `from_domain` the sender's domain when `from` is not a company address (a personal account; in r4.2 many rows are), `bytes` the message `size` (attachments excluded), `attachments` their count |
//! | `http.csv` | id, date, user, pc, url, content | `web.visit` (`domain`, `url`): r4.2 has visits only; the URL's topic (job sites, keyloggers, leak sites) is what matters, and detection reads it |
//! | `LDAP/YYYY-MM.csv` | employee_name, user_id, email, role, business_unit, functional_unit, department, team, supervisor | the directory (see below) |
//!
//! Rules:
//! - Dates are `MM/DD/YYYY HH:MM:SS` without an offset; they are read as
//!   local time at the offset given (UTC by default). Ids are unique only
//!   within a file, so event ids are prefixed with the file's name. Every
//!   file is in date order in the release; the files are merged by date as
//!   they stream (the 14 GB `http.csv` is never held in memory), and rows
//!   of the same second are ordered as detection orders them (by the hash
//!   of their id), so a tie never reads as out of order. A row earlier
//!   than its file's previous one is counted ([`CertEvents::out_of_order`]).
//! - Users may be written `DOMAIN/ID`; the LDAP files use the ID.
//! - The directory comes from the monthly snapshots. A person's unit is
//!   their department within its functional unit; department heads (no
//!   department) are their functional unit's, not one company-wide group.
//!   `supervisor` is a name: it becomes the manager's id where the name is
//!   unique. A person first listed after the first month was hired that
//!   month. A person listed in month M and missing from M+1 left during
//!   M+1: their leave date is the first day of M+1 (the earliest it can
//!   be), so the 30 days before leaving that detection weighs cover the
//!   weeks before they went.
//! - Every file is read through the bounded line reader: a line longer
//!   than [`MAX_ROW_BYTES`] is set aside, never held; a row that cannot be
//!   read is set aside with its file and line, and the rows around it are
//!   kept.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use custodian_core::interchange::{Columns, CsvItem, CsvRecord, CsvRecords, HeaderError};
use custodian_core::order::id_hash;
use custodian_core::{Action, Event, HrEvent, HrKind, Level, Person};

mod convert;
use convert::*;

/// The longest row read (a mass mail's recipients fit many times over).
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// A row that could not be read.
#[derive(Debug, Clone)]
pub struct CertReject {
    pub file: String,
    pub line: u64,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// The people and HR events of a CERT folder, and the way to its events.
pub struct CertDataset {
    pub people: Vec<Person>,
    pub hr: Vec<HrEvent>,
    pub company_domain: String,
    dir: PathBuf,
    offset: FixedOffset,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}: not a CERT r4.2 folder: {1}")]
    Layout(PathBuf, String),
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("{0}: {1}")]
    Header(PathBuf, HeaderError),
}

pub fn parse_cert_date(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%m/%d/%Y %H:%M:%S").ok()
}

fn open_csv(path: &Path) -> Result<CsvRecords<BufReader<File>>, CertError> {
    let f = File::open(path).map_err(|e| CertError::Io(path.to_path_buf(), e))?;
    CsvRecords::new(BufReader::with_capacity(1 << 20, f), MAX_ROW_BYTES)
        .map_err(|e| CertError::Header(path.to_path_buf(), e))
}

/// A column by name, whatever the header's case.
fn column(cols: &Columns, name: &str) -> Option<String> {
    cols.names()
        .iter()
        .find(|n| n.trim().eq_ignore_ascii_case(name))
        .map(|n| n.trim().to_string())
}

/// One LDAP row.
struct LdapRow {
    name: String,
    email: String,
    role: String,
    unit: String,
    supervisor: String,
}

impl CertDataset {
    /// Reads the LDAP folder.
    pub fn open(dir: &Path, offset: FixedOffset) -> Result<CertDataset, CertError> {
        let ldap = dir.join("LDAP");
        let mut months: Vec<(NaiveDate, PathBuf)> = std::fs::read_dir(&ldap)
            .map_err(|e| CertError::Layout(dir.into(), format!("no LDAP folder ({e})")))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".csv")?;
                let d = NaiveDate::parse_from_str(&format!("{stem}-01"), "%Y-%m-%d").ok()?;
                Some((d, e.path()))
            })
            .collect();
        months.sort();
        if months.is_empty() {
            return Err(CertError::Layout(
                dir.into(),
                "LDAP holds no YYYY-MM.csv files".into(),
            ));
        }
        let mut rows: BTreeMap<String, LdapRow> = BTreeMap::new();
        let mut seen_in: BTreeMap<String, (NaiveDate, NaiveDate)> = BTreeMap::new();
        let mut domains: BTreeMap<String, usize> = BTreeMap::new();
        let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (month, path) in &months {
            let mut csv = open_csv(path)?;
            let cols = csv.columns().clone();
            let (Some(id_c), Some(name_c)) =
                (column(&cols, "user_id"), column(&cols, "employee_name"))
            else {
                return Err(CertError::Layout(
                    path.clone(),
                    "needs user_id and employee_name columns".into(),
                ));
            };
            let col = |n: &str| column(&cols, n);
            let (email_c, role_c, sup_c) = (col("email"), col("role"), col("supervisor"));
            let (bu_c, fu_c, dep_c) = (
                col("business_unit"),
                col("functional_unit"),
                col("department"),
            );
            while let Some(item) = csv
                .next_item()
                .map_err(|e| CertError::Io(path.clone(), e))?
            {
                let CsvItem::Record(rec) = item else { continue };
                let get = |c: &Option<String>| {
                    c.as_deref()
                        .map_or(String::new(), |c| cols.get(&rec, c).to_string())
                };
                let uid = cols.get(&rec, &id_c).to_string();
                if uid.is_empty() {
                    continue;
                }
                let email = get(&email_c);
                if let Some((_, d)) = email.split_once('@') {
                    *domains.entry(d.to_ascii_lowercase()).or_default() += 1;
                }
                let span = seen_in.entry(uid.clone()).or_insert((*month, *month));
                span.1 = *month;
                let name = cols.get(&rec, &name_c).to_string();
                names.entry(name.clone()).or_default().insert(uid.clone());
                // The department within its functional unit; a head's unit
                // is the functional unit (the business unit if even that is
                // empty).
                let (bu, fu, dep) = (get(&bu_c), get(&fu_c), get(&dep_c));
                let unit = match (fu.is_empty(), dep.is_empty()) {
                    (false, false) => format!("{fu} / {dep}"),
                    (false, true) => fu,
                    (true, false) => dep,
                    (true, true) if !bu.is_empty() => format!("business unit {bu}"),
                    (true, true) => "(none)".into(),
                };
                rows.insert(
                    uid,
                    LdapRow {
                        name,
                        email,
                        role: get(&role_c),
                        unit,
                        supervisor: get(&sup_c),
                    },
                );
            }
        }
        // Supervisors by name, where the name is one person's.
        let by_name: BTreeMap<&str, &str> = names
            .iter()
            .filter(|(_, ids)| ids.len() == 1)
            .filter_map(|(n, ids)| ids.iter().next().map(|id| (n.as_str(), id.as_str())))
            .collect();
        let first_month = months[0].0;
        let last_month = months[months.len() - 1].0;
        let mut people = Vec::new();
        let mut hr = Vec::new();
        for (uid, r) in &rows {
            let Some((from, to)) = seen_in.get(uid) else {
                continue;
            };
            let manager_id = by_name
                .get(r.supervisor.as_str())
                .filter(|m| **m != uid.as_str())
                .map(|m| m.to_string());
            let hire_date = if *from == first_month {
                NaiveDate::MIN
            } else {
                let ts = at_offset(from.and_hms_opt(9, 0, 0).unwrap_or_default(), offset);
                hr.push(hr_event(
                    ts,
                    uid,
                    HrKind::Hire,
                    "first listed in the LDAP snapshot of that month",
                ));
                *from
            };
            let leave_date = (*to != last_month).then(|| {
                // Listed in `to`, missing from the next month: left during
                // it; the earliest it can be.
                let left = next_month(*to);
                let ts = at_offset(left.and_hms_opt(9, 0, 0).unwrap_or_default(), offset);
                hr.push(hr_event(
                    ts,
                    uid,
                    HrKind::Termination,
                    "missing from the LDAP snapshot of this month: left during it",
                ));
                left
            });
            people.push(Person {
                user_id: uid.clone(),
                name: r.name.clone(),
                email: r.email.clone(),
                org_unit: r.unit.clone(),
                site: String::new(),
                role: r.role.clone(),
                manager_id,
                clearance: Level::Internal,
                projects: BTreeSet::new(),
                hire_date,
                leave_date,
            });
        }
        let company_domain = domains
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(d, _)| d)
            .unwrap_or_default();
        Ok(CertDataset {
            people,
            hr,
            company_domain,
            dir: dir.into(),
            offset,
        })
    }

    /// The activity files present, and their total size.
    pub fn files(&self) -> Vec<(&'static str, u64)> {
        Kind::ALL
            .iter()
            .filter_map(|k| {
                let m = std::fs::metadata(self.dir.join(k.file())).ok()?;
                Some((k.file(), m.len()))
            })
            .collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The events of all activity files, merged in date order.
    pub fn events(&self) -> Result<CertEvents, CertError> {
        let mut files = Vec::new();
        for kind in Kind::ALL {
            let path = self.dir.join(kind.file());
            if !path.exists() {
                continue;
            }
            let csv = open_csv(&path)?;
            let cols = csv.columns().clone();
            for need in ["id", "date", "user"] {
                if column(&cols, need).is_none() {
                    return Err(CertError::Layout(path, format!("no `{need}` column")));
                }
            }
            files.push(FileStream {
                kind,
                cols,
                csv,
                head: None,
                last_us: i64::MIN,
            });
        }
        if files.is_empty() {
            return Err(CertError::Layout(
                self.dir.clone(),
                "none of logon.csv, device.csv, file.csv, email.csv, http.csv".into(),
            ));
        }
        let mut ev = CertEvents {
            files,
            offset: self.offset,
            company: self.company_domain.clone(),
            rejects: Vec::new(),
            rows: 0,
            out_of_order: 0,
            ties: VecDeque::new(),
        };
        for i in 0..ev.files.len() {
            ev.advance(i);
        }
        Ok(ev)
    }
}

/// One CERT activity file (`logon.csv`, `device.csv`, `file.csv`,
/// `email.csv` or `http.csv`, by name) from any bytes, row by row as
/// [`CertDataset::events`] reads it: each row converted, or set aside with
/// its line. Bounded like the folder reader ([`MAX_ROW_BYTES`]); the fuzz
/// target's entry.
pub fn read_activity<R: io::BufRead>(
    file: &str,
    input: R,
    offset: FixedOffset,
    company: &str,
) -> Result<(Vec<Event>, Vec<CertReject>), String> {
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.file() == file)
        .ok_or_else(|| format!("`{file}` is not a CERT activity file"))?;
    let mut csv = CsvRecords::new(input, MAX_ROW_BYTES).map_err(|e| e.to_string())?;
    let cols = csv.columns().clone();
    let (mut events, mut rejects) = (Vec::new(), Vec::new());
    loop {
        match csv.next_item() {
            Ok(None) => break,
            Err(e) => {
                rejects.push(CertReject {
                    file: file.into(),
                    line: 0,
                    reason: format!("cannot read on: {e}"),
                    raw: Vec::new(),
                });
                break;
            }
            Ok(Some(CsvItem::Record(rec))) => match convert(kind, &cols, &rec, offset, company) {
                Ok(e) => events.push(e),
                Err(reason) => rejects.push(CertReject {
                    file: file.into(),
                    line: rec.line,
                    reason,
                    raw: rec.fields.join(",").into_bytes(),
                }),
            },
            Ok(Some(CsvItem::Bad { line, error, raw })) => rejects.push(CertReject {
                file: file.into(),
                line,
                reason: error.to_string(),
                raw,
            }),
        }
    }
    Ok((events, rejects))
}

fn next_month(d: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    let (y, m) = if d.month0() == 11 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d + Duration::days(31))
}

fn at_offset(t: NaiveDateTime, offset: FixedOffset) -> DateTime<FixedOffset> {
    offset
        .from_local_datetime(&t)
        .single()
        .unwrap_or_else(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset())
}

fn hr_event(ts: DateTime<FixedOffset>, user: &str, kind: HrKind, detail: &str) -> HrEvent {
    HrEvent {
        id: HrEvent::derive_id(&ts, user, &kind),
        ts,
        user: user.into(),
        kind,
        detail: Some(detail.into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Logon,
    Device,
    File,
    Email,
    Http,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Logon,
        Kind::Device,
        Kind::File,
        Kind::Email,
        Kind::Http,
    ];

    fn file(self) -> &'static str {
        match self {
            Kind::Logon => "logon.csv",
            Kind::Device => "device.csv",
            Kind::File => "file.csv",
            Kind::Email => "email.csv",
            Kind::Http => "http.csv",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Kind::Logon => "logon",
            Kind::Device => "device",
            Kind::File => "file",
            Kind::Email => "email",
            Kind::Http => "http",
        }
    }
}

struct FileStream {
    kind: Kind,
    cols: Columns,
    csv: CsvRecords<BufReader<File>>,
    head: Option<(i64, Event)>,
    last_us: i64,
}

/// The merged event stream. Rows that cannot be read are set aside in
/// [`CertEvents::rejects`] with their file and line.
pub struct CertEvents {
    files: Vec<FileStream>,
    offset: FixedOffset,
    company: String,
    pub rejects: Vec<CertReject>,
    pub rows: u64,
    /// Rows earlier than their file's previous row.
    pub out_of_order: u64,
    /// The rows of one second, in detection's order.
    ties: VecDeque<Event>,
}

impl CertEvents {
    /// Bytes read so far, over every file.
    pub fn bytes_read(&self) -> u64 {
        self.files.iter().map(|f| f.csv.bytes_read()).sum()
    }

    fn advance(&mut self, i: usize) {
        loop {
            let f = &mut self.files[i];
            f.head = None;
            let item = match f.csv.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(e) => {
                    self.rejects.push(CertReject {
                        file: f.kind.file().into(),
                        line: 0,
                        reason: format!("cannot read on: {e}"),
                        raw: Vec::new(),
                    });
                    return;
                }
            };
            self.rows += 1;
            match item {
                CsvItem::Record(rec) => {
                    match convert(f.kind, &f.cols, &rec, self.offset, &self.company) {
                        Ok(e) => {
                            let t = e.ts.timestamp_micros();
                            if t < f.last_us {
                                self.out_of_order += 1;
                            }
                            f.last_us = f.last_us.max(t);
                            f.head = Some((t, e));
                            return;
                        }
                        Err(reason) => self.rejects.push(CertReject {
                            file: f.kind.file().into(),
                            line: rec.line,
                            reason,
                            raw: rec.fields.join(",").into_bytes(),
                        }),
                    }
                }
                CsvItem::Bad { line, error, raw } => self.rejects.push(CertReject {
                    file: f.kind.file().into(),
                    line,
                    reason: error.to_string(),
                    raw,
                }),
            }
        }
    }
}

impl Iterator for CertEvents {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        if let Some(e) = self.ties.pop_front() {
            return Some(e);
        }
        let t = self
            .files
            .iter()
            .filter_map(|f| f.head.as_ref().map(|h| h.0))
            .min()?;
        // Every row of this second, from every file (each is in date
        // order), then in detection's order.
        let mut tie = Vec::new();
        for i in 0..self.files.len() {
            while self.files[i].head.as_ref().is_some_and(|h| h.0 == t) {
                if let Some((_, e)) = self.files[i].head.take() {
                    tie.push(e);
                }
                self.advance(i);
            }
        }
        tie.sort_by(|a, b| {
            id_hash(&a.id)
                .cmp(&id_hash(&b.id))
                .then_with(|| a.id.cmp(&b.id))
        });
        self.ties.extend(tie);
        self.ties.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("LDAP")).unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    const HEADER: &str =
        "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n";

    #[test]
    fn the_directory_follows_the_release_notes() {
        let jan = format!(
            "{HEADER}Ann Head,AAA0001,Ann.Head@dtaa.com,Manager,1,2 - ResearchAndEngineering,,,\n\
             Bob Works,BBB0002,Bob.Works@dtaa.com,Engineer,1,2 - ResearchAndEngineering,3 - Engineering,T1,Ann Head\n\
             Cat Other,CCC0003,Cat.Other@dtaa.com,Salesman,1,5 - SalesAndMarketing,,,\n"
        );
        let feb = jan.replace("Bob Works,BBB0002,Bob.Works@dtaa.com,Engineer,1,2 - ResearchAndEngineering,3 - Engineering,T1,Ann Head\n", "")
            + "Dan New,DDD0004,Dan.New@dtaa.com,Engineer,1,2 - ResearchAndEngineering,3 - Engineering,T1,Ann Head\n";
        let d = folder(&[("LDAP/2010-01.csv", &jan), ("LDAP/2010-02.csv", &feb)]);
        let ds = CertDataset::open(d.path(), FixedOffset::east_opt(0).unwrap()).unwrap();
        let p = |id: &str| ds.people.iter().find(|p| p.user_id == id).unwrap();
        // (4) The supervisor's name is their id; heads are their functional
        // unit's, not one company-wide group.
        assert_eq!(p("BBB0002").manager_id.as_deref(), Some("AAA0001"));
        assert_eq!(p("AAA0001").org_unit, "2 - ResearchAndEngineering");
        assert_eq!(p("CCC0003").org_unit, "5 - SalesAndMarketing");
        assert_eq!(
            p("BBB0002").org_unit,
            "2 - ResearchAndEngineering / 3 - Engineering"
        );
        // (5) Missing from February: left during February, from its first day.
        assert_eq!(p("BBB0002").leave_date, NaiveDate::from_ymd_opt(2010, 2, 1));
        assert_eq!(
            p("DDD0004").hire_date,
            NaiveDate::from_ymd_opt(2010, 2, 1).unwrap()
        );
        assert!(ds
            .hr
            .iter()
            .any(|h| h.user == "BBB0002" && h.kind == HrKind::Termination));
        assert_eq!(ds.company_domain, "dtaa.com");
    }

    #[test]
    fn rows_follow_the_release_notes() {
        let ldap =
            format!("{HEADER}Bob Works,BBB0002,Bob.Works@dtaa.com,Engineer,1,2 - R,3 - E,T1,\n");
        // (1) Rows tied on a second, in three files, in id order in each.
        let logon = "id,date,user,pc,activity\n\
            {A1},01/04/2010 08:00:00,DTAA/BBB0002,PC-1,Logon\n\
            {A2},01/04/2010 08:00:00,DTAA/BBB0002,PC-1,Logon\n\
            {A3},01/04/2010 08:00:00,DTAA/BBB0002,PC-2,Logon\n";
        let device =
            "id,date,user,pc,activity\n{D1},01/04/2010 08:00:00,DTAA/BBB0002,PC-1,Connect\n";
        // (2) content is a header and keywords, not a size.
        let file = "id,date,user,pc,filename,content\n\
            {F1},01/04/2010 08:00:00,DTAA/BBB0002,PC-1,R:\\\\plans.doc,D0-CF-11-E0-A1-B1-1A-E1 secret plans and many many more words\n";
        // (3) from a personal account, to three people, one outside.
        let email = "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n\
            {E1},01/04/2010 09:00:00,DTAA/BBB0002,PC-1,a@dtaa.com;b@dtaa.com,friend@comcast.net,,bob@bellsouth.net,25000,2,hello\n\
            {E2},01/04/2010 09:30:00,DTAA/BBB0002,PC-1,a@dtaa.com,,,Bob.Works@dtaa.com,100,0,hi\n\
            {E3},01/04/2010 10:00:00,DTAA/BBB0002,PC-1,,,,Bob.Works@dtaa.com,100,0,nobody\n";
        // (6) visits, the URL kept.
        let http = "id,date,user,pc,url,content\n{H1},01/04/2010 11:00:00,DTAA/BBB0002,PC-3,http://www.softdl.example.com/keylogger/setup.exe,free download\n";
        let d = folder(&[
            ("LDAP/2010-01.csv", &ldap),
            ("logon.csv", logon),
            ("device.csv", device),
            ("file.csv", file),
            ("email.csv", email),
            ("http.csv", http),
        ]);
        let ds = CertDataset::open(d.path(), FixedOffset::east_opt(0).unwrap()).unwrap();
        let mut evs = ds.events().unwrap();
        let all: Vec<Event> = evs.by_ref().collect();
        assert_eq!(evs.out_of_order, 0);
        // The tied second comes out in detection's order.
        let tied: Vec<&Event> = all
            .iter()
            .filter(|e| e.ts.timestamp() == all[0].ts.timestamp())
            .collect();
        assert_eq!(tied.len(), 5);
        for w in tied.windows(2) {
            assert!(id_hash(&w[0].id) <= id_hash(&w[1].id));
        }
        let by_id = |id: &str| all.iter().find(|e| e.id == id).unwrap();
        assert_eq!(
            by_id("file-{F1}").action,
            Action::UsbWrite {
                bytes: 0,
                files: 1,
                doc: None
            }
        );
        assert_eq!(by_id("file-{F1}").extra["filename"], "R:\\\\plans.doc");
        match &by_id("email-{E1}").action {
            Action::EmailSend {
                to_domain,
                external,
                from_domain,
                recipients,
                attachments,
                bytes,
                ..
            } => {
                assert_eq!(to_domain, "comcast.net");
                assert!(*external);
                assert_eq!(from_domain.as_deref(), Some("bellsouth.net"));
                assert_eq!(*recipients, Some(3));
                assert_eq!((*attachments, *bytes), (2, 25_000));
            }
            a => panic!("{a:?}"),
        }
        match &by_id("email-{E2}").action {
            Action::EmailSend {
                external,
                from_domain,
                ..
            } => {
                assert!(!*external);
                assert_eq!(*from_domain, None);
            }
            a => panic!("{a:?}"),
        }
        // (7) the pc is the event's host.
        assert_eq!(by_id("http-{H1}").host.as_deref(), Some("PC-3"));
        // A mail without recipients is set aside with its place.
        assert!(evs
            .rejects
            .iter()
            .any(|r| r.file == "email.csv" && r.line == 4 && r.reason.contains("`to`")));
    }

    /// A file's rows from bytes: the same mapping as the folder reader, a
    /// bad row named with its line, the rows around it kept.
    #[test]
    fn activity_rows_from_bytes_are_mapped_and_bad_rows_named() {
        let data = "id,date,user,pc,activity\n\
            {D1},01/04/2010 09:00:00,DTAA/AAA0001,PC-2,Connect\n\
            {D2},13/45/2010 09:00:00,DTAA/AAA0001,PC-2,Connect\n\
            {D3},01/04/2010 09:05:00,DTAA/AAA0001,PC-2,Disconnect\n";
        let utc = FixedOffset::east_opt(0).unwrap();
        let (events, rejects) =
            read_activity("device.csv", data.as_bytes(), utc, "dtaa.com").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].host.as_deref(), Some("PC-2"));
        assert_eq!(events[0].user, "AAA0001");
        assert!(matches!(&events[1].action, Action::Other { name } if name == "device.disconnect"));
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 3);
        assert!(read_activity("passwd", data.as_bytes(), utc, "dtaa.com").is_err());
    }

    proptest::proptest! {
        /// Any bytes as any activity file: no panic, every reject named in
        /// line order.
        #[test]
        fn any_bytes_are_read_or_set_aside(pick in 0usize..5, data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let files = ["logon.csv", "device.csv", "file.csv", "email.csv", "http.csv"];
            let utc = FixedOffset::east_opt(0).unwrap();
            let mut input = b"id,date,user,pc,to,cc,bcc,from,size,attachments,content,activity,url,filename\n".to_vec();
            input.extend_from_slice(&data);
            if let Ok((_, rejects)) = read_activity(files[pick], input.as_slice(), utc, "dtaa.com") {
                let mut last = 0;
                for r in &rejects {
                    proptest::prop_assert!(r.line == 0 || r.line > last);
                    last = last.max(r.line);
                }
            }
        }
    }
}
