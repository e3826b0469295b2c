//! Cases opened from alerts, and the evidence bundle for the police.
//!
//! Every case action (open, assign, note, status) is a custody record, so it
//! is a ledger entry. `case export` writes a zip an outsider checks with
//! `custodian bundle verify` and no store: the records behind the case (the
//! alert, the events it cites, the case's actions, and for each document
//! involved its register history, approvals, the subject's acknowledgements
//! and copies), each with its inclusion proof against one signed checkpoint,
//! the public key, a timeline, a readable report (HTML and PDF) and a
//! SHA-256 manifest of every file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use custodian_app::cases;
use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Open a case from an alert.
    Open {
        alert: String,
        #[arg(long, value_name = "ANALYST")]
        by: String,
    },
    /// Assign a case to an analyst.
    Assign {
        case: String,
        #[arg(long, value_name = "ANALYST")]
        to: String,
        #[arg(long, value_name = "ANALYST")]
        by: String,
    },
    /// Add a note to a case.
    Note {
        case: String,
        text: String,
        #[arg(long, value_name = "ANALYST")]
        by: String,
    },
    /// Close or reopen a case.
    Status {
        case: String,
        #[arg(long, value_parser = ["open", "closed"])]
        set: String,
        #[arg(long, value_name = "ANALYST")]
        by: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// A case's actions and state.
    Show {
        case: String,
        #[arg(long)]
        json: bool,
    },
    /// Cases and their state.
    List,
    /// The evidence bundle: a zip that verifies itself offline
    /// (`custodian bundle verify`).
    Export {
        case: String,
        #[arg(long, value_name = "FILE.zip")]
        out: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// How many (highest score first).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

/// The stored alerts, highest score first.
pub async fn alerts(store: &dyn Store, args: AlertsArgs) -> Result<ExitCode> {
    let list = cases::ranked_alerts(store, args.limit as usize).await?;
    if args.json {
        crate::output::json(&list.iter().map(cases::alert_json).collect::<Vec<_>>())?;
    } else {
        for a in &list {
            let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
            println!(
                "{}  {:<6} {:>5.1}  {}  {}  {}",
                a.id,
                a.severity,
                a.score,
                a.user,
                a.raised_at.format("%Y-%m-%d"),
                body["summary"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum BundleCmd {
    /// Check an evidence bundle offline, with no store: every file against
    /// the manifest, every record's inclusion proof against the signed
    /// checkpoint, the timeline against the proven records.
    Verify {
        file: PathBuf,
        /// The company's published ledger key (verifier-key text or a file
        /// holding it); without it the bundle's own key is used and the
        /// report says so.
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, store: &dyn Store, cmd: Cmd) -> Result<ExitCode> {
    let ledger = super::ledger::context(settings)?;
    let now = crate::clock::now();
    match cmd {
        Cmd::Open { alert, by } => {
            let o = cases::open(store, &ledger, now, &alert, &by).await?;
            let (case, user, record) = (&o.case, &o.alert.user, &o.record.id);
            if o.new {
                println!("opened {case} from alert {alert} on {user} (record {record})");
            } else {
                println!("alert {alert} has a case already: {case} (record {record})");
            }
        }
        Cmd::Assign { case, to, by } => {
            let r = cases::apply(
                store,
                &ledger,
                now,
                &case,
                cases::CaseAction::Assign { to: to.clone() },
                &by,
            )
            .await?;
            println!("{case} assigned to {to} (record {})", r.id);
        }
        Cmd::Note { case, text, by } => {
            let r = cases::apply(
                store,
                &ledger,
                now,
                &case,
                cases::CaseAction::Note { text },
                &by,
            )
            .await?;
            println!("note added to {case} (record {})", r.id);
        }
        Cmd::Status {
            case,
            set,
            by,
            reason,
        } => {
            let action = cases::CaseAction::Status {
                status: set.clone(),
                reason,
            };
            let r = cases::apply(store, &ledger, now, &case, action, &by).await?;
            println!("{case} is now {set} (record {})", r.id);
        }
        Cmd::Show { case, json } => {
            let (a, st) = cases::existing(store, &case).await?;
            if json {
                let list: Vec<Value> = a
                    .iter()
                    .map(|(r, v)| json!({"record": r.id, "body": v}))
                    .collect();
                crate::output::json(&json!({"case": case, "state": st, "actions": list}))?;
            } else {
                println!(
                    "{case}: {} — subject {}, alert {}, assignee {}",
                    st["status"].as_str().unwrap_or("?"),
                    st["subject"].as_str().unwrap_or("?"),
                    st["alert"].as_str().unwrap_or("?"),
                    st["assignee"].as_str().unwrap_or("nobody")
                );
                for (r, v) in &a {
                    println!(
                        "  {} {:<7} by {:<10} {}",
                        r.at.format("%Y-%m-%d %H:%M"),
                        v["action"].as_str().unwrap_or("?"),
                        v["by"].as_str().unwrap_or("?"),
                        v["text"]
                            .as_str()
                            .or(v["to"].as_str())
                            .or(v["status"].as_str())
                            .unwrap_or("")
                    );
                }
            }
        }
        Cmd::List => {
            for (id, st) in cases::list(store).await? {
                println!(
                    "{id}  {:<6} subject {:<8} alert {} assignee {}",
                    st["status"].as_str().unwrap_or("?"),
                    st["subject"].as_str().unwrap_or("?"),
                    st["alert"].as_str().unwrap_or("?"),
                    st["assignee"].as_str().unwrap_or("nobody")
                );
            }
        }
        Cmd::Export { case, out } => {
            let e = cases::export(store, &ledger, now, &case).await?;
            super::write_private(&out, &e.zip)?;
            println!(
                "wrote {} ({} records with inclusion proofs, {} documents' secrecy records, report in HTML and PDF)",
                out.display(),
                e.records,
                e.documents
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_bundle(cmd: &BundleCmd) -> Result<ExitCode> {
    let BundleCmd::Verify { file, key, json } = cmd;
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    match cases::verify_bundle(f, key.as_deref()) {
        Ok(report) => {
            if *json {
                crate::output::json(&report)?;
            } else {
                println!("VERIFIED: {}", report["summary"].as_str().unwrap_or(""));
                for n in report["not_proven"].as_array().into_iter().flatten() {
                    println!("  not proven: {}", n.as_str().unwrap_or(""));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if *json {
                crate::output::json(&json!({"verified": false, "error": format!("{e:#}")}))?;
            } else {
                eprintln!("NOT VERIFIED: {e:#}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
