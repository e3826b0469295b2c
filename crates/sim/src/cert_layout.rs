//! Writing a simulated company in the layout of the CERT Insider Threat
//! Test Dataset r4.2, as its public release notes describe it, so the CERT
//! reader and detection without a register are exercised end to end.
//!
//! Rules of the mapping:
//! - `logon.csv`, `device.csv`, `file.csv`, `email.csv`, `http.csv` with the
//!   release's columns; ids in braces; users as `DTAA/ID`; dates as
//!   `MM/DD/YYYY HH:MM:SS` in local wall-clock time without an offset.
//! - Document events (views, downloads, prints, searches, refusals) have no
//!   CERT file and are not written: CERT has no register.
//! - A `usb.write` of N files is N rows of `file.csv`; `content` is a hex
//!   file header and keywords (its length is not the file's size).
//! - Mail: `to`/`cc` hold as many addresses as the event's recipients,
//!   `from` is the work address or the personal one, `size` excludes
//!   attachments, `attachments` is a count.
//! - `LDAP/YYYY-MM.csv` lists the people employed at the end of that month,
//!   from the month before the data starts; a person who leaves during a
//!   month is missing from its file. Department heads (no manager) have an
//!   empty department and team, as in the release; `supervisor` is the
//!   manager's name.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use custodian_core::{Action, Event, Person};

use super::{Sink, UNITS};

const DOMAIN: &str = "dtaa.com";

type Out = csv::Writer<BufWriter<File>>;

pub(crate) struct CertSink {
    logon: Out,
    device: Out,
    file: Out,
    email: Out,
    http: Out,
    /// Work addresses, by user id, and all of them (for recipients).
    address: BTreeMap<String, String>,
    addresses: Vec<String>,
    rng: ChaCha8Rng,
}

fn writer(path: &Path, header: &[&str]) -> io::Result<Out> {
    let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 18, File::create(path)?));
    w.write_record(header).map_err(io::Error::other)?;
    Ok(w)
}

fn employee_name(p: &Person) -> String {
    format!("{} {}", p.name, p.user_id.get(1..).unwrap_or(""))
}

fn month_end(first: NaiveDate) -> NaiveDate {
    let (y, m) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(first) - Duration::days(1)
}

impl CertSink {
    pub(crate) fn create(
        out: &Path,
        people: &[Person],
        units: &[usize],
        start: NaiveDate,
        days: u32,
    ) -> io::Result<CertSink> {
        let ldap = out.join("LDAP");
        std::fs::create_dir_all(&ldap)?;
        let by_id: BTreeMap<&str, &Person> =
            people.iter().map(|p| (p.user_id.as_str(), p)).collect();
        let end = start + Duration::days(i64::from(days.max(1)) - 1);
        let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(start)
            - Duration::days(1);
        month = NaiveDate::from_ymd_opt(month.year(), month.month(), 1).unwrap_or(month);
        let header = [
            "employee_name",
            "user_id",
            "email",
            "role",
            "business_unit",
            "functional_unit",
            "department",
            "team",
            "supervisor",
        ];
        while month <= end {
            let last = month_end(month);
            let mut w = writer(
                &ldap.join(format!("{}.csv", month.format("%Y-%m"))),
                &header,
            )?;
            for (p, &u) in people.iter().zip(units) {
                let employed = p.hire_date <= last && p.leave_date.is_none_or(|l| l > last);
                if !employed {
                    continue;
                }
                let boss = p.manager_id.as_deref().and_then(|m| by_id.get(m));
                let (department, team) = match boss {
                    Some(b) => (
                        UNITS[u].name.to_string(),
                        format!("{}-T{}", UNITS[u].name, b.user_id.len() % 3 + 1),
                    ),
                    None => (String::new(), String::new()),
                };
                w.write_record([
                    employee_name(p).as_str(),
                    &p.user_id,
                    &format!("{}@{DOMAIN}", p.user_id.to_lowercase()),
                    &p.role,
                    "1",
                    UNITS[u].function,
                    &department,
                    &team,
                    &boss.map(|b| employee_name(b)).unwrap_or_default(),
                ])
                .map_err(io::Error::other)?;
            }
            w.flush()?;
            month = last + Duration::days(1);
        }
        let address: BTreeMap<String, String> = people
            .iter()
            .map(|p| {
                (
                    p.user_id.clone(),
                    format!("{}@{DOMAIN}", p.user_id.to_lowercase()),
                )
            })
            .collect();
        let addresses = address.values().cloned().collect();
        let activity = ["id", "date", "user", "pc", "activity"];
        Ok(CertSink {
            logon: writer(&out.join("logon.csv"), &activity)?,
            device: writer(&out.join("device.csv"), &activity)?,
            file: writer(
                &out.join("file.csv"),
                &["id", "date", "user", "pc", "filename", "content"],
            )?,
            email: writer(
                &out.join("email.csv"),
                &[
                    "id",
                    "date",
                    "user",
                    "pc",
                    "to",
                    "cc",
                    "bcc",
                    "from",
                    "size",
                    "attachments",
                    "content",
                ],
            )?,
            http: writer(
                &out.join("http.csv"),
                &["id", "date", "user", "pc", "url", "content"],
            )?,
            address,
            addresses,
            rng: ChaCha8Rng::seed_from_u64(days as u64 ^ 0x0c3e_7f42),
        })
    }

    fn colleague(&mut self) -> String {
        let i = self.rng.gen_range(0..self.addresses.len().max(1));
        self.addresses.get(i).cloned().unwrap_or_default()
    }
}

const WORDS: [&str; 12] = [
    "project", "schedule", "report", "meeting", "design", "budget", "review", "customer",
    "quality", "release", "test", "plan",
];

impl Sink for CertSink {
    fn event(&mut self, e: &Event) -> io::Result<()> {
        let id = format!("{{{}}}", e.id.to_uppercase());
        let date = e.ts.naive_local().format("%m/%d/%Y %H:%M:%S").to_string();
        let user = format!("DTAA/{}", e.user);
        let pc = e.host.clone().unwrap_or_default();
        let row = |w: &mut Out, rest: &[&str]| -> io::Result<()> {
            let mut r: Vec<&str> = vec![&id, &date, &user, &pc];
            r.extend_from_slice(rest);
            w.write_record(&r).map_err(io::Error::other)
        };
        let word = |k: usize| WORDS[k % WORDS.len()];
        match &e.action {
            Action::Logon => row(&mut self.logon, &["Logon"]),
            Action::Logoff => row(&mut self.logon, &["Logoff"]),
            Action::Other { name } if name == "device.connect" => {
                row(&mut self.device, &["Connect"])
            }
            Action::Other { name } if name == "device.disconnect" => {
                row(&mut self.device, &["Disconnect"])
            }
            Action::UsbWrite { files, .. } => {
                for k in 0..(*files).clamp(1, 50) {
                    let n = self.rng.gen_range(0..WORDS.len());
                    let ext = ["doc", "pdf", "xls", "zip", "jpg"][(n + k as usize) % 5];
                    let name = format!("R:\\{}_{}.{ext}", word(n), k + 1);
                    let content = format!(
                        "D0-CF-11-E0-A1-B1-1A-E1 {} {} {}",
                        word(n + 1),
                        word(n + 5),
                        word(n + 7)
                    );
                    self.file
                        .write_record([&id, &date, &user, &pc, &name, &content])
                        .map_err(io::Error::other)?;
                }
                Ok(())
            }
            Action::EmailSend {
                to_domain,
                external,
                bytes,
                attachments,
                from_domain,
                recipients,
                ..
            } => {
                let mut to = Vec::new();
                if *external {
                    to.push(format!("contact{}@{to_domain}", bytes % 7));
                }
                let n = recipients.unwrap_or(1).max(1) as usize;
                while to.len() < n.min(500) {
                    to.push(self.colleague());
                }
                let split = to.len().div_ceil(2).max(1);
                let (t, c) = to.split_at(split.min(to.len()));
                let from = match from_domain {
                    Some(d) => format!("{}@{d}", e.user.to_lowercase()),
                    None => self.address.get(&e.user).cloned().unwrap_or_default(),
                };
                let size = (bytes / (1 + attachments)).clamp(1_000, 90_000).to_string();
                let n = self.rng.gen_range(0..WORDS.len());
                let content = format!("{} {} {}", word(n), word(n + 3), word(n + 8));
                self.email
                    .write_record([
                        id.as_str(),
                        &date,
                        &user,
                        &pc,
                        &t.join(";"),
                        &c.join(";"),
                        "",
                        &from,
                        &size,
                        &attachments.to_string(),
                        &content,
                    ])
                    .map_err(io::Error::other)
            }
            Action::WebVisit { domain, url } => {
                let url = url.clone().unwrap_or_else(|| format!("http://{domain}/"));
                let n = self.rng.gen_range(0..WORDS.len());
                let content = format!("{} {} {}", word(n), word(n + 2), word(n + 4));
                row(&mut self.http, &[&url, &content])
            }
            Action::WebUpload { domain, .. } => {
                // r4.2's http.csv has visits only.
                let url = format!("http://{domain}/upload");
                row(&mut self.http, &[&url, "upload"])
            }
            _ => Ok(()),
        }
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        for w in [
            &mut self.logon,
            &mut self.device,
            &mut self.file,
            &mut self.email,
            &mut self.http,
        ] {
            w.flush()?;
        }
        Ok(())
    }
}
