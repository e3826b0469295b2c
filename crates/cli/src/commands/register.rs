//! `custodian register`: list, show, add, set-level, attach, content,
//! rotate-key, exposure. The rules are `custodian_app::register`'s; this
//! file loads the key, reads the clock and prints.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

use custodian_core::{Document, Level};
use custodian_store::Store;

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
    Add(AddArgs),
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

/// `register add`: the new entry's fields.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Unique id.
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub level: Level,
    /// The owner's user id.
    #[arg(long)]
    pub owner: String,
    /// `;`-separated need-to-know groups, or `*` for everyone.
    #[arg(long, default_value = "")]
    pub projects: String,
    #[arg(long, default_value = "document")]
    pub kind: String,
    /// Knowledge with no file (e.g. a plan briefed at meetings).
    #[arg(long)]
    pub knowledge: bool,
    /// Who designates it (recorded in the register's history).
    #[arg(long = "as", value_name = "ACTOR")]
    pub actor: String,
}

impl From<AddArgs> for custodian_app::register::NewEntry {
    fn from(a: AddArgs) -> Self {
        Self {
            id: a.id,
            title: a.title,
            level: a.level,
            owner: a.owner,
            projects: a.projects,
            kind: a.kind,
            knowledge: a.knowledge,
            actor: a.actor,
        }
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
            let entry = custodian_app::register::show(store, &doc, crate::clock::now()).await?;
            let (d, history, may_open) = (&entry.document, &entry.history, &entry.may_open);
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
                    entry.people
                );
                println!("  history:");
                for h in history {
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
        Cmd::Add(args) => {
            let ledger = super::ledger::context(settings)?;
            let (id, level) = (args.id.clone(), args.level);
            custodian_app::register::designate(store, &ledger, crate::clock::now(), args.into())
                .await?;
            println!("designated {id} as {level}");
        }
        Cmd::SetLevel { doc, level, actor } => {
            let ledger = super::ledger::context(settings)?;
            let at = crate::clock::now();
            match custodian_app::register::set_level(store, &ledger, at, &doc, level, &actor)
                .await?
            {
                None => println!("{doc} is already {level}"),
                Some(old) => println!("{doc}: {old} -> {level}"),
            }
        }
        Cmd::Attach { doc, file, actor } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let key = content_key(&settings.content_key_file)?;
            let ledger = super::ledger::context(settings)?;
            let media = custodian_app::register::media_type(&file, &bytes);
            let at = crate::clock::now();
            let sealed = custodian_app::register::attach(
                store, &ledger, &key, at, &doc, &bytes, media, &actor,
            )
            .await?;
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
            let ledger = super::ledger::context(settings)?;
            let at = crate::clock::now();
            let n =
                custodian_app::register::rotate_key(store, &ledger, &old, &new, at, &actor).await?;
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
