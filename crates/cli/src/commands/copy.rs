//! The broker on the command line: `people acknowledge`, `copy approve`,
//! `copy issue`, `copy list` and `trace`. The rules are
//! `custodian_app::custody` and `custodian_app::trace`'s; this file loads
//! the keys, reads the clock, calls them and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use custodian_app::custody::{self, CopyOutcome, CopyRequest, Keys};
use custodian_core::policy::{Decision, DenyReason};
use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Record a document owner's approval for one person (needed for secret).
    Approve {
        doc: String,
        #[arg(long = "for", value_name = "PERSON")]
        for_user: String,
        #[arg(long = "by", value_name = "OWNER")]
        by: String,
    },
    /// Issue a traceable copy: decided by policy, fingerprinted per
    /// recipient, recorded in the ledger.
    Issue {
        doc: String,
        #[arg(long = "to", value_name = "PERSON")]
        to: String,
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// For Markdown and text contents: `pdf` (Custodian typesets the
        /// copy) or `text`. Default: `pdf` when FILE ends in .pdf, else
        /// `text`. PDF contents are always issued as PDF.
        #[arg(long, value_parser = ["pdf", "text"])]
        format: Option<String>,
    },
    /// The copies issued (and refused) for a document.
    List { doc: String },
}

/// The keys custody works with: the content key, and the key codewords
/// are derived from (its own file, so rotating the content key does not
/// change anyone's fingerprint).
fn keys(settings: &Settings) -> Result<Keys> {
    let path = settings.content_key_file.with_file_name(
        std::env::var("CUSTODIAN_FINGERPRINT_KEY_FILE")
            .unwrap_or_else(|_| "custodian-fingerprint.key".into()),
    );
    Ok(Keys {
        content: super::register::content_key(&settings.content_key_file)?,
        fingerprint: super::register::content_key(&path)?,
    })
}

pub async fn acknowledge(
    settings: &Settings,
    store: &dyn Store,
    person: &str,
    policy: &str,
) -> Result<ExitCode> {
    let ledger = super::ledger::context(settings)?;
    let r = custody::acknowledge(store, &ledger, crate::clock::now(), person, policy).await?;
    println!(
        "{person} acknowledged the secrecy policy {policy} (record {})",
        r.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run(settings: &Settings, store: &dyn Store, cmd: Cmd) -> Result<ExitCode> {
    let ledger = super::ledger::context(settings)?;
    match cmd {
        Cmd::Approve { doc, for_user, by } => {
            let at = crate::clock::now();
            let r = custody::approve(store, &ledger, at, &doc, &for_user, &by).await?;
            println!("{by} approved {for_user} for {doc} (record {})", r.id);
        }
        Cmd::List { doc } => {
            for r in custody::copies(store, &doc).await? {
                println!(
                    "{:<8} {} {} {}",
                    r.kind,
                    r.at.format("%Y-%m-%d %H:%M"),
                    r.user_id,
                    r.body
                );
            }
        }
        Cmd::Issue {
            doc,
            to,
            purpose,
            out,
            format,
        } => {
            let typeset = match format.as_deref() {
                Some(f) => f == "pdf",
                None => out
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("pdf")),
            };
            let req = CopyRequest {
                doc,
                to,
                purpose,
                typeset,
            };
            let keys = keys(settings)?;
            let at = crate::clock::now();
            match custody::issue(store, &ledger, &keys, &settings.marking, at, &req).await? {
                CopyOutcome::Refused { decision, record } => {
                    let hint = match &decision {
                        Decision::Deny {
                            reason: DenyReason::NotAcknowledged { user },
                        } => format!(" (custodian people acknowledge {user} --policy VERSION)"),
                        _ => String::new(),
                    };
                    eprintln!("refused: {decision}{hint} (recorded as {})", record.id);
                    return Ok(ExitCode::from(4));
                }
                CopyOutcome::Issued(c) => {
                    super::write_private(&out, &c.bytes)?;
                    println!(
                        "issued {} of {} to {} into {} ({} positions carry its fingerprint; ledger record {})",
                        c.copy_id,
                        req.doc,
                        req.to,
                        out.display(),
                        c.sites,
                        c.record.id
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// A leaked copy: a PDF; text (pasted out of a copy, retyped, OCR'd);
    /// or a scan or photo of pages (PNG/JPEG: the QR code of the mark, and
    /// the wording of typeset copies by Tesseract OCR).
    file: PathBuf,
    /// The false-accusation bound for the case.
    #[arg(long, default_value_t = 1e-6)]
    epsilon: f64,
    #[arg(long)]
    json: bool,
}

pub async fn trace(settings: &Settings, store: &dyn Store, args: TraceArgs) -> Result<ExitCode> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if meta.len() > custodian_app::trace::MAX_TRACE_BYTES {
        bail!(
            "{} is {} bytes; tracing reads at most {}",
            args.file.display(),
            meta.len(),
            custodian_app::trace::MAX_TRACE_BYTES
        );
    }
    let bytes = std::fs::read(&args.file)?;
    let keys = keys(settings)?;
    let file = args.file.display().to_string();
    let report = custodian_app::trace::trace(store, &keys, &file, &bytes, args.epsilon).await?;
    if args.json {
        crate::output::json(&report)?;
    } else {
        if let Some(e) = report["hint"].as_object() {
            let st = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            println!(
                "hint: the file's {} is that of copy {} of {} issued to {} ({}); a token can be copied from one copy into another, so it says which copy to check, not who leaked",
                st("source"),
                st("copy_id"),
                st("doc"),
                st("recipient"),
                if e.get("token_valid") == Some(&json!(true)) {
                    "its tag is valid"
                } else {
                    "FORGED: its tag does not match"
                }
            );
            println!(
                "{}",
                match st("fingerprint").as_str() {
                    "agrees" => "the fingerprint names the same recipient".to_string(),
                    "contradicts" => "TRANSPLANT: the fingerprint names someone else (below); the token is not evidence".to_string(),
                    _ => "the fingerprint on its own names nobody: the token alone accuses no one".to_string(),
                }
            );
        }
        for a in report["accused"].as_array().into_iter().flatten() {
            let st = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            println!(
                "accused: {} (copy {} of {}), score {:.1} from {} sites; an innocent reaches it with probability ≤ {:.2e}, × recipients = {:.2e} < ε; ledger proof of the copy: {}",
                st("recipient"), st("copy_id"), st("doc"), a["score"].as_f64().unwrap_or(0.0), a["sites_read"],
                a["innocent_tail"].as_f64().unwrap_or(1.0), a["case_bound"].as_f64().unwrap_or(1.0), st("proof")
            );
        }
        for n in report["notes"].as_array().into_iter().flatten() {
            println!("note: {}", n.as_str().unwrap_or_default());
        }
        if report["accused"].as_array().is_none_or(|a| a.is_empty()) {
            println!("nobody accused");
        }
    }
    Ok(ExitCode::SUCCESS)
}
