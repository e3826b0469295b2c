//! The evidence bundle of a case: a zip the police and a court can check
//! offline (every record with its inclusion proof against a signed
//! checkpoint, the documents' register history, a report), and its
//! verification.
//!
//! Rules:
//! - Everything in the bundle is a stored, ledgered record with its proof;
//!   nothing is written into it that the ledger does not cover, except the
//!   report that describes them and the manifest of hashes.
//! - Verifying reads the zip's own central directory (`zip_entries`),
//!   bounded in files and bytes, checks every file's hash against the
//!   manifest and every proof against the checkpoint, and, given the
//!   company's verifier key, the checkpoint's signature.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use custodian_ledger::entry::{kinds, ProofBundle};
use custodian_ledger::NoteVerifier;
use custodian_store::{audit, CustodyRecord, LedgerContext, Store};

use crate::cases::{existing, Ctx, Result};
use crate::error::AppError as CaseError;
use crate::html::esc;

pub const BUNDLE_FORMAT: &str = "custodian-evidence-bundle/v1";

macro_rules! bail {
    ($($t:tt)*) => { return Err(CaseError::Invalid(format!($($t)*))) };
}

/// A verifier key from its text, or from a file holding it.
pub fn parse_verifier(arg: &str) -> Result<NoteVerifier> {
    let path = std::path::Path::new(arg);
    let text = if path.is_file() {
        let mut s = String::new();
        std::fs::File::open(path)?
            .take(4096)
            .read_to_string(&mut s)?;
        s
    } else {
        arg.to_string()
    };
    NoteVerifier::parse(text.trim()).map_err(|e| CaseError::Invalid(format!("--key: {e}")))
}

/// Every string under an "evidence" key, anywhere in the value.
fn evidence_ids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "evidence" {
                    for id in x.as_array().into_iter().flatten() {
                        if let Some(s) = id.as_str() {
                            out.insert(s.to_string());
                        }
                    }
                } else {
                    evidence_ids(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| evidence_ids(x, out)),
        _ => {}
    }
}

/// One proven record in the bundle.
struct Item {
    at: String,
    kind: &'static str,
    what: String,
    record_id: String,
    file: String,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub zip: Vec<u8>,
    pub records: usize,
    pub documents: usize,
}

/// The evidence bundle of a case, as zip bytes.
pub async fn export(
    store: &dyn Store,
    ledger: &LedgerContext,
    now: DateTime<FixedOffset>,
    case: &str,
) -> Result<Exported> {
    let (acts, st) = existing(store, case).await?;
    let alert_id = st["alert"].as_str().unwrap_or_default().to_string();
    let subject = st["subject"].as_str().unwrap_or_default().to_string();
    let alert = store
        .alerts(u32::MAX)
        .await?
        .into_iter()
        .find(|a| a.id == alert_id)
        .with_context(|| format!("the alert {alert_id} of {case} is not in the store"))?;
    let alert_body: Value = serde_json::from_str(&alert.body).unwrap_or(Value::Null);
    let mut proofs: Vec<(String, ProofBundle)> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let prove = |kind: &'static str, id: String, at: String, what: String| (kind, id, at, what);
    let mut wanted: Vec<(&'static str, String, String, String)> = Vec::new();
    wanted.push(prove(
        kinds::ALERT,
        alert.id.clone(),
        alert.raised_at.to_rfc3339(),
        format!(
            "alert on {} ({}, score {:.0})",
            alert.user, alert.severity, alert.score
        ),
    ));
    // The events the alert cites, and the documents they touch.
    let mut ids = BTreeSet::new();
    evidence_ids(&alert_body, &mut ids);
    let mut docs: BTreeSet<String> = BTreeSet::new();
    let mut event_bodies: BTreeMap<String, Value> = BTreeMap::new();
    for id in &ids {
        if let Some(e) = crate::evidence::event(store, id).await? {
            if let Some(d) = &e.doc {
                docs.insert(d.clone());
            }
            event_bodies.insert(
                id.clone(),
                json!({"ts": e.ts, "user_id": e.user, "action": e.action, "doc_id": e.doc.as_deref().unwrap_or("")}),
            );
        }
    }
    for (id, v) in &event_bodies {
        wanted.push(prove(
            kinds::EVENT,
            id.clone(),
            v["ts"].as_str().unwrap_or_default().to_string(),
            format!(
                "{} {} {}",
                v["user_id"].as_str().unwrap_or("?"),
                v["action"].as_str().unwrap_or("?"),
                v["doc_id"].as_str().unwrap_or("")
            ),
        ));
    }
    // What the subject was given and told.
    let mut custody: Vec<CustodyRecord> = Vec::new();
    for kind in ["acknowledgement", "copy", "refusal"] {
        custody.extend(store.custody_records(kind, None, Some(&subject)).await?);
    }
    for d in &docs {
        custody.extend(
            store
                .custody_records("approval", Some(d), Some(&subject))
                .await?,
        );
    }
    for r in &custody {
        if let Some(d) = &r.doc_id {
            docs.insert(d.clone());
        }
    }
    for r in &custody {
        wanted.push(prove(
            kinds::CUSTODY,
            r.id.clone(),
            r.at.to_rfc3339(),
            format!(
                "{} for {} {}",
                r.kind,
                r.user_id,
                r.doc_id.as_deref().unwrap_or("")
            ),
        ));
    }
    // Each document's secrecy management: its register history.
    let mut secrecy: Vec<Value> = Vec::new();
    for d in &docs {
        let Some(doc) = store.document(d).await? else {
            continue;
        };
        let history = store.register_history(d).await?;
        for c in &history {
            wanted.push(prove(
                kinds::REGISTER_CHANGE,
                custodian_store::ledger::register_change_id(c),
                c.at.to_rfc3339(),
                format!("{d}: {} {} by {}", c.field, c.new, c.actor),
            ));
        }
        secrecy.push(json!({
            "doc": d, "title": doc.title, "level": doc.classification.to_string(),
            "owner": doc.owner_id, "need_to_know_projects": doc.projects,
            "history": history.iter().map(|c| json!({"at": c.at.to_rfc3339(), "field": c.field, "old": c.old, "new": c.new, "by": c.actor})).collect::<Vec<_>>(),
            "acknowledgements_of_subject": custody.iter().filter(|r| r.kind == "acknowledgement").map(|r| r.body.clone()).collect::<Vec<_>>(),
            "copies_to_subject": custody.iter().filter(|r| r.kind == "copy" && r.doc_id.as_deref() == Some(d)).map(|r| r.body.clone()).collect::<Vec<_>>(),
            "approvals_for_subject": custody.iter().filter(|r| r.kind == "approval" && r.doc_id.as_deref() == Some(d)).map(|r| r.body.clone()).collect::<Vec<_>>(),
        }));
    }
    for (r, v) in &acts {
        wanted.push(prove(
            kinds::CUSTODY,
            r.id.clone(),
            r.at.to_rfc3339(),
            format!(
                "case {}: {} by {}",
                v["action"].as_str().unwrap_or("?"),
                v["text"]
                    .as_str()
                    .or(v["to"].as_str())
                    .or(v["status"].as_str())
                    .unwrap_or(""),
                v["by"].as_str().unwrap_or("?")
            ),
        ));
    }
    // Prove each record against the latest checkpoint (one checkpoint for
    // the whole bundle).
    let mut seen = BTreeSet::new();
    for (n, (kind, id, at, what)) in wanted.into_iter().enumerate() {
        if !seen.insert((kind, id.clone())) {
            continue;
        }
        let bundle = audit::prove(store, kind, &id)
            .await
            .with_context(|| format!("proving {kind} '{id}'"))?;
        let file = format!("proofs/{n:04}-{kind}.json");
        items.push(Item {
            at,
            kind,
            what,
            record_id: id,
            file: file.clone(),
        });
        proofs.push((file, bundle));
    }
    let checkpoint = proofs
        .last()
        .map(|(_, b)| b.checkpoint.clone())
        .unwrap_or_default();
    if proofs.iter().any(|(_, b)| b.checkpoint != checkpoint) {
        bail!("the ledger grew while the bundle was being made; export again");
    }
    items.sort_by(|a, b| a.at.cmp(&b.at).then(a.record_id.cmp(&b.record_id)));
    let key = ledger.signer.verifier().to_text();
    let timeline: Vec<Value> = items
        .iter()
        .map(|i| json!({"at": i.at, "kind": i.kind, "record_id": i.record_id, "what": i.what, "proof": i.file}))
        .collect();
    let created = now.to_rfc3339();
    let summary = json!({
        "format": BUNDLE_FORMAT, "case": case, "state": st, "subject": subject,
        "alert": alert_body, "created_at": created, "secrecy_management": secrecy,
    });
    // The readable report.
    let mut html = String::new();
    html.push_str(&format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{border-bottom:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}</style><h1>Evidence bundle {0}</h1>",
        esc(case)
    ));
    html.push_str(&format!(
        "<p>Subject <b>{}</b>; alert {} ({}, score {:.0}); case {}; created {}.</p><p>{}</p>",
        esc(&subject),
        esc(&alert.id),
        esc(&alert.severity),
        alert.score,
        esc(st["status"].as_str().unwrap_or("?")),
        esc(&created),
        esc(alert_body["summary"].as_str().unwrap_or(""))
    ));
    html.push_str(
        "<h2>Timeline</h2><table><tr><th>time</th><th>record</th><th>what</th><th>proof</th></tr>",
    );
    for i in &items {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.at),
            i.kind,
            esc(&i.record_id),
            esc(&i.what),
            esc(&i.file)
        ));
    }
    html.push_str("</table><h2>Secrecy management of the documents involved</h2>");
    for s in &secrecy {
        html.push_str(&format!(
            "<h3>{} — {}</h3><p>Level {}, owner {}, need to know: {}.</p><ul>",
            esc(s["doc"].as_str().unwrap_or("")),
            esc(s["title"].as_str().unwrap_or("")),
            esc(s["level"].as_str().unwrap_or("")),
            esc(s["owner"].as_str().unwrap_or("")),
            esc(&s["need_to_know_projects"].to_string())
        ));
        for h in s["history"].as_array().into_iter().flatten() {
            html.push_str(&format!(
                "<li>{} {} → {} by {}</li>",
                esc(h["at"].as_str().unwrap_or("")),
                esc(h["field"].as_str().unwrap_or("")),
                esc(h["new"].as_str().unwrap_or("")),
                esc(h["by"].as_str().unwrap_or(""))
            ));
        }
        html.push_str("</ul>");
    }
    html.push_str(&format!(
        "<h2>How to check this bundle</h2><p>Every record above is an entry of the company's custody ledger; <code>proofs/</code> holds its inclusion proof against the signed checkpoint in <code>checkpoint.txt</code>, verifiable with the public key in <code>key.pub</code> (compare it with the key the company published). <code>manifest.json</code> lists the SHA-256 of every file. Run <code>custodian bundle verify {0}.zip --key PUBLISHED-KEY</code>, or check each proof by RFC 9162 with any tool.</p></html>\n",
        esc(case)
    ));
    // The same report as PDF, typeset by Custodian.
    let mut md = format!("# Evidence bundle {case}\n\nSubject {subject}; alert {} ({}, score {:.0}).\n\n{}\n\n## Timeline\n\n", alert.id, alert.severity, alert.score, alert_body["summary"].as_str().unwrap_or(""));
    for i in &items {
        md.push_str(&format!(
            "- {} {} {}: {}\n",
            i.at, i.kind, i.record_id, i.what
        ));
    }
    md.push_str("\n## Secrecy management\n\n");
    for s in &secrecy {
        md.push_str(&format!(
            "- {} ({}): level {}, owner {}, {} register changes\n",
            s["doc"].as_str().unwrap_or(""),
            s["title"].as_str().unwrap_or(""),
            s["level"].as_str().unwrap_or(""),
            s["owner"].as_str().unwrap_or(""),
            s["history"].as_array().map_or(0, Vec::len)
        ));
    }
    let mark = custodian_pdfmark::Mark {
        banner: "証拠 EVIDENCE".into(),
        lines: vec![case.to_string(), created.clone()],
        notice: "Custodian evidence bundle report; the bundle's proofs, not this page, are the evidence.".into(),
        qr: format!("custodian-bundle:{case}"),
        token: case.to_string(),
    };
    let pdf = custodian_pdfmark::typeset::typeset(
        &custodian_pdfmark::typeset::parse(&md),
        &format!("Evidence bundle {case}"),
        &mark,
    )?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("report.html".into(), html.into_bytes()),
        ("report.pdf".into(), pdf),
        ("case.json".into(), serde_json::to_vec_pretty(&summary)?),
        (
            "timeline.json".into(),
            serde_json::to_vec_pretty(&timeline)?,
        ),
        ("checkpoint.txt".into(), checkpoint.into_bytes()),
        ("key.pub".into(), format!("{key}\n").into_bytes()),
    ];
    for (f, b) in &proofs {
        files.push((f.clone(), serde_json::to_vec_pretty(b)?));
    }
    let manifest: BTreeMap<&str, String> = files
        .iter()
        .map(|(n, b)| {
            (
                n.as_str(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)),
            )
        })
        .collect();
    let manifest = serde_json::to_vec_pretty(
        &json!({"format": BUNDLE_FORMAT, "case": case, "files": manifest}),
    )?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("manifest.json", opts)?;
    zip.write_all(&manifest)?;
    for (n, b) in &files {
        zip.start_file(n.as_str(), opts)?;
        zip.write_all(b)?;
    }
    let zip = zip.finish()?.into_inner();
    Ok(Exported {
        zip,
        records: proofs.len(),
        documents: secrecy.len(),
    })
}

/// Limits on a bundle handed in for checking.
const MAX_FILES: usize = 20_000;
const MAX_FILE_BYTES: u64 = 64 << 20;
const MAX_TOTAL_BYTES: u64 = 1 << 30;

/// Checks a bundle offline: what it proved, or why it is refused.
pub fn verify_bundle<R: std::io::Read + std::io::Seek>(
    bundle: R,
    key: Option<&str>,
) -> Result<Value> {
    let mut bundle = bundle;
    // Every entry as the file really lists it: the zip crate shows one of
    // two entries with the same name, and other tools may show the other.
    let listed_names =
        crate::zip_entries::names(&mut bundle, MAX_FILES).map_err(CaseError::Invalid)?;
    let mut seen = BTreeSet::new();
    for n in &listed_names {
        if !seen.insert(n.as_str()) {
            bail!("{n} appears twice in the bundle");
        }
    }
    bundle.seek(std::io::SeekFrom::Start(0))?;
    let mut zip = zip::ZipArchive::new(bundle).context("not a zip file")?;
    if zip.len() > MAX_FILES {
        bail!("the bundle has {} files, more than {MAX_FILES}", zip.len());
    }
    if zip.len() != listed_names.len() {
        bail!(
            "the bundle lists {} entries but {} can be read",
            listed_names.len(),
            zip.len()
        );
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i)?;
        let name = e.name().to_string();
        if name.starts_with('/') || name.contains("..") || name.contains('\\') {
            bail!("the bundle holds a file with an unsafe name: {name}");
        }
        if e.size() > MAX_FILE_BYTES {
            bail!("{name} is larger than {MAX_FILE_BYTES} bytes");
        }
        let mut b = Vec::new();
        e.by_ref().take(MAX_FILE_BYTES + 1).read_to_end(&mut b)?;
        if b.len() as u64 > MAX_FILE_BYTES {
            bail!("{name} is larger than {MAX_FILE_BYTES} bytes");
        }
        total += b.len() as u64;
        if total > MAX_TOTAL_BYTES {
            bail!("the bundle unpacks to more than {MAX_TOTAL_BYTES} bytes");
        }
        // Names are unique here: `zip_entries::names` refused any repeat.
        files.insert(name, b);
    }
    let manifest: Value = serde_json::from_slice(
        files
            .get("manifest.json")
            .context("the bundle has no manifest.json")?,
    )
    .context("manifest.json is not JSON")?;
    if manifest["format"] != BUNDLE_FORMAT {
        bail!("manifest.json: not a {BUNDLE_FORMAT} bundle");
    }
    let listed = manifest["files"]
        .as_object()
        .context("manifest.json lists no files")?;
    for (name, digest) in listed {
        let b = files
            .get(name)
            .with_context(|| format!("{name} is listed in the manifest but missing"))?;
        let got = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
        if Some(got.as_str()) != digest.as_str() {
            bail!("{name} was changed: its SHA-256 differs from the manifest's");
        }
    }
    for name in files.keys() {
        if name != "manifest.json" && !listed.contains_key(name) {
            bail!("{name} is in the bundle but not in the manifest");
        }
    }
    let bundled_key = String::from_utf8_lossy(files.get("key.pub").context("no key.pub")?)
        .trim()
        .to_string();
    let (verifier, key_note) = match key {
        Some(k) => {
            let v = parse_verifier(k)?;
            if v.to_text() != bundled_key {
                bail!("the bundle's key.pub is not the key given with --key");
            }
            (v, "the key given with --key".to_string())
        }
        None => (
            parse_verifier(&bundled_key)?,
            "the bundle's own key.pub".to_string(),
        ),
    };
    let checkpoint =
        String::from_utf8_lossy(files.get("checkpoint.txt").context("no checkpoint.txt")?)
            .to_string();
    let mut proven: BTreeMap<String, custodian_ledger::entry::Proven> = BTreeMap::new();
    for (name, b) in &files {
        if !name.starts_with("proofs/") {
            continue;
        }
        let bundle: ProofBundle =
            serde_json::from_slice(b).with_context(|| format!("{name} is not a proof file"))?;
        if bundle.checkpoint != checkpoint {
            bail!("{name} is proven against another checkpoint than checkpoint.txt");
        }
        let p = bundle
            .verify(&verifier)
            .map_err(|e| CaseError::Invalid(format!("{name}: {e}")))?;
        proven.insert(name.clone(), p);
    }
    let timeline: Vec<Value> =
        serde_json::from_slice(files.get("timeline.json").context("no timeline.json")?)
            .context("timeline.json is not a list")?;
    for (i, t) in timeline.iter().enumerate() {
        let file = t["proof"].as_str().unwrap_or_default();
        let p = proven.get(file).with_context(|| {
            format!(
                "timeline item {} names {file}, which is not a proof in the bundle",
                i + 1
            )
        })?;
        if t["record_id"] != p.record_id.as_str() || t["kind"] != p.kind.as_str() {
            bail!(
                "timeline item {} says {} '{}' but {file} proves {} '{}'",
                i + 1,
                t["kind"],
                t["record_id"],
                p.kind,
                p.record_id
            );
        }
    }
    let first = proven
        .values()
        .next()
        .context("the bundle proves no record")?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for p in proven.values() {
        *by_kind.entry(p.kind.as_str()).or_default() += 1;
    }
    let kinds_text: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let not_proven: Vec<&str> = [
        if key.is_none() {
            "that key.pub is the company's published ledger key (pass --key to check)"
        } else {
            ""
        },
        "what report.html, report.pdf and case.json say beyond the proven records (they are summaries; the proofs are the evidence)",
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect();
    Ok(json!({
        "verified": true,
        "case": manifest["case"],
        "files": listed.len(),
        "records": proven.len(),
        "by_kind": by_kind,
        "log": first.origin, "tree_size": first.tree_size, "root": first.root, "key": first.key_name,
        "summary": format!(
            "{} records ({}) are entries of the log {} at checkpoint size {} (root {}), signed by {} ({}); all {} files match the manifest; each of the {} timeline items is one of the proven records",
            proven.len(), kinds_text.join(", "), first.origin, first.tree_size, first.root, first.key_name, key_note, listed.len(), timeline.len()
        ),
        "not_proven": not_proven,
    }))
}
