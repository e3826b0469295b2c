//! `custodian status`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: &Settings, store: &dyn Store, args: Args) -> Result<ExitCode> {
    let c = store.counts().await?;
    if args.json {
        crate::output::json(&json!({
            "store": {
                "backend": store.backend(),
                "location": store.location(),
                "configured_by": settings.store_source,
            },
            "config_file": settings.config_file.as_ref().map(|p| p.display().to_string()),
            "counts": c,
        }))?;
    } else {
        println!(
            "store            {} ({:?}, set by {:?})",
            store.location(),
            store.backend(),
            settings.store_source
        );
        if let Some(f) = &settings.config_file {
            println!("config file      {}", f.display());
        }
        println!("people           {}", c.people);
        println!("documents        {}", c.documents);
        println!("events           {}", c.events);
        println!("hr events        {}", c.hr_events);
        println!("contact reports  {}", c.contact_reports);
        println!("rejected lines   {}", c.rejected_lines);
        println!("register changes {}", c.register_changes);
    }
    Ok(ExitCode::SUCCESS)
}
