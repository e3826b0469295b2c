//! `custodian check PERSON DOC [--at TIME]`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

use custodian_core::policy::{decide, PersonAt, RequestContext};
use custodian_store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    person: String,
    doc: String,
    /// When (RFC 3339, or YYYY-MM-DD for noon that day); default now.
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &dyn Store, args: Args) -> Result<ExitCode> {
    let Some(person) = store.person(&args.person).await? else {
        bail!("no person '{}' in the directory", args.person);
    };
    let Some(doc) = store.document(&args.doc).await? else {
        bail!("no register entry '{}'", args.doc);
    };
    let at = match &args.at {
        Some(s) => super::parse_time(s)?,
        None => crate::clock::now(),
    };
    let hr = store.hr_events_for(&person.user_id).await?;
    let who = PersonAt::reconstruct(&person, &hr, at.to_utc());
    let decision = decide(&who, &doc, &RequestContext::default());
    if args.json {
        crate::output::json(&json!({
            "person": person.user_id,
            "document": doc.doc_id,
            "at": at.to_rfc3339(),
            "projects_at_time": who.projects,
            "result": decision,
            "explanation": decision.to_string(),
        }))?;
    } else {
        println!(
            "{} -> {} ({}) at {}",
            person.user_id,
            doc.doc_id,
            doc.classification,
            at.to_rfc3339()
        );
        println!("{decision}");
    }
    Ok(ExitCode::SUCCESS)
}
