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
    /// Register exposure: entries opened by people without need to know
    /// (the folder permissions are wider than the register), with who may,
    /// how many did, since when and from which units. From the store's
    /// latest detection (`detect --from-store` records them), or computed
    /// over a dataset folder with --input.
    Exposure {
        /// Compute over this dataset folder instead of reading the store.
        #[arg(long, value_name = "DIR")]
        input: Option<std::path::PathBuf>,
        /// Only the entries whose permissions are wrong (opened without need
        /// to know by several people).
        #[arg(long)]
        exposed: bool,
        /// Also list the people who opened each (user ids).
        #[arg(long)]
        people: bool,
        #[arg(long)]
        json: bool,
    },
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
    /// Put an entry's content in custody: sealed with the content key
    /// (CUSTODIAN_CONTENT_KEY_FILE, default custodian-content.key, created
    /// 0600 on first use); only ciphertext is stored. The attachment is a
    /// ledgered register change carrying the content's SHA-256.
    Attach {
        doc: String,
        /// The content: a PDF, Markdown or plain text.
        file: std::path::PathBuf,
        /// Who attaches it (recorded in the register's history).
        #[arg(long = "as", value_name = "ACTOR")]
        actor: String,
    },
    /// What custody holds for an entry (never the content itself).
    Content {
        doc: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-seal every content under a new key (key rotation). Afterwards,
    /// point CUSTODIAN_CONTENT_KEY_FILE at the new key and keep the old one
    /// offline.
    RotateKey {
        /// The new key file (created 0600 if it does not exist).
        #[arg(long, value_name = "FILE")]
        new_key: std::path::PathBuf,
        #[arg(long = "as", value_name = "ACTOR")]
        actor: String,
    },
}

fn media_type(path: &std::path::Path, bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if path
        .extension()
        .is_some_and(|e| e == "md" || e == "markdown")
    {
        "text/markdown"
    } else {
        "text/plain"
    }
}

/// Loads the content key, creating it (mode 0600) if the file is missing.
pub fn content_key(path: &std::path::Path) -> Result<custodian_broker::ContentKey> {
    use anyhow::Context as _;
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the content key {}", path.display()))?;
        return custodian_broker::ContentKey::from_text(&text)
            .with_context(|| format!("{}", path.display()));
    }
    let key = custodian_broker::ContentKey::generate();
    let mut f = super::create_private(path)
        .with_context(|| format!("cannot create the content key {}", path.display()))?;
    use std::io::Write as _;
    writeln!(f, "{}", key.to_text())?;
    eprintln!(
        "created the content key {} (key id {}); keep it safe and backed up",
        path.display(),
        key.id()
    );
    Ok(key)
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
        Cmd::Exposure {
            input,
            exposed,
            people,
            json,
        } => {
            let mut findings: Vec<custodian_detect::DocExposure> = match input {
                Some(dir) => {
                    let (_, summary) = super::detect::detect_folder(
                        settings,
                        &dir,
                        super::detect::Format::Interchange,
                        &super::detect::FolderOptions {
                            show_progress: !json,
                            ..Default::default()
                        },
                    )?;
                    summary.exposures
                }
                None => custodian_app::exposure::current(store, None)
                    .await?
                    .into_iter()
                    .map(|(f, _)| f)
                    .collect(),
            };
            findings.retain(|f| f.exposed || !exposed);
            if !people {
                for f in &mut findings {
                    f.people.clear();
                }
            }
            if json {
                crate::output::json(&findings)?;
            } else {
                print_exposure(&findings, people);
            }
        }
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
        Cmd::Attach { doc, file, actor } => {
            if store.document(&doc).await?.is_none() {
                bail!("no register entry '{doc}'");
            }
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let key = content_key(&settings.content_key_file)?;
            let sealed = key.seal(&doc, &bytes, media_type(&file, &bytes));
            let old = store.content(&doc).await?.map(|c| c.sha256);
            let change = RegisterChange {
                doc_id: doc.clone(),
                at: crate::clock::now(),
                actor,
                field: "content".into(),
                old,
                new: format!(
                    "sha256:{} {} bytes {}",
                    sealed.sha256, sealed.size, sealed.media_type
                ),
            };
            let ledger = super::ledger::context(settings)?;
            store.put_content(&sealed, &change, &ledger).await?;
            println!(
                "{doc}: content in custody, {} bytes {}, sha256 {}, sealed with key {}",
                sealed.size, sealed.media_type, sealed.sha256, sealed.key_id
            );
        }
        Cmd::Content { doc, json } => {
            let Some(c) = store.content(&doc).await? else {
                bail!("no content in custody for '{doc}'");
            };
            let info = serde_json::json!({
                "doc": c.doc_id, "media_type": c.media_type, "size": c.size,
                "sha256": c.sha256, "key_id": c.key_id, "ciphertext_bytes": c.ciphertext.len(),
            });
            if json {
                crate::output::json(&info)?;
            } else {
                println!(
                    "{}: {} bytes {}, sha256 {}, sealed with key {}",
                    c.doc_id, c.size, c.media_type, c.sha256, c.key_id
                );
            }
        }
        Cmd::RotateKey { new_key, actor } => {
            let old = content_key(&settings.content_key_file)?;
            let new = content_key(&new_key)?;
            if new.id() == old.id() {
                bail!("the new key is the key in use");
            }
            let ledger = super::ledger::context(settings)?;
            let mut n = 0;
            for (doc, key_id) in store.content_keys().await? {
                if key_id == new.id() {
                    continue; // done by an earlier, interrupted rotation
                }
                let Some(sealed) = store.content(&doc).await? else {
                    continue;
                };
                let resealed = custodian_broker::reseal(&sealed, &old, &new)?;
                let change = RegisterChange {
                    doc_id: doc.clone(),
                    at: crate::clock::now(),
                    actor: actor.clone(),
                    field: "content-key".into(),
                    old: Some(old.id().to_string()),
                    new: new.id().to_string(),
                };
                store.put_content(&resealed, &change, &ledger).await?;
                n += 1;
            }
            println!(
                "re-sealed {n} contents under key {}; now set CUSTODIAN_CONTENT_KEY_FILE={} and keep the old key {} offline",
                new.id(),
                new_key.display(),
                settings.content_key_file.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_exposure(findings: &[custodian_detect::DocExposure], people: bool) {
    if findings.is_empty() {
        println!("no register entry was opened without need to know");
        return;
    }
    let wrong = findings.iter().filter(|f| f.exposed).count();
    println!(
        "{} register entries opened without need to know; {wrong} by several people (their folder permissions are wider than the register: narrow them, or record who needs them)",
        findings.len()
    );
    println!(
        "{:<22} {:<13} {:>5} {:>5} {:>6}  {:<10} {:<10} {:<10} units",
        "document", "level", "may", "did", "opens", "owner", "since", "last"
    );
    for f in findings {
        let units: Vec<String> = f
            .units
            .iter()
            .take(4)
            .map(|(u, n)| format!("{u} ({n})"))
            .collect();
        println!(
            "{:<22} {:<13} {:>5} {:>5} {:>6}  {:<10} {:<10} {:<10} {}{}",
            f.doc,
            f.level.as_str(),
            f.may,
            f.did,
            f.opens,
            f.owner,
            f.since.format("%Y-%m-%d"),
            f.last.format("%Y-%m-%d"),
            units.join(", "),
            if f.exposed { "  EXPOSED" } else { "" }
        );
        if people && !f.people.is_empty() {
            println!("{:>24}{}", "", f.people.join(" "));
        }
    }
}
