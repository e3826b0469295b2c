//! Tracing a leaked file back to the copy it came from.
//!
//! Rules:
//! - Accepts a PDF, text (pasted out of a copy, retyped, OCR'd) or a scan or
//!   photo of pages (PNG/JPEG: the QR code of the mark, and the text by
//!   OCR), at most [`MAX_TRACE_BYTES`]; every reader is bounded.
//! - Only the fingerprint accuses: per document with copies, the sites the
//!   leak shows are read and scored against every copy of that document,
//!   and a recipient is named only when an innocent copy's chance to score
//!   as high, times the number of copies, is below the case's ε.
//! - A copy token (in the PDF's metadata, the QR code or the text's token
//!   line) is a hint of which copy to check, never the accusation: it can be
//!   lifted from a colleague's copy. It is judged against the fingerprint:
//!   agrees, silent, or contradicts (a transplant, said so in the report).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use custodian_fingerprint::{text, Code};
use custodian_store::{CustodyRecord, Store};

use crate::custody::{pdf_code, text_code, token_tag, typeset_form, Keys};
use crate::error::{AppError, Result};
use crate::records::{Copy, Record};

/// Files larger than this are not read (a leak handed in is untrusted).
pub const MAX_TRACE_BYTES: u64 = 64 << 20;

/// Traces `bytes` (named `file` in the report) with the false-accusation
/// bound `epsilon`; the report is JSON: `file`, `hint` (the token's copy and
/// the fingerprint's verdict on it), `transplant`, `accused` (each with its
/// score, bounds and the ledger record of the copy) and `notes`.
pub async fn trace(
    store: &dyn Store,
    keys: &Keys,
    file: &str,
    bytes: &[u8],
    epsilon: f64,
) -> Result<Value> {
    if bytes.len() as u64 > MAX_TRACE_BYTES {
        return Err(AppError::Invalid(format!(
            "{file} is {} bytes; tracing reads at most {MAX_TRACE_BYTES}",
            bytes.len()
        )));
    }
    let limits = custodian_pdfmark::Limits::default();
    let leak_pdf = if bytes.starts_with(b"%PDF-") {
        let pdf = custodian_pdfmark::Pdf::load(bytes, &limits)
            .map_err(|e| AppError::Invalid(format!("{file} cannot be read as a PDF: {e}")))?;
        let pages = pdf
            .read_pages(&limits)
            .map_err(|e| AppError::Invalid(format!("{file} cannot be read as a PDF: {e}")))?;
        Some((pdf.token(), pages))
    } else {
        None
    };
    // A scan or photo: the QR code of the mark, and the text by OCR.
    let mut scan_notes: Vec<Value> = Vec::new();
    let mut qr_token: Option<String> = None;
    let leak = if leak_pdf.is_some() {
        String::new()
    } else if custodian_pdfmark::scan::is_image(bytes) {
        let limits = custodian_pdfmark::scan::ImageLimits::default();
        let img = custodian_pdfmark::scan::load_gray(bytes, &limits)
            .map_err(|e| AppError::Invalid(format!("{file} cannot be read as an image: {e}")))?;
        for q in custodian_pdfmark::scan::read_qr(&img) {
            if let Some((cid, tag)) = q.strip_prefix("custodian:").and_then(|r| r.split_once(':')) {
                qr_token = Some(format!("{cid}.{tag}"));
            }
        }
        match custodian_pdfmark::scan::ocr(bytes, &limits) {
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
        String::from_utf8_lossy(bytes).into_owned()
    };
    let mut notes: Vec<Value> = Vec::new();
    // A copy record that does not read is said, not skipped in silence:
    // its recipient cannot be accused or cleared.
    let mut parsed: Vec<(CustodyRecord, Copy)> = Vec::new();
    for r in store.custody_records("copy", None, None).await? {
        match Record::of(&r) {
            Ok(Record::Copy(c)) => parsed.push((r, c)),
            Ok(other) => notes.push(json!(format!(
                "custody record {} is filed as a copy but is a {}; left out",
                r.id,
                other.kind()
            ))),
            Err(e) => notes.push(json!(format!("{e}; left out"))),
        }
    }
    let mut report = json!({"file": file, "hint": null,
                            "transplant": false, "accused": [], "notes": []});
    let mut accused_out: Vec<Value> = Vec::new();
    // 1. The token (metadata, QR code or text line): a hint of which copy
    // to check, never the accusation. A token lifted from a colleague's
    // copy is valid by construction; only the fingerprint (step 2)
    // accuses, and the token is judged against it below.
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
    let file_sha = hex::encode(Sha256::digest(bytes));
    if let Some((r, v)) = parsed.iter().find(|(_, v)| v.copy_sha256 == file_sha) {
        notes.push(json!(format!(
            "the file is byte for byte copy {} as issued to {}",
            v.copy_id, r.user_id
        )));
    }
    if let Some(tok) = token {
        if let Some((cid, tag)) = tok.split_once('.') {
            // Tagged with the fingerprint key, which rotation leaves alone.
            let good = token_tag(keys, cid) == tag;
            if let Some((r, v)) = parsed.iter().find(|(_, v)| v.copy_id == cid) {
                report["hint"] = json!({"copy_id": cid, "recipient": r.user_id, "doc": v.doc, "token_valid": good,
                                        "record": r.id, "source": source, "fingerprint": null});
            }
        }
    }
    // 2. The wording: per document with copies, read the sites and accuse
    // with the per-case bound.
    let mut docs: Vec<String> = parsed.iter().map(|(_, v)| v.doc.clone()).collect();
    docs.sort();
    docs.dedup();
    for doc in docs {
        let Some(sealed) = store.content(&doc).await? else {
            continue;
        };
        let Ok(plain) = keys.content.open(&sealed) else {
            notes.push(json!(format!(
                "{doc}: content does not open with the current key"
            )));
            continue;
        };
        let of_doc: Vec<&(CustodyRecord, Copy)> = parsed
            .iter()
            .filter(|(_, v)| v.doc == doc && v.content_sha256 == sealed.sha256)
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
                .map_err(|e| AppError::Failed(format!("the content of {doc}: {e}")))?;
            let code = pdf_code(keys, &doc, &pages);
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
            let code = text_code(keys, &doc, &source);
            let r = text::read_code(&source, &leak_text, &code);
            readings.push((code, r, "wording sites", "text"));
            let form = typeset_form(&source);
            let code = text_code(keys, &doc, &form);
            let r = text::read_code(&form, &leak_text, &code);
            readings.push((code, r, "wording sites", "typeset"));
        }
        for (code, read, what, form) in readings {
            let matched = read.iter().filter(|x| x.is_some()).count();
            if matched == 0 {
                continue;
            }
            let copies: Vec<&&(CustodyRecord, Copy)> =
                of_doc.iter().filter(|(_, v)| v.form() == form).collect();
            if copies.is_empty() {
                continue;
            }
            let indices: Vec<u64> = copies.iter().map(|(_, v)| v.index).collect();
            let scored = code.score_all(&read, &indices);
            let best = scored.iter().map(|s| s.score).fold(f64::MIN, f64::max);
            let accused = code.accuse(&read, scored, n, epsilon);
            if accused.is_empty() {
                let tail = if best > 0.0 {
                    code.innocent_tail(&read, best) * n as f64
                } else {
                    1.0
                };
                notes.push(json!(format!(
                    "{doc} ({form} copies): {matched} of {} {what} read; the best score's case bound is {tail:.2e}, not below ε = {:e}: not enough evidence to accuse anyone",
                    code.len(), epsilon
                )));
            }
            for a in accused {
                if let Some((r, v)) = copies.iter().find(|(_, v)| v.index == a.recipient) {
                    accused_out.push(json!({
                        "doc": doc, "copy_id": v.copy_id, "recipient": r.user_id, "score": a.score,
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
    Ok(report)
}
