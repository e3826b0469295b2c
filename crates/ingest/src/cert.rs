//! The CERT Insider Threat Test Dataset, release 4.2 (Carnegie Mellon
//! University's Software Engineering Institute and ExactData): the de facto
//! research layout, mapped onto the interchange format's actions.
//!
//! | CERT file | row | interchange |
//! |---|---|---|
//! | `logon.csv` | id, date, user, pc, activity | `logon` / `logoff` |
//! | `device.csv` | id, date, user, pc, activity | `device.connect` / `device.disconnect` (extension actions) |
//! | `file.csv` | id, date, user, pc, filename, content | `usb.write` (each row is a copy to removable media; `files` 1, `bytes` the content's length) |
//! | `email.csv` | id, date, user, pc, to, cc, bcc, from, size, attachments, content | `email.send` (`to_domain` the first recipient outside the company's domain, if any) |
//! | `http.csv` | id, date, user, pc, url, content | `web.visit` (`domain`, `url`) |
//! | `LDAP/YYYY-MM.csv` | employee_name, user_id, email, role, …, department, … | the directory; a person missing from a later month left then (a `termination`), one first seen after the first month was hired |
//!
//! Dates are `MM/DD/YYYY HH:MM:SS` without an offset; they are read as
//! local time at the offset given (UTC by default). Ids are unique only
//! within a file, so event ids are prefixed with the file's name. Each file
//! is in date order in the release; the files are merged by date as they
//! stream, so the 14 GB `http.csv` is never held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use custodian_core::{Action, Event, HrEvent, HrKind, Level, Person};

/// A row that could not be read.
#[derive(Debug, Clone)]
pub struct CertReject {
    pub file: String,
    pub line: u64,
    pub reason: String,
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
    Csv(PathBuf, csv::Error),
}

pub fn parse_cert_date(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s.trim(), "%m/%d/%Y %H:%M:%S").ok()
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
        let mut people: BTreeMap<String, Person> = BTreeMap::new();
        let mut seen_in: BTreeMap<String, (NaiveDate, NaiveDate)> = BTreeMap::new();
        let mut domains: BTreeMap<String, usize> = BTreeMap::new();
        for (month, path) in &months {
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(path)
                .map_err(|e| CertError::Csv(path.clone(), e))?;
            let headers = r
                .headers()
                .map_err(|e| CertError::Csv(path.clone(), e))?
                .clone();
            let col = |n: &str| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(n))
            };
            let (Some(id_c), Some(name_c)) = (col("user_id"), col("employee_name")) else {
                return Err(CertError::Layout(
                    path.clone(),
                    "needs user_id and employee_name columns".into(),
                ));
            };
            let email_c = col("email");
            let role_c = col("role");
            let unit_c = col("department")
                .or(col("functional_unit"))
                .or(col("business_unit"));
            let sup_c = col("supervisor");
            for rec in r.records() {
                let rec = rec.map_err(|e| CertError::Csv(path.clone(), e))?;
                let get =
                    |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_string();
                let uid = get(Some(id_c));
                if uid.is_empty() {
                    continue;
                }
                let email = get(email_c);
                if let Some((_, d)) = email.split_once('@') {
                    *domains.entry(d.to_ascii_lowercase()).or_default() += 1;
                }
                let span = seen_in.entry(uid.clone()).or_insert((*month, *month));
                span.1 = *month;
                let unit = get(unit_c);
                people.insert(
                    uid.clone(),
                    Person {
                        user_id: uid,
                        name: get(Some(name_c)),
                        email,
                        org_unit: if unit.is_empty() {
                            "(none)".into()
                        } else {
                            unit
                        },
                        site: String::new(),
                        role: get(role_c),
                        manager_id: None,
                        clearance: Level::Internal,
                        projects: BTreeSet::new(),
                        hire_date: *month,
                        leave_date: None,
                    },
                );
                let _ = sup_c;
            }
        }
        let first_month = months[0].0;
        let last_month = months[months.len() - 1].0;
        let mut hr = Vec::new();
        for (uid, (from, to)) in &seen_in {
            let Some(p) = people.get_mut(uid) else {
                continue;
            };
            p.hire_date = if *from == first_month {
                NaiveDate::MIN
            } else {
                *from
            };
            if *from != first_month {
                let ts = at_offset(from.and_hms_opt(9, 0, 0).unwrap_or_default(), offset);
                hr.push(hr_event(ts, uid, HrKind::Hire));
            }
            if *to != last_month {
                // Listed at the end of `to`, gone by the end of the next
                // month: left during the next month.
                let left = next_month(*to);
                p.leave_date = Some(next_month(left) - Duration::days(1));
                let ts = at_offset(left.and_hms_opt(9, 0, 0).unwrap_or_default(), offset);
                hr.push(hr_event(ts, uid, HrKind::Termination));
            }
        }
        let company_domain = domains
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(d, _)| d)
            .unwrap_or_default();
        Ok(CertDataset {
            people: people.into_values().collect(),
            hr,
            company_domain,
            dir: dir.into(),
            offset,
        })
    }

    /// The events of all activity files, merged in date order.
    pub fn events(&self) -> Result<CertEvents, CertError> {
        let mut files = Vec::new();
        for kind in [
            Kind::Logon,
            Kind::Device,
            Kind::File,
            Kind::Email,
            Kind::Http,
        ] {
            let path = self.dir.join(kind.file());
            if !path.exists() {
                continue;
            }
            let f = File::open(&path).map_err(|e| CertError::Io(path.clone(), e))?;
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::with_capacity(1 << 20, f));
            let headers = r
                .headers()
                .map_err(|e| CertError::Csv(path.clone(), e))?
                .clone();
            let cols: Vec<String> = headers
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect();
            for need in ["id", "date", "user"] {
                if !cols.iter().any(|c| c == need) {
                    return Err(CertError::Layout(
                        path.clone(),
                        format!("no `{need}` column"),
                    ));
                }
            }
            files.push(FileStream {
                kind,
                cols,
                reader: r,
                record: csv::StringRecord::new(),
                head: None,
                line: 1,
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
        };
        for i in 0..ev.files.len() {
            ev.advance(i);
        }
        Ok(ev)
    }
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month0() == 11 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

use chrono::Datelike;

fn at_offset(t: NaiveDateTime, offset: FixedOffset) -> DateTime<FixedOffset> {
    offset
        .from_local_datetime(&t)
        .single()
        .unwrap_or_else(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset())
}

fn hr_event(ts: DateTime<FixedOffset>, user: &str, kind: HrKind) -> HrEvent {
    HrEvent {
        id: HrEvent::derive_id(&ts, user, &kind),
        ts,
        user: user.into(),
        kind,
        detail: Some("derived from the monthly LDAP snapshots".into()),
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
    cols: Vec<String>,
    reader: csv::Reader<BufReader<File>>,
    record: csv::StringRecord,
    head: Option<Event>,
    line: u64,
}

/// The merged event stream. Rows that cannot be read are set aside in
/// [`CertEvents::rejects`] with their file and line.
pub struct CertEvents {
    files: Vec<FileStream>,
    offset: FixedOffset,
    company: String,
    pub rejects: Vec<CertReject>,
    pub rows: u64,
}

impl CertEvents {
    fn advance(&mut self, i: usize) {
        loop {
            let f = &mut self.files[i];
            f.head = None;
            match f.reader.read_record(&mut f.record) {
                Ok(false) => return,
                Ok(true) => {
                    f.line += 1;
                    self.rows += 1;
                    match convert(f.kind, &f.cols, &f.record, self.offset, &self.company) {
                        Ok(e) => {
                            f.head = Some(e);
                            return;
                        }
                        Err(reason) => self.rejects.push(CertReject {
                            file: f.kind.file().into(),
                            line: f.line,
                            reason,
                        }),
                    }
                }
                Err(e) => {
                    f.line += 1;
                    self.rows += 1;
                    self.rejects.push(CertReject {
                        file: f.kind.file().into(),
                        line: f.line,
                        reason: e.to_string(),
                    });
                    if e.is_io_error() {
                        return;
                    }
                }
            }
        }
    }
}

impl Iterator for CertEvents {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        let i = self
            .files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.head.as_ref().map(|e| (e.ts.timestamp_micros(), &e.id, i)))
            .min()?
            .2;
        let e = self.files[i].head.take();
        self.advance(i);
        e
    }
}

fn convert(
    kind: Kind,
    cols: &[String],
    rec: &csv::StringRecord,
    offset: FixedOffset,
    company: &str,
) -> Result<Event, String> {
    let get = |name: &str| -> Option<&str> {
        cols.iter()
            .position(|c| c == name)
            .and_then(|i| rec.get(i))
            .map(str::trim)
    };
    let need = |name: &str| {
        get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("field `{name}`: missing"))
    };
    let id = need("id")?;
    let date = need("date")?;
    let ts = parse_cert_date(date)
        .map(|t| at_offset(t, offset))
        .ok_or_else(|| format!("field `date`: expected MM/DD/YYYY HH:MM:SS, found '{date}'"))?;
    // Some releases write users as DOMAIN/ID; the LDAP files use the ID.
    let user = need("user")?;
    let user = user.rsplit(['/', '\\']).next().unwrap_or(user).to_string();
    let action = match kind {
        Kind::Logon => match need("activity")?.to_ascii_lowercase().as_str() {
            "logon" => Action::Logon,
            "logoff" => Action::Logoff,
            other => Action::Other {
                name: format!("logon.{other}"),
            },
        },
        Kind::Device => Action::Other {
            name: format!("device.{}", need("activity")?.to_ascii_lowercase()),
        },
        Kind::File => Action::UsbWrite {
            bytes: get("content").map_or(0, |c| c.len() as u64),
            files: 1,
            doc: None,
        },
        Kind::Email => {
            let recipients = ["to", "cc", "bcc"]
                .iter()
                .filter_map(|c| get(c))
                .flat_map(|v| v.split(';'))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
                .collect::<Vec<_>>();
            let outside = recipients.iter().find(|d| d.as_str() != company);
            let size = get("size").unwrap_or("0");
            let bytes = size
                .parse::<u64>()
                .map_err(|_| format!("field `size`: expected a number, found '{size}'"))?;
            let att = get("attachments")
                .or(get("attachment_count"))
                .unwrap_or("0");
            let attachments = att
                .parse::<u64>()
                .unwrap_or_else(|_| att.split(';').filter(|s| !s.trim().is_empty()).count() as u64);
            Action::EmailSend {
                to_domain: outside.or(recipients.first()).cloned().unwrap_or_default(),
                external: outside.is_some(),
                bytes,
                attachments,
                doc: None,
                from_domain: None,
                recipients: None,
            }
        }
        Kind::Http => {
            let url = need("url")?;
            let host = url
                .split_once("://")
                .map_or(url, |(_, r)| r)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            Action::WebVisit {
                domain: host,
                url: Some(url.to_string()),
            }
        }
    };
    Ok(Event {
        id: format!("{}-{id}", kind.prefix()),
        ts,
        user,
        host: get("pc").filter(|p| !p.is_empty()).map(str::to_string),
        action,
        extra: Default::default(),
    })
}
