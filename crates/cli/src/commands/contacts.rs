//! `custodian contacts`: contact reports grouped by the approacher they
//! describe (detection's linking: names given in full or in part, phone
//! numbers with or without country code or missing, e-mail, nationality,
//! affiliation, how and when they met), with each group's members and
//! dates. Groups of two or more reports raise the "approached by an
//! outsider" context in detection.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::{json, Value};

use custodian_store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list reports that no other report describes.
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &dyn Store, args: Args) -> Result<ExitCode> {
    let (reports, mut groups) = custodian_app::cases::contact_groups(store).await?;
    groups.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(b.last_reported.cmp(&a.last_reported))
    });
    let shown: Vec<_> = groups
        .iter()
        .filter(|g| args.all || g.members.len() >= 2)
        .collect();
    if args.json {
        let v: Vec<Value> = shown
            .iter()
            .map(|g| {
                json!({
                    "name": g.name, "reports": g.members.len(), "reporters": g.reporters,
                    "first_met": g.first_met.map(|d| d.to_string()),
                    "last_reported": g.last_reported.to_rfc3339(),
                    "members": g.members.iter().map(|&i| {
                        let r = &reports[i];
                        json!({"id": r.id, "reported_at": r.reported_at.to_rfc3339(), "reporter": r.reporter,
                               "met_on": r.met_on.map(|d| d.to_string()), "place": r.place,
                               "approach": r.approach.as_str(), "counterpart": r.counterpart,
                               "meetings": r.meetings, "gifts_jpy": r.gifts_jpy, "requests": r.requests})
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::output::json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        println!(
            "{} contact reports; none describes the same person as another",
            reports.len()
        );
    }
    for g in shown {
        println!(
            "{} — {} reports by {} people ({}), first met {}, last reported {}",
            g.name.as_deref().unwrap_or("(no name given)"),
            g.members.len(),
            g.reporters.len(),
            g.reporters.join(", "),
            g.first_met.map_or("?".to_string(), |d| d.to_string()),
            g.last_reported.format("%Y-%m-%d")
        );
        for &i in &g.members {
            let r = &reports[i];
            let c = &r.counterpart;
            println!(
                "  {} {} at {} ({}): {} {} {} {}; {} meetings, ¥{}{}",
                r.reported_at.format("%Y-%m-%d"),
                r.reporter,
                r.place,
                r.approach.as_str(),
                c.claimed_name.as_deref().unwrap_or("-"),
                c.claimed_nationality.as_deref().unwrap_or(""),
                c.claimed_affiliation.as_deref().unwrap_or(""),
                c.phone.as_deref().unwrap_or(""),
                r.meetings,
                r.gifts_jpy,
                if r.requests.is_empty() {
                    String::new()
                } else {
                    format!("; asked for {}", r.requests.join(", "))
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
