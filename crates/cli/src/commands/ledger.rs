//! `custodian ledger …`: keys, status, full verification, proofs, tiles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::json;

use custodian_ledger::entry::ProofBundle;
use custodian_ledger::{NoteSigner, NoteVerifier};
use custodian_store::audit::{self, AuditError};
use custodian_store::{LedgerContext, Store};

use crate::settings::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Create the checkpoint signing key (the file is readable by its owner only).
    Keygen {
        /// Where to write it (default: ledger.key_file, custodian-ledger.key).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public (verifier) key that outsiders verify checkpoints with.
    Pubkey,
    /// The log's size, root and latest signed checkpoint.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the tree from every stored record and check every tile and signed checkpoint.
    Verify {
        /// Verifier key (text or a file holding it); default: from the signing key.
        #[arg(long)]
        key: Option<String>,
        /// A checkpoint kept outside the store (e.g. given to an auditor earlier):
        /// the log must extend it.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write a proof file for one record: the entry, its inclusion proof and the signed checkpoint.
    Prove {
        /// The record's id (an event id, an HR event id, a contact report id, a register change id).
        record: String,
        /// event, hr-event, contact-report or register-change.
        #[arg(long, default_value = "event")]
        kind: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a proof file offline, with no store.
    VerifyProof {
        file: PathBuf,
        /// The log's verifier key (text or a file holding it).
        #[arg(long)]
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Write the log as static C2SP tlog-tiles for auditors to mirror.
    ExportTiles { dir: PathBuf },
}

/// Commands that need no store.
pub fn run_offline(settings: &Settings, cmd: &Cmd) -> Result<Option<ExitCode>> {
    match cmd {
        Cmd::Keygen { out } => {
            let path = out
                .clone()
                .unwrap_or_else(|| settings.ledger_key_file.clone());
            let key = create_key(&path, &settings.ledger_origin)?;
            println!("wrote the signing key to {} (mode 0600)", path.display());
            println!("{}", key.verifier().to_text());
            Ok(Some(ExitCode::SUCCESS))
        }
        Cmd::Pubkey => {
            let key = load_key(&settings.ledger_key_file)?;
            println!("{}", key.verifier().to_text());
            Ok(Some(ExitCode::SUCCESS))
        }
        Cmd::VerifyProof { file, key, json } => {
            let verifier = parse_verifier(key)?;
            let text = read_limited(file, 1 << 20)?;
            let bundle: ProofBundle = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a Custodian proof file", file.display()))?;
            match bundle.verify(&verifier) {
                Ok(p) => {
                    if *json {
                        crate::output::json(&json!({"verified": true, "proven": p}))?;
                    } else {
                        println!(
                            "VERIFIED: {} '{}' is entry {} of the log {} of {} entries",
                            p.kind, p.record_id, p.leaf_index, p.origin, p.tree_size
                        );
                        println!("  root {} signed by {}", p.root, p.key_name);
                        println!("  record: {}", p.record);
                    }
                    Ok(Some(ExitCode::SUCCESS))
                }
                Err(e) => {
                    if *json {
                        crate::output::json(&json!({"verified": false, "error": e.to_string()}))?;
                    } else {
                        eprintln!("NOT VERIFIED: {e}");
                    }
                    Ok(Some(ExitCode::FAILURE))
                }
            }
        }
        _ => Ok(None),
    }
}

pub async fn run(settings: &Settings, store: &dyn Store, cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Status { json } => {
            let st = audit::status(store).await?;
            let root = st
                .latest_parsed
                .as_ref()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c.root));
            if json {
                crate::output::json(&json!({
                    "size": st.size,
                    "root": root,
                    "checkpoints": st.checkpoints,
                    "latest_checkpoint": st.latest.as_ref().map(|c| c.note.clone()),
                    "origin": st.latest_parsed.as_ref().map(|c| c.origin.clone()),
                }))?;
            } else {
                println!("entries      {}", st.size);
                println!("root         {}", root.as_deref().unwrap_or("-"));
                println!("checkpoints  {}", st.checkpoints);
                if let Some(c) = &st.latest {
                    println!("latest checkpoint:\n{}", c.note);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify {
            key,
            checkpoint,
            json,
        } => {
            let verifier = match key {
                Some(k) => parse_verifier(&k)?,
                None => load_key(&settings.ledger_key_file)?.verifier(),
            };
            let trusted = match &checkpoint {
                Some(p) => Some(read_limited(p, 64 << 10)?),
                None => None,
            };
            let started = std::time::Instant::now();
            let bar = crate::commands::import::bar_if_terminal(
                !json,
                "verifying [{bar:40}] {pos}/{len} entries eta {eta}",
            );
            let progress = |done: u64, total: u64| {
                if let Some(b) = &bar {
                    b.set_length(total);
                    b.set_position(done);
                }
            };
            let result = audit::verify(store, &verifier, trusted.as_deref(), &progress).await;
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let secs = started.elapsed().as_secs_f64();
            match result {
                Ok(r) => {
                    if json {
                        crate::output::json(
                            &json!({"verified": true, "report": r, "seconds": secs}),
                        )?;
                    } else {
                        println!(
                            "VERIFIED: {} entries, root {}, {} signed checkpoints",
                            r.size, r.root, r.checkpoints_verified
                        );
                        for (k, n) in &r.records_by_kind {
                            println!("  {k:<16} {n}");
                        }
                        if let Some(t) = r.trusted_checkpoint_size {
                            println!("  extends the trusted checkpoint of size {t}");
                        }
                        println!(
                            "  {:.2} s, {:.0} MB/s hashed",
                            secs,
                            r.bytes_hashed as f64 / secs.max(1e-9) / 1e6
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(AuditError::Failed(f)) => {
                    if json {
                        crate::output::json(&json!({"verified": false, "failure": f}))?;
                    } else {
                        eprintln!("LEDGER DOES NOT VERIFY: {}", f.what);
                    }
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
        Cmd::Prove { record, kind, out } => {
            let bundle = audit::prove(store, &kind, &record).await?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, format!("{text}\n"))
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    eprintln!(
                        "wrote the proof of {kind} '{record}' (leaf {}) to {}",
                        bundle.leaf_index,
                        p.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::ExportTiles { dir } => {
            let n = audit::export_tiles(store, &dir).await?;
            println!("wrote {n} files under {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Keygen { .. } | Cmd::Pubkey | Cmd::VerifyProof { .. } => Ok(ExitCode::SUCCESS),
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > limit {
        bail!(
            "{} is larger than {limit} bytes; not a proof or checkpoint file",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A verifier key given as text or as a file holding it.
pub fn parse_verifier(arg: &str) -> Result<NoteVerifier> {
    Ok(custodian_app::cases::parse_verifier(arg)?)
}

fn create_key(path: &Path, origin: &str) -> Result<NoteSigner> {
    let key = NoteSigner::generate(origin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut f = super::create_private(path).with_context(|| {
        format!(
            "cannot create the key file {} (it must not exist yet)",
            path.display()
        )
    })?;
    writeln!(f, "{}", key.to_private_text())?;
    Ok(key)
}

/// Loads the signing key, refusing a file others can read.
pub fn load_key(path: &Path) -> Result<NoteSigner> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "no ledger signing key at {} (create one with `custodian ledger keygen`)",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "the ledger key {} is readable by others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            );
        }
    }
    let text = read_limited(path, 4096)?;
    NoteSigner::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The ledger context for writing: the configured key, created on first
/// use (with a notice) so a new installation logs from its first import.
pub fn context(settings: &Settings) -> Result<LedgerContext> {
    let path = &settings.ledger_key_file;
    let signer = if path.exists() {
        load_key(path)?
    } else {
        let k = create_key(path, &settings.ledger_origin)?;
        eprintln!(
            "created the ledger signing key {} (keep it safe); its public key, for auditors:\n  {}",
            path.display(),
            k.verifier().to_text()
        );
        k
    };
    Ok(LedgerContext {
        origin: settings.ledger_origin.clone(),
        signer,
    })
}
