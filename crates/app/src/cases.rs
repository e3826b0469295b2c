//! Cases opened from alerts and the evidence bundle: the logic the CLI
//! (`custodian case`, `custodian bundle verify`) and the API share.
//!
//! Every case action (open, assign, note, status) is a custody record of
//! kind `case`, so it is a ledger entry. The bundle is a zip an outsider
//! checks with no store: the records behind the case, each with its
//! inclusion proof against one signed checkpoint, the public key, a
//! timeline, a readable report (HTML and PDF) and a SHA-256 manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use custodian_ledger::entry::{kinds, ProofBundle};
use custodian_ledger::NoteVerifier;
use custodian_store::{audit, CustodyRecord, LedgerContext, Store};

use crate::html::esc;
use crate::records::{CaseAct, CaseRecord, Record};

pub const BUNDLE_FORMAT: &str = "custodian-evidence-bundle/v1";

/// Cases answer with the use cases' one error type.
pub use crate::error::AppError as CaseError;

type Result<T> = std::result::Result<T, CaseError>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(CaseError::Invalid(format!($($t)*))) };
}

macro_rules! impl_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CaseError {
            fn from(e: $t) -> CaseError { CaseError::Failed(e.to_string()) }
        }
    )*};
}
impl_from!(
    custodian_store::audit::AuditError,
    zip::result::ZipError,
    serde_json::Error,
    custodian_pdfmark::PdfError
);

/// `context` and `with_context` for results and options, as with anyhow.
trait Ctx<T> {
    fn context(self, m: &str) -> Result<T>;
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T, E: std::fmt::Display> Ctx<T> for std::result::Result<T, E> {
    fn context(self, m: &str) -> Result<T> {
        self.map_err(|e| CaseError::Failed(format!("{m}: {e}")))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| CaseError::Failed(format!("{}: {e}", f())))
    }
}

impl<T> Ctx<T> for Option<T> {
    fn context(self, m: &str) -> Result<T> {
        self.ok_or_else(|| CaseError::NotFound(m.to_string()))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.ok_or_else(|| CaseError::NotFound(f()))
    }
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

/// A case's actions, oldest first, as (record, body).
pub async fn actions(store: &dyn Store, case: &str) -> Result<Vec<(CustodyRecord, Value)>> {
    let mut out: Vec<(CustodyRecord, Value)> = store
        .custody_records("case", None, None)
        .await?
        .into_iter()
        .filter_map(|r| {
            let v: Value = serde_json::from_str(&r.body).ok()?;
            (v["case"] == case).then_some((r, v))
        })
        .collect();
    out.sort_by(|a, b| a.0.at.cmp(&b.0.at).then(a.0.id.cmp(&b.0.id)));
    Ok(out)
}

/// The state a case's actions add up to. An action that does not read as
/// one is left out of the state (and named in the log).
pub fn state(actions: &[(CustodyRecord, Value)]) -> Value {
    let mut st = json!({"status": "open", "assignee": null, "notes": 0});
    for (r, v) in actions {
        let act = match Record::from_value(&r.id, v) {
            Ok(Record::Case(c)) => c,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("{e}");
                continue;
            }
        };
        match act.action {
            CaseAct::Open {
                alert, subject, by, ..
            } => {
                st["alert"] = json!(alert);
                st["subject"] = json!(subject);
                st["opened_by"] = json!(by);
                st["opened_at"] = json!(act.at);
            }
            CaseAct::Assign { to, .. } => st["assignee"] = json!(to),
            CaseAct::Note { .. } => st["notes"] = json!(st["notes"].as_u64().unwrap_or(0) + 1),
            CaseAct::Status { status, .. } => st["status"] = json!(status),
        }
    }
    st
}

pub fn nonempty(what: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() || v.len() > 10_000 {
        bail!("{what} must be non-empty text of at most 10,000 bytes");
    }
    Ok(())
}

async fn append(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    subject: &str,
    case: &str,
    action: CaseAct,
) -> Result<CustodyRecord> {
    let r = Record::Case(CaseRecord {
        case: case.into(),
        at: at.to_rfc3339(),
        action,
    })
    .stored(None, subject, at)?;
    store
        .insert_custody(std::slice::from_ref(&r), ledger)
        .await?;
    Ok(r)
}

/// What is done to an existing case (the API's `actions` body, and the
/// CLI's `case assign|note|status`).
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum CaseAction {
    Note {
        text: String,
    },
    Assign {
        to: String,
    },
    Status {
        status: String,
        reason: Option<String>,
    },
}

/// Checks `action` and appends it to `case` as done by `by`.
pub async fn apply(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    case: &str,
    action: CaseAction,
    by: &str,
) -> Result<CustodyRecord> {
    nonempty("by", by)?;
    let by = by.to_string();
    let act = match action {
        CaseAction::Note { text } => {
            nonempty("the note", &text)?;
            CaseAct::Note { text, by }
        }
        CaseAction::Assign { to } => {
            nonempty("to", &to)?;
            CaseAct::Assign { to, by }
        }
        CaseAction::Status { status, reason } => {
            if status != "open" && status != "closed" {
                bail!("status is open or closed");
            }
            CaseAct::Status { status, reason, by }
        }
    };
    act_on(store, ledger, at, case, act).await
}

/// Every contact report (oldest first) and the groups of reports that
/// describe the same approacher (indexes into the reports).
pub async fn contact_groups(
    store: &dyn Store,
) -> Result<(
    Vec<custodian_core::ContactReport>,
    Vec<custodian_detect::contacts::ContactGroup>,
)> {
    let mut reports = store.contact_reports().await?;
    reports.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then(a.id.cmp(&b.id)));
    let groups = custodian_detect::contacts::link(&reports);
    Ok((reports, groups))
}

/// Appends an action to an existing case (a closed case takes only a
/// status change).
async fn act_on(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    case: &str,
    act: CaseAct,
) -> Result<CustodyRecord> {
    let (_, st) = existing(store, case).await?;
    let status = match &act {
        CaseAct::Status { status, .. } => Some(status.as_str()),
        _ => None,
    };
    if st["status"] == "closed" && status.is_none() {
        bail!("{case} is closed; reopen it first (custodian case status {case} --set open --by …)");
    }
    if let Some(s) = status {
        if st["status"] == s {
            bail!("{case} is already {s}");
        }
    }
    let Some(subject) = st["subject"].as_str().map(str::to_string) else {
        return Err(CaseError::Failed(format!("{case} has no opening record")));
    };
    append(store, ledger, at, &subject, case, act).await
}

pub async fn existing(
    store: &dyn Store,
    case: &str,
) -> Result<(Vec<(CustodyRecord, Value)>, Value)> {
    let a = actions(store, case).await?;
    if a.is_empty() {
        return Err(CaseError::NotFound(format!(
            "no case '{case}' (custodian case list)"
        )));
    }
    let st = state(&a);
    Ok((a, st))
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
        let Some(seq) = store.record_seq(kinds::EVENT, id).await? else {
            continue;
        };
        if let Some(r) = store
            .ledger_records(kinds::EVENT, seq, 1)
            .await?
            .into_iter()
            .next()
        {
            if let Ok(c) = r.canonical {
                // An event's canonical form is its lines: time, user,
                // action, document (may be empty), the rest as JSON.
                let f: Vec<&str> = c.splitn(5, '\n').collect();
                let field = |i: usize| f.get(i).copied().unwrap_or_default();
                if !field(3).is_empty() {
                    docs.insert(field(3).to_string());
                }
                event_bodies.insert(
                    id.clone(),
                    json!({"ts": field(0), "user_id": field(1), "action": field(2), "doc_id": field(3)}),
                );
            }
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

async fn stored_alert(store: &dyn Store, alert: &str) -> Result<custodian_store::StoredAlert> {
    store
        .alerts(u32::MAX)
        .await?
        .into_iter()
        .find(|a| a.id == alert)
        .ok_or_else(|| {
            CaseError::NotFound(format!(
                "no alert '{alert}' in the store (custodian detect --from-store stores them)"
            ))
        })
}

/// Opens a case from a stored alert; returns the case id and its record.
pub async fn open(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &str,
    by: &str,
) -> Result<(String, CustodyRecord, custodian_store::StoredAlert)> {
    nonempty("--by", by)?;
    let a = stored_alert(store, alert).await?;
    let case = format!(
        "CASE-{}",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            format!("{alert}\n{}", at.to_rfc3339()).as_bytes()
        ))[..12]
    );
    let open = CaseAct::Open {
        alert: alert.into(),
        subject: a.user.clone(),
        by: by.into(),
        severity: a.severity.clone(),
        score: a.score,
    };
    let r = append(store, ledger, at, &a.user, &case, open).await?;
    Ok((case, r, a))
}

/// Every case with its state, by id.
pub async fn list(store: &dyn Store) -> Result<Vec<(String, Value)>> {
    let mut cases: BTreeMap<String, Vec<(CustodyRecord, Value)>> = BTreeMap::new();
    for r in store.custody_records("case", None, None).await? {
        if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
            if let Some(c) = v["case"].as_str() {
                cases.entry(c.to_string()).or_default().push((r, v));
            }
        }
    }
    Ok(cases
        .into_iter()
        .map(|(id, mut a)| {
            a.sort_by(|x, y| x.0.at.cmp(&y.0.at).then(x.0.id.cmp(&y.0.id)));
            let st = state(&a);
            (id, st)
        })
        .collect())
}

/// The stored alerts, highest score first (ties by id), at most `limit`.
pub async fn ranked_alerts(
    store: &dyn Store,
    limit: usize,
) -> std::result::Result<Vec<custodian_store::StoredAlert>, custodian_store::StoreError> {
    let mut list = store.alerts(u32::MAX).await?;
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    list.truncate(limit);
    Ok(list)
}

/// A stored alert as the API and `custodian alerts --json` show it.
pub fn alert_json(a: &custodian_store::StoredAlert) -> Value {
    json!({"id": a.id, "user": a.user, "raised_at": a.raised_at.to_rfc3339(),
           "severity": a.severity, "score": a.score,
           "alert": serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null)})
}

/// Who acknowledged each alert, and when (the latest acknowledgement).
pub async fn acknowledgements(store: &dyn Store) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for r in store.custody_records("alert_ack", None, None).await? {
        if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
            if let Some(a) = v["alert"].as_str() {
                out.insert(a.to_string(), v);
            }
        }
    }
    Ok(out)
}

/// Acknowledges a stored alert (seen and triaged, whether or not a case
/// follows); a ledgered custody record of kind `alert_ack`.
pub async fn acknowledge(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    alert: &str,
    by: &str,
    note: Option<&str>,
) -> Result<CustodyRecord> {
    if let Some(n) = note {
        if n.len() > 10_000 {
            bail!("the note is at most 10,000 bytes");
        }
    }
    let a = stored_alert(store, alert).await?;
    let r = Record::AlertAck {
        alert: alert.into(),
        by: by.into(),
        note: note.filter(|n| !n.trim().is_empty()).map(str::to_string),
        at: at.to_rfc3339(),
    }
    .stored(None, &a.user, at)?;
    store
        .insert_custody(std::slice::from_ref(&r), ledger)
        .await?;
    Ok(r)
}

/// Records that `by` was shown the real name behind a pseudonym, and why;
/// a ledgered custody record of kind `reveal` (the person's page lists it).
pub async fn reveal(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    user: &str,
    by: &str,
    reason: &str,
) -> Result<CustodyRecord> {
    if reason.trim().len() < 4 || reason.len() > 2_000 {
        bail!("say why the name is needed (4 to 2,000 characters)");
    }
    let r = Record::Reveal {
        subject: user.into(),
        by: by.into(),
        reason: reason.trim().into(),
        at: at.to_rfc3339(),
    }
    .stored(None, user, at)?;
    store
        .insert_custody(std::slice::from_ref(&r), ledger)
        .await?;
    Ok(r)
}
