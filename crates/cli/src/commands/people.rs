//! `custodian people list|show`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

use custodian_core::model::join_projects;
use custodian_core::policy::PersonAt;
use custodian_store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// List the directory.
    List {
        /// Only this org unit.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One person: directory entry, HR events, need to know now, recent activity.
    Show {
        person: String,
        /// How many recent events to show.
        #[arg(long, default_value_t = 15)]
        events: u32,
        #[arg(long)]
        json: bool,
    },
    /// Record that a person acknowledged the secrecy policy (ledgered; part
    /// of the "managed as secret" evidence, and required before their first
    /// confidential or secret copy).
    Acknowledge {
        person: String,
        /// The policy's version, e.g. 2026-04.
        #[arg(long)]
        policy: String,
    },
}

pub async fn run(
    settings: &crate::settings::Settings,
    store: &dyn Store,
    cmd: Cmd,
) -> Result<ExitCode> {
    match cmd {
        Cmd::Acknowledge { person, policy } => {
            return super::copy::acknowledge(settings, store, &person, &policy).await;
        }
        Cmd::List { unit, json } => {
            let people: Vec<_> = store
                .people()
                .await?
                .into_iter()
                .filter(|p| unit.as_ref().is_none_or(|u| &p.org_unit == u))
                .collect();
            if json {
                crate::output::json(&people)?;
            } else {
                let rows: Vec<_> = people
                    .iter()
                    .map(|p| {
                        vec![
                            p.user_id.clone(),
                            p.name.clone(),
                            p.org_unit.clone(),
                            p.role.clone(),
                            p.clearance.to_string(),
                            join_projects(&p.projects),
                            p.leave_date.map(|d| d.to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                crate::output::table(
                    &[
                        "USER",
                        "NAME",
                        "UNIT",
                        "ROLE",
                        "CLEARANCE",
                        "PROJECTS",
                        "LEAVES",
                    ],
                    &rows,
                )?;
            }
        }
        Cmd::Show {
            person,
            events,
            json,
        } => {
            let Some(p) = store.person(&person).await? else {
                bail!("no person '{person}' in the directory");
            };
            let hr = store.hr_events_for(&person).await?;
            let recent = store.recent_events_for(&person, events).await?;
            let now = crate::clock::now().to_utc();
            let at_now = PersonAt::reconstruct(&p, &hr, now);
            let owned: Vec<String> = store
                .documents()
                .await?
                .into_iter()
                .filter(|d| d.owner_id == person)
                .map(|d| d.doc_id)
                .collect();
            if json {
                crate::output::json(&json!({
                    "person": p,
                    "now": at_now,
                    "hr_events": hr,
                    "owns": owned,
                    "recent_events": recent,
                }))?;
            } else {
                println!("{}  {}", p.user_id, p.name);
                println!("  unit       {} ({}), {}", p.org_unit, p.site, p.role);
                println!("  email      {}", p.email);
                println!("  manager    {}", p.manager_id.as_deref().unwrap_or("-"));
                println!("  clearance  {}", p.clearance);
                println!("  projects   {}", join_projects(&at_now.projects));
                println!("  hired      {}", p.hire_date);
                if let Some(l) = p.leave_date {
                    println!("  leaves     {l}");
                }
                println!("  employment now: {:?}", at_now.employment);
                if !owned.is_empty() {
                    println!("  owns       {}", owned.join(", "));
                }
                println!("  HR events:");
                for e in &hr {
                    println!("    {}  {}", e.ts.to_rfc3339(), e.kind.name());
                }
                println!("  recent activity (newest first):");
                for e in &recent {
                    println!(
                        "    {}  {:<13} {}",
                        e.ts.to_rfc3339(),
                        e.action,
                        e.doc.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
