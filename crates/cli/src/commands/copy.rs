//! The broker on the command line: `people acknowledge`, `copy approve`,
//! `copy issue`, and `trace` (text copies; PDF copies are not built yet).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use custodian_broker::ContentKey;
use custodian_core::policy::{decide, Approval, Decision, PersonAt, RequestContext};
use custodian_core::Level;
use custodian_fingerprint::{text, Code, CodeParams, Scored};
use custodian_store::{CustodyRecord, Store};

use crate::settings::Settings;

/// What copies are sized for: up to 100,000 recipients of a document and
/// 4 colluders, ε = 10⁻⁶ for a whole case.
pub const PARAMS: CodeParams = CodeParams {
    recipients: 100_000,
    colluders: 4,
    epsilon: 1e-6,
};

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
    },
    /// The copies issued (and refused) for a document.
    List { doc: String },
}

fn canonical(v: &Value) -> String {
    // serde_json's map is ordered by key: this is sorted-key JSON.
    v.to_string()
}

fn record(
    kind: &str,
    doc: Option<&str>,
    user: &str,
    at: DateTime<FixedOffset>,
    body: Value,
) -> CustodyRecord {
    use sha2::{Digest, Sha256};
    let body = canonical(&body);
    let h = Sha256::digest(body.as_bytes());
    CustodyRecord {
        id: format!("K-{}", hex_of(&h[..12])),
        kind: kind.into(),
        doc_id: doc.map(str::to_string),
        user_id: user.into(),
        at,
        body,
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The key codewords are derived from (its own file, so rotating the
/// content key does not change anyone's fingerprint).
fn fingerprint_key(settings: &Settings) -> Result<ContentKey> {
    let path = settings.content_key_file.with_file_name(
        std::env::var("CUSTODIAN_FINGERPRINT_KEY_FILE")
            .unwrap_or_else(|_| "custodian-fingerprint.key".into()),
    );
    super::register::content_key(&path)
}

fn doc_code(settings: &Settings, doc: &str, source: &str) -> Result<Code> {
    let master = fingerprint_key(settings)?;
    Ok(text::code_for(
        source,
        master.mac("tardos document key", doc.as_bytes()),
        &PARAMS,
    ))
}

fn label(level: Level) -> &'static str {
    match level {
        Level::Secret => "極秘 SECRET",
        Level::Confidential => "秘 CONFIDENTIAL",
        Level::Internal => "社外秘 INTERNAL",
        Level::Public => "公開 PUBLIC",
    }
}

async fn approvals(store: &dyn Store, doc: &str) -> Result<Vec<Approval>> {
    let mut out = Vec::new();
    for r in store.custody_records("approval", Some(doc), None).await? {
        let v: Value = serde_json::from_str(&r.body)?;
        out.push(Approval {
            doc_id: doc.into(),
            for_user: v["for"].as_str().unwrap_or_default().into(),
            by_owner: v["by"].as_str().unwrap_or_default().into(),
            at: r.at,
        });
    }
    Ok(out)
}

pub async fn acknowledge(
    settings: &Settings,
    store: &dyn Store,
    person: &str,
    policy: &str,
) -> Result<ExitCode> {
    if store.person(person).await?.is_none() {
        bail!("no person '{person}' in the directory");
    }
    let at = crate::clock::now();
    let r = record(
        "acknowledgement",
        None,
        person,
        at,
        json!({"type": "acknowledgement", "user": person, "policy": policy, "at": at.to_rfc3339()}),
    );
    let ledger = super::ledger::context(settings)?;
    store
        .insert_custody(std::slice::from_ref(&r), &ledger)
        .await?;
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
            let Some(d) = store.document(&doc).await? else {
                bail!("no register entry '{doc}'")
            };
            if d.owner_id != by {
                bail!(
                    "{by} does not own {doc} (its owner is {}); only the owner approves",
                    d.owner_id
                );
            }
            if store.person(&for_user).await?.is_none() {
                bail!("no person '{for_user}' in the directory");
            }
            let at = crate::clock::now();
            let r = record(
                "approval",
                Some(&doc),
                &for_user,
                at,
                json!({"type": "approval", "doc": doc, "for": for_user, "by": by, "at": at.to_rfc3339()}),
            );
            store
                .insert_custody(std::slice::from_ref(&r), &ledger)
                .await?;
            println!("{by} approved {for_user} for {doc} (record {})", r.id);
        }
        Cmd::List { doc } => {
            for kind in ["copy", "refusal"] {
                for r in store.custody_records(kind, Some(&doc), None).await? {
                    println!(
                        "{kind:<8} {} {} {}",
                        r.at.format("%Y-%m-%d %H:%M"),
                        r.user_id,
                        r.body
                    );
                }
            }
        }
        Cmd::Issue {
            doc,
            to,
            purpose,
            out,
        } => {
            let Some(d) = store.document(&doc).await? else {
                bail!("no register entry '{doc}'")
            };
            let Some(person) = store.person(&to).await? else {
                bail!("no person '{to}' in the directory")
            };
            let at = crate::clock::now();
            let hr = store.hr_events_for(&to).await?;
            let who = PersonAt::reconstruct(&person, &hr, at.to_utc());
            let approvals = approvals(store, &doc).await?;
            let decision = decide(
                &who,
                &d,
                &RequestContext {
                    approvals: &approvals,
                },
            );
            let mut refusal = match &decision {
                Decision::Allow { .. } => None,
                other => Some(other.to_string()),
            };
            if refusal.is_none() && d.classification >= Level::Confidential {
                let acks = store
                    .custody_records("acknowledgement", None, Some(&to))
                    .await?;
                if acks.is_empty() {
                    refusal = Some(format!(
                        "{to} has not acknowledged the secrecy policy (custodian people acknowledge {to} --policy VERSION)"
                    ));
                }
            }
            if let Some(why) = refusal {
                let r = record(
                    "refusal",
                    Some(&doc),
                    &to,
                    at,
                    json!({"type": "refusal", "doc": doc, "to": to, "purpose": purpose, "reason": why, "at": at.to_rfc3339()}),
                );
                store
                    .insert_custody(std::slice::from_ref(&r), &ledger)
                    .await?;
                eprintln!("refused: {why} (recorded as {})", r.id);
                return Ok(ExitCode::from(4));
            }
            let Some(sealed) = store.content(&doc).await? else {
                bail!("{doc} has no content in custody (custodian register attach {doc} FILE)");
            };
            if sealed.media_type == "application/pdf" {
                bail!("{doc} is a PDF; PDF copies (geometry carrier) are not built yet: attach a Markdown or text source");
            }
            let key = super::register::content_key(&settings.content_key_file)?;
            let plain = key.open(&sealed)?;
            let source = String::from_utf8(plain).context("the content is not UTF-8 text")?;
            let code = doc_code(settings, &doc, &source)?;
            let index = {
                use rand::RngCore;
                rand::rngs::OsRng.next_u64() >> 1
            };
            let copy_id = format!("CP-{index:016x}");
            let token = format!(
                "{copy_id}.{}",
                hex_of(&fingerprint_key(settings)?.mac("copy token", copy_id.as_bytes())[..8])
            );
            let body = text::issue(&source, &code, index);
            let banner = format!(
                "[{}] {} — issued to {} ({}) — copy {} — {}\n\
                 This document is a trade secret managed as secret by the company (Unfair Competition Prevention Act, Art. 2(6)). \
                 Copying, disclosure or use beyond the stated purpose is prohibited. Each copy is individually traceable.\n\
                 Custodian copy token: {}\n\n",
                label(d.classification),
                d.title,
                person.name,
                to,
                copy_id,
                at.format("%Y-%m-%d"),
                token
            );
            let copy = format!("{banner}{body}");
            write_private(&out, copy.as_bytes())?;
            use sha2::{Digest, Sha256};
            let r = record(
                "copy",
                Some(&doc),
                &to,
                at,
                json!({
                    "type": "copy", "copy_id": copy_id, "index": index, "doc": doc, "to": to,
                    "purpose": purpose, "content_sha256": sealed.sha256,
                    "copy_sha256": hex_of(&Sha256::digest(copy.as_bytes())),
                    "carriers": ["wording", "token", "visible-mark"], "code_length": code.len(),
                    "at": at.to_rfc3339(),
                }),
            );
            store
                .insert_custody(std::slice::from_ref(&r), &ledger)
                .await?;
            println!(
                "issued {copy_id} of {doc} to {to} into {} ({} variant sites carry its fingerprint; ledger record {})",
                out.display(),
                text::sites(&source).len(),
                r.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write as _;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// A leaked copy (text; PDFs and images are not read yet).
    file: PathBuf,
    /// The false-accusation bound for the case.
    #[arg(long, default_value_t = 1e-6)]
    epsilon: f64,
    #[arg(long)]
    json: bool,
}

/// Files larger than this are not read (a leak handed in is untrusted).
const MAX_TRACE_BYTES: u64 = 64 << 20;

pub async fn trace(settings: &Settings, store: &dyn Store, args: TraceArgs) -> Result<ExitCode> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if meta.len() > MAX_TRACE_BYTES {
        bail!(
            "{} is {} bytes; tracing reads at most {MAX_TRACE_BYTES}",
            args.file.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(&args.file)?;
    if bytes.starts_with(b"%PDF-") {
        bail!("{} is a PDF; reading PDFs is not built yet: paste its text out (pdftotext) and trace that", args.file.display());
    }
    let leak = String::from_utf8_lossy(&bytes).into_owned();
    let copies = store.custody_records("copy", None, None).await?;
    let parsed: Vec<(CustodyRecord, Value)> = copies
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok().map(|v| (r, v)))
        .collect();
    let mut report =
        json!({"file": args.file.display().to_string(), "exact": null, "accused": [], "notes": []});
    let mut notes: Vec<Value> = Vec::new();
    let mut accused_out: Vec<Value> = Vec::new();
    // 1. The token: an unmodified leak names its copy exactly.
    let key = super::register::content_key(&settings.content_key_file)?;
    if let Some(p) = leak.find("Custodian copy token: ") {
        let tok: String = leak[p + 22..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        if let Some((cid, tag)) = tok.split_once('.') {
            // Tagged with the fingerprint key, which rotation leaves alone.
            let good =
                hex_of(&fingerprint_key(settings)?.mac("copy token", cid.as_bytes())[..8]) == tag;
            if let Some((r, v)) = parsed.iter().find(|(_, v)| v["copy_id"] == cid) {
                report["exact"] = json!({"copy_id": cid, "recipient": r.user_id, "doc": v["doc"], "token_valid": good, "record": r.id});
            }
        }
    }
    // 2. The wording: per document with copies, read the sites and accuse
    // with the per-case bound.
    let mut docs: Vec<String> = parsed
        .iter()
        .filter_map(|(_, v)| v["doc"].as_str().map(str::to_string))
        .collect();
    docs.sort();
    docs.dedup();
    for doc in docs {
        let Some(sealed) = store.content(&doc).await? else {
            continue;
        };
        let Ok(plain) = key.open(&sealed) else {
            notes.push(json!(format!(
                "{doc}: content does not open with the current key"
            )));
            continue;
        };
        let Ok(source) = String::from_utf8(plain) else {
            continue;
        };
        let code = doc_code(settings, &doc, &source)?;
        let read = text::read_code(&source, &leak, &code);
        let matched = read.iter().filter(|x| x.is_some()).count();
        if matched == 0 {
            continue;
        }
        let of_doc: Vec<&(CustodyRecord, Value)> = parsed
            .iter()
            .filter(|(_, v)| {
                v["doc"] == doc.as_str() && v["content_sha256"] == sealed.sha256.as_str()
            })
            .collect();
        let scored: Vec<Scored> = of_doc
            .iter()
            .filter_map(|(_, v)| v["index"].as_u64())
            .map(|i| Scored {
                recipient: i,
                score: code.score(&read, &code.codeword(i)),
            })
            .collect();
        let n = scored.len() as u64;
        let best = scored.iter().map(|s| s.score).fold(f64::MIN, f64::max);
        let accused = code.accuse(&read, scored, n, args.epsilon);
        if accused.is_empty() {
            let tail = if best > 0.0 {
                code.innocent_tail(&read, best) * n as f64
            } else {
                1.0
            };
            notes.push(json!(format!(
                "{doc}: {matched} of {} sites read; the best score's case bound is {tail:.2e}, not below ε = {:e}: not enough evidence to accuse anyone",
                code.len(), args.epsilon
            )));
        }
        for a in accused {
            if let Some((r, v)) = of_doc
                .iter()
                .find(|(_, v)| v["index"].as_u64() == Some(a.recipient))
            {
                accused_out.push(json!({
                    "doc": doc, "copy_id": v["copy_id"], "recipient": r.user_id, "score": a.score,
                    "innocent_tail": a.innocent_tail, "case_bound": a.case_bound, "sites_read": matched,
                    "record": r.id, "proof": format!("custodian ledger prove {} --kind custody", r.id),
                }));
            }
        }
    }
    report["notes"] = Value::Array(notes);
    report["accused"] = Value::Array(accused_out);
    if args.json {
        crate::output::json(&report)?;
    } else {
        if let Some(e) = report["exact"].as_object() {
            let st = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            println!(
                "exact: the file carries copy {} of {} issued to {} (token {})",
                st("copy_id"),
                st("doc"),
                st("recipient"),
                if e.get("token_valid") == Some(&json!(true)) {
                    "valid"
                } else {
                    "FORGED: the tag does not match"
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
        if report["exact"].is_null() && report["accused"].as_array().is_none_or(|a| a.is_empty()) {
            println!("nobody accused");
        }
    }
    Ok(ExitCode::SUCCESS)
}
