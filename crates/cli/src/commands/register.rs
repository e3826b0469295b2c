//! `custodian register list|show|add|set-level`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

use custodian_core::model::split_projects;
use custodian_core::policy::{decide, PersonAt, RequestContext};
use custodian_core::{Document, Level, Medium, Projects};
use custodian_store::{RegisterChange, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// List register entries.
    List {
        /// Only this level.
        #[arg(long)]
        level: Option<Level>,
        #[arg(long)]
        json: bool,
    },
    /// One entry: its classification, history, and who may open it now.
    Show {
        doc: String,
        #[arg(long)]
        json: bool,
    },
    /// Designate a new entry.
    Add {
        /// Unique id.
        #[arg(long)]
        id: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        level: Level,
        /// The owner's user id.
        #[arg(long)]
        owner: String,
        /// `;`-separated need-to-know groups, or `*` for everyone.
        #[arg(long, default_value = "")]
        projects: String,
        #[arg(long, default_value = "document")]
        kind: String,
        /// Knowledge with no file (e.g. a plan briefed at meetings).
        #[arg(long)]
        knowledge: bool,
        /// Who designates it (recorded in the register's history).
        #[arg(long = "as", value_name = "ACTOR")]
        actor: String,
    },
    /// Change an entry's classification.
    SetLevel {
        doc: String,
        level: Level,
        /// Who changes it (recorded in the register's history).
        #[arg(long = "as", value_name = "ACTOR")]
        actor: String,
    },
}

fn row(d: &Document) -> Vec<String> {
    vec![
        d.doc_id.clone(),
        d.classification.to_string(),
        d.owner_id.clone(),
        d.projects.to_field(),
        d.kind.clone(),
        d.title.clone(),
    ]
}

pub async fn run(
    settings: &crate::settings::Settings,
    store: &dyn Store,
    cmd: Cmd,
) -> Result<ExitCode> {
    match cmd {
        Cmd::List { level, json } => {
            let docs: Vec<_> = store
                .documents()
                .await?
                .into_iter()
                .filter(|d| level.is_none_or(|l| d.classification == l))
                .collect();
            if json {
                crate::output::json(&docs)?;
            } else {
                let rows: Vec<_> = docs.iter().map(row).collect();
                crate::output::table(
                    &["DOC", "LEVEL", "OWNER", "PROJECTS", "KIND", "TITLE"],
                    &rows,
                )?;
            }
        }
        Cmd::Show { doc, json } => {
            let Some(d) = store.document(&doc).await? else {
                bail!("no register entry '{doc}'");
            };
            let history = store.register_history(&doc).await?;
            let now = crate::clock::now().to_utc();
            let people = store.people().await?;
            let mut may_open = Vec::new();
            for p in &people {
                let hr = store.hr_events_for(&p.user_id).await?;
                let who = PersonAt::reconstruct(p, &hr, now);
                if decide(&who, &d, &RequestContext::default()).is_allow() {
                    may_open.push(p.user_id.clone());
                }
            }
            if json {
                crate::output::json(&json!({
                    "document": d,
                    "history": history,
                    "may_open_now": may_open,
                }))?;
            } else {
                println!("{}  {}", d.doc_id, d.title);
                println!("  level      {}", d.classification);
                println!("  owner      {}", d.owner_id);
                println!("  projects   {}", d.projects.to_field());
                println!("  kind       {} ({})", d.kind, d.medium.as_str());
                println!("  created    {}", d.created);
                println!(
                    "  may open now: {} of {} people",
                    may_open.len(),
                    people.len()
                );
                println!("  history:");
                for h in &history {
                    println!(
                        "    {}  {:<10} {} -> {}  by {}",
                        h.at.to_rfc3339(),
                        h.field,
                        h.old.as_deref().unwrap_or("-"),
                        h.new,
                        h.actor
                    );
                }
            }
        }
        Cmd::Add {
            id,
            title,
            level,
            owner,
            projects,
            kind,
            knowledge,
            actor,
        } => {
            if store.document(&id).await?.is_some() {
                bail!("register entry '{id}' already exists (use set-level to change it)");
            }
            if store.person(&owner).await?.is_none() {
                bail!("no person '{owner}' in the directory to own '{id}'");
            }
            let now = crate::clock::now();
            let projects = if projects.trim() == "*" {
                Projects::Everyone
            } else {
                Projects::Groups(split_projects(&projects))
            };
            if level.needs_need_to_know() && projects == Projects::Groups(Default::default()) {
                bail!("a {level} entry needs at least one project (or * for everyone)");
            }
            let d = Document {
                doc_id: id.clone(),
                title,
                classification: level,
                owner_id: owner,
                projects,
                kind,
                created: now.date_naive(),
                medium: if knowledge {
                    Medium::Knowledge
                } else {
                    Medium::File
                },
            };
            let change = RegisterChange {
                doc_id: id.clone(),
                at: now,
                actor,
                field: "designated".into(),
                old: None,
                new: level.to_string(),
            };
            let ledger = super::ledger::context(settings)?;
            store.put_documents(&[d], &[change], &ledger).await?;
            println!("designated {id} as {level}");
        }
        Cmd::SetLevel { doc, level, actor } => {
            let Some(mut d) = store.document(&doc).await? else {
                bail!("no register entry '{doc}'");
            };
            if d.classification == level {
                println!("{doc} is already {level}");
                return Ok(ExitCode::SUCCESS);
            }
            let change = RegisterChange {
                doc_id: doc.clone(),
                at: crate::clock::now(),
                actor,
                field: "level".into(),
                old: Some(d.classification.to_string()),
                new: level.to_string(),
            };
            let old = d.classification;
            d.classification = level;
            let ledger = super::ledger::context(settings)?;
            store.put_documents(&[d], &[change], &ledger).await?;
            println!("{doc}: {old} -> {level}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
