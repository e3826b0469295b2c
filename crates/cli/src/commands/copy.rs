//! The broker on the command line: `people acknowledge`, `copy approve`,
//! `copy issue`, and `trace` (PDF copies: word-gap geometry, token and
//! visible mark; text copies: wording, token and banner).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use custodian_broker::ContentKey;
use custodian_core::policy::{decide, Approval, Decision, PersonAt, RequestContext};
use custodian_core::Level;
use custodian_fingerprint::{text, Code, CodeParams};
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
        /// For Markdown and text contents: `pdf` (Custodian typesets the
        /// copy) or `text`. Default: `pdf` when FILE ends in .pdf, else
        /// `text`. PDF contents are always issued as PDF.
        #[arg(long, value_parser = ["pdf", "text"])]
        format: Option<String>,
    },
    /// The copies issued (and refused) for a document.
    List { doc: String },
}

pub(crate) fn hex_of(b: &[u8]) -> String {
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

/// The plain form Custodian typesets a Markdown or text source from.
fn typeset_form(source: &str) -> String {
    custodian_pdfmark::typeset::plain(&custodian_pdfmark::typeset::parse(source))
}

/// Which form a copy record was issued in: "pdf" (a PDF content), "typeset"
/// (a Markdown/text content typeset as PDF) or "text".
fn copy_form(v: &Value) -> &str {
    match v["form"].as_str() {
        Some(f) => f,
        None if v["media_type"] == "application/pdf" => "pdf",
        None => "text",
    }
}

fn pdf_code(settings: &Settings, doc: &str, pages: &[custodian_pdfmark::PageText]) -> Result<Code> {
    let master = fingerprint_key(settings)?;
    Ok(custodian_pdfmark::code_for(
        pages,
        master.mac("tardos document key", doc.as_bytes()),
        &PARAMS,
    ))
}

/// The company's label for a level (`[marking]` in custodian.toml).
fn label(settings: &Settings, level: Level) -> &str {
    let m = &settings.marking;
    match level {
        Level::Secret => &m.secret,
        Level::Confidential => &m.confidential,
        Level::Internal => &m.internal,
        Level::Public => &m.public,
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
    let r = CustodyRecord::new(
        "acknowledgement",
        None,
        person,
        at,
        &json!({"type": "acknowledgement", "user": person, "policy": policy, "at": at.to_rfc3339()}),
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
            let r = CustodyRecord::new(
                "approval",
                Some(&doc),
                &for_user,
                at,
                &json!({"type": "approval", "doc": doc, "for": for_user, "by": by, "at": at.to_rfc3339()}),
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
            format,
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
                let r = CustodyRecord::new(
                    "refusal",
                    Some(&doc),
                    &to,
                    at,
                    &json!({"type": "refusal", "doc": doc, "to": to, "purpose": purpose, "reason": why, "at": at.to_rfc3339()}),
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
            let key = super::register::content_key(&settings.content_key_file)?;
            let plain = key.open(&sealed)?;
            let index = {
                use rand::RngCore;
                rand::rngs::OsRng.next_u64() >> 1
            };
            let copy_id = format!("CP-{index:016x}");
            let tag =
                hex_of(&fingerprint_key(settings)?.mac("copy token", copy_id.as_bytes())[..8]);
            let token = format!("{copy_id}.{tag}");
            let notice = settings.marking.notice.as_str();
            let mark = custodian_pdfmark::Mark {
                banner: label(settings, d.classification).into(),
                lines: vec![
                    format!("{} ({to})", person.name),
                    copy_id.clone(),
                    at.format("%Y-%m-%d").to_string(),
                ],
                notice: notice.to_string(),
                qr: format!("custodian:{copy_id}:{tag}"),
                token: token.clone(),
            };
            let typeset = match format.as_deref() {
                Some(f) => f == "pdf",
                None => out
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("pdf")),
            };
            let (copy, form, carriers, sites, code_len): (Vec<u8>, &str, Vec<&str>, usize, usize) =
                if sealed.media_type == "application/pdf" {
                    let limits = custodian_pdfmark::Limits::default();
                    let pages = custodian_pdfmark::Pdf::load(&plain, &limits)
                        .and_then(|p| p.read_pages(&limits))
                        .with_context(|| format!("the content of {doc}"))?;
                    let code = pdf_code(settings, &doc, &pages)?;
                    let bytes = custodian_pdfmark::issue_copy(&plain, &code, index, &mark, &limits)
                        .with_context(|| format!("issuing a copy of {doc}"))?;
                    (
                        bytes,
                        "pdf",
                        vec!["geometry", "token", "visible-mark", "qr"],
                        custodian_pdfmark::positions(&pages).len(),
                        code.len(),
                    )
                } else if typeset {
                    // The wording varies on the plain form Custodian
                    // typesets; the mark goes on every page.
                    let source =
                        String::from_utf8(plain).context("the content is not UTF-8 text")?;
                    let blocks = custodian_pdfmark::typeset::parse(&source);
                    let form = custodian_pdfmark::typeset::plain(&blocks);
                    let code = doc_code(settings, &doc, &form)?;
                    let worded = text::issue(&form, &code, index);
                    let bytes = custodian_pdfmark::typeset::typeset(
                        &custodian_pdfmark::typeset::with_plain(&blocks, &worded),
                        &d.title,
                        &mark,
                    )
                    .with_context(|| format!("typesetting a copy of {doc}"))?;
                    (
                        bytes,
                        "typeset",
                        vec!["wording", "token", "visible-mark", "qr"],
                        text::sites(&form).len(),
                        code.len(),
                    )
                } else {
                    let source =
                        String::from_utf8(plain).context("the content is not UTF-8 text")?;
                    let code = doc_code(settings, &doc, &source)?;
                    let body = text::issue(&source, &code, index);
                    let banner = format!(
                        "[{}] {} — issued to {} ({}) — copy {} — {}\n{notice}\nCustodian copy token: {}\n\n",
                        label(settings, d.classification),
                        d.title,
                        person.name,
                        to,
                        copy_id,
                        at.format("%Y-%m-%d"),
                        token
                    );
                    (
                        format!("{banner}{body}").into_bytes(),
                        "text",
                        vec!["wording", "token", "visible-mark"],
                        text::sites(&source).len(),
                        code.len(),
                    )
                };
            super::write_private(&out, &copy)?;
            use sha2::{Digest, Sha256};
            let r = CustodyRecord::new(
                "copy",
                Some(&doc),
                &to,
                at,
                &json!({
                    "type": "copy", "copy_id": copy_id, "index": index, "doc": doc, "to": to,
                    "purpose": purpose, "content_sha256": sealed.sha256,
                    "copy_sha256": hex_of(&Sha256::digest(&copy)),
                    "media_type": sealed.media_type, "form": form, "carriers": carriers, "code_length": code_len,
                    "at": at.to_rfc3339(),
                }),
            );
            store
                .insert_custody(std::slice::from_ref(&r), &ledger)
                .await?;
            println!(
                "issued {copy_id} of {doc} to {to} into {} ({sites} positions carry its fingerprint; ledger record {})",
                out.display(),
                r.id
            );
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
    let limits = custodian_pdfmark::Limits::default();
    let leak_pdf = if bytes.starts_with(b"%PDF-") {
        let pdf = custodian_pdfmark::Pdf::load(&bytes, &limits)
            .with_context(|| format!("{} cannot be read as a PDF", args.file.display()))?;
        let pages = pdf
            .read_pages(&limits)
            .with_context(|| format!("{} cannot be read as a PDF", args.file.display()))?;
        Some((pdf.token(), pages))
    } else {
        None
    };
    // A scan or photo: the QR code of the mark, and the text by OCR.
    let mut scan_notes: Vec<Value> = Vec::new();
    let mut qr_token: Option<String> = None;
    let leak = if leak_pdf.is_some() {
        String::new()
    } else if custodian_pdfmark::scan::is_image(&bytes) {
        let limits = custodian_pdfmark::scan::ImageLimits::default();
        let img = custodian_pdfmark::scan::load_gray(&bytes, &limits)
            .with_context(|| format!("{} cannot be read as an image", args.file.display()))?;
        for q in custodian_pdfmark::scan::read_qr(&img) {
            if let Some((cid, tag)) = q.strip_prefix("custodian:").and_then(|r| r.split_once(':')) {
                qr_token = Some(format!("{cid}.{tag}"));
            }
        }
        match custodian_pdfmark::scan::ocr(&bytes, &limits) {
            Ok(t) => {
                scan_notes.push(json!(format!(
                    "the image was read by OCR ({} characters)",
                    t.chars().count()
                )));
                t
            }
            Err(e) => {
                scan_notes.push(json!(format!("the image's text was not read: {e}")));
                String::new()
            }
        }
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let copies = store.custody_records("copy", None, None).await?;
    let mut notes: Vec<Value> = Vec::new();
    let parsed: Vec<(CustodyRecord, Value)> = copies
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok().map(|v| (r, v)))
        .collect();
    let mut report = json!({"file": args.file.display().to_string(), "hint": null,
                            "transplant": false, "accused": [], "notes": []});
    let mut accused_out: Vec<Value> = Vec::new();
    // 1. The token (metadata, QR code or text line): a hint of which copy
    // to check, never the accusation. A token lifted from a colleague's
    // copy is valid by construction; only the fingerprint (step 2)
    // accuses, and the token is judged against it below.
    let key = super::register::content_key(&settings.content_key_file)?;
    notes.extend(scan_notes);
    let source = match (&leak_pdf, &qr_token) {
        (Some(_), _) => "metadata token",
        (None, Some(_)) => "QR code",
        (None, None) => "token line",
    };
    let token: Option<String> = match &leak_pdf {
        Some((t, _)) => t.clone(),
        None if qr_token.is_some() => qr_token.clone(),
        None => leak.find("Custodian copy token: ").map(|p| {
            leak[p + 22..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect()
        }),
    };
    let file_sha = {
        use sha2::{Digest, Sha256};
        hex_of(&Sha256::digest(&bytes))
    };
    if let Some((r, v)) = parsed
        .iter()
        .find(|(_, v)| v["copy_sha256"] == file_sha.as_str())
    {
        notes.push(json!(format!(
            "the file is byte for byte copy {} as issued to {}",
            v["copy_id"].as_str().unwrap_or_default(),
            r.user_id
        )));
    }
    if let Some(tok) = token {
        if let Some((cid, tag)) = tok.split_once('.') {
            // Tagged with the fingerprint key, which rotation leaves alone.
            let good =
                hex_of(&fingerprint_key(settings)?.mac("copy token", cid.as_bytes())[..8]) == tag;
            if let Some((r, v)) = parsed.iter().find(|(_, v)| v["copy_id"] == cid) {
                report["hint"] = json!({"copy_id": cid, "recipient": r.user_id, "doc": v["doc"], "token_valid": good,
                                        "record": r.id, "source": source, "fingerprint": null});
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
        let of_doc: Vec<&(CustodyRecord, Value)> = parsed
            .iter()
            .filter(|(_, v)| {
                v["doc"] == doc.as_str() && v["content_sha256"] == sealed.sha256.as_str()
            })
            .collect();
        // Every copy of the document counts in the bound, whichever form
        // it was issued in.
        let n = of_doc.len() as u64;
        // (code, symbols read, what was read, which copies it applies to)
        let mut readings: Vec<(Code, Vec<Option<bool>>, &str, &str)> = Vec::new();
        if sealed.media_type == "application/pdf" {
            let Some((_, leak_pages)) = &leak_pdf else {
                notes.push(json!(format!(
                    "{doc} is a PDF: its copies carry word-gap geometry, which text pasted out of them, scans and photos do not keep here (scans are not measured); trace the PDF itself, or read the copy id off the page's mark or QR code"
                )));
                continue;
            };
            let pages = custodian_pdfmark::Pdf::load(&plain, &limits)
                .and_then(|p| p.read_pages(&limits))
                .with_context(|| format!("the content of {doc}"))?;
            let code = pdf_code(settings, &doc, &pages)?;
            let r = custodian_pdfmark::read_code(&pages, leak_pages, &code);
            let shown = r.pages.iter().filter(|p| p.is_some()).count();
            if shown > 0 {
                notes.push(json!(format!(
                    "{doc}: {shown} of the file's {} pages show pages of it ({}); {} word gaps measured",
                    r.pages.len(),
                    r.pages
                        .iter()
                        .flatten()
                        .map(|p| (p + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.measured
                )));
            }
            readings.push((code, r.symbols, "word gaps", "pdf"));
        } else {
            let Ok(source) = String::from_utf8(plain) else {
                continue;
            };
            // A PDF leak of a typeset copy is read through its text.
            let leak_text: String = match &leak_pdf {
                Some((_, pages)) => pages
                    .iter()
                    .map(|p| p.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => leak.clone(),
            };
            let code = doc_code(settings, &doc, &source)?;
            let r = text::read_code(&source, &leak_text, &code);
            readings.push((code, r, "wording sites", "text"));
            let form = typeset_form(&source);
            let code = doc_code(settings, &doc, &form)?;
            let r = text::read_code(&form, &leak_text, &code);
            readings.push((code, r, "wording sites", "typeset"));
        }
        for (code, read, what, form) in readings {
            let matched = read.iter().filter(|x| x.is_some()).count();
            if matched == 0 {
                continue;
            }
            let copies: Vec<&&(CustodyRecord, Value)> = of_doc
                .iter()
                .filter(|(_, v)| copy_form(v) == form)
                .collect();
            if copies.is_empty() {
                continue;
            }
            let indices: Vec<u64> = copies
                .iter()
                .filter_map(|(_, v)| v["index"].as_u64())
                .collect();
            let scored = code.score_all(&read, &indices);
            let best = scored.iter().map(|s| s.score).fold(f64::MIN, f64::max);
            let accused = code.accuse(&read, scored, n, args.epsilon);
            if accused.is_empty() {
                let tail = if best > 0.0 {
                    code.innocent_tail(&read, best) * n as f64
                } else {
                    1.0
                };
                notes.push(json!(format!(
                    "{doc} ({form} copies): {matched} of {} {what} read; the best score's case bound is {tail:.2e}, not below ε = {:e}: not enough evidence to accuse anyone",
                    code.len(), args.epsilon
                )));
            }
            for a in accused {
                if let Some((r, v)) = copies
                    .iter()
                    .find(|(_, v)| v["index"].as_u64() == Some(a.recipient))
                {
                    accused_out.push(json!({
                        "doc": doc, "copy_id": v["copy_id"], "recipient": r.user_id, "score": a.score,
                        "innocent_tail": a.innocent_tail, "case_bound": a.case_bound, "sites_read": matched,
                        "carrier": what, "record": r.id, "proof": format!("custodian ledger prove {} --kind custody", r.id),
                    }));
                }
            }
        }
    }
    // The hint against the fingerprint: agrees, contradicts (a token
    // transplanted from another copy), or the fingerprint says nothing.
    if let Some(hinted) = report["hint"]["recipient"].as_str().map(str::to_string) {
        let named: Vec<&str> = accused_out
            .iter()
            .filter_map(|a| a["recipient"].as_str())
            .collect();
        let verdict = if named.is_empty() {
            "silent"
        } else if named.contains(&hinted.as_str()) {
            "agrees"
        } else {
            "contradicts"
        };
        report["hint"]["fingerprint"] = json!(verdict);
        if verdict == "contradicts" {
            report["transplant"] = json!(true);
            notes.push(json!(format!(
                "the {source} names {hinted}'s copy but the fingerprint names {}: the token was put in from another copy (a transplant); the fingerprint is the evidence",
                named.join(", ")
            )));
        }
    }
    report["notes"] = Value::Array(notes);
    report["accused"] = Value::Array(accused_out);
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
