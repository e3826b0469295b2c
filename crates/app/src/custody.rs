//! The broker's use cases: acknowledging the secrecy policy, an owner's
//! approval, issuing a traceable copy, and the copies of a document.
//!
//! Rules:
//! - Every answer is ledgered: an acknowledgement, an approval, a copy and a
//!   refusal are custody records in the same transaction as their ledger
//!   leaves. A refused copy is recorded with its reason, not only reported.
//! - Only the document's current owner approves, and only for a person in
//!   the directory.
//! - Whether a copy may be issued is `core::policy::decide` with the
//!   person as of the request (transfers replayed), the approvals on record
//!   and their acknowledgements: nothing here adds a rule to it.
//! - A copy carries a fingerprint derived from the fingerprint key (never
//!   the content key, so rotating the content key changes nobody's
//!   fingerprint), a copy token tagged with that key, and the visible mark
//!   in the company's words ([`Marking`]).
//! - The time is the caller's (`at`); the copy's index is drawn here from
//!   the operating system's generator.

use chrono::{DateTime, FixedOffset};
use sha2::{Digest, Sha256};

use custodian_broker::ContentKey;
use custodian_core::policy::{decide, Approval, Decision, PersonAt, RequestContext};
use custodian_core::Level;
use custodian_fingerprint::{text, Code, CodeParams};
use custodian_store::{CustodyRecord, LedgerContext, Store};

use crate::error::{AppError, Result};
use crate::records::{Copy, Record};

/// What copies are sized for: up to 100,000 recipients of a document and
/// 4 colluders, ε = 10⁻⁶ for a whole case.
pub const PARAMS: CodeParams = CodeParams {
    recipients: 100_000,
    colluders: 4,
    epsilon: 1e-6,
};

/// The keys custody works with, loaded by the frontend.
pub struct Keys {
    /// Seals register contents.
    pub content: ContentKey,
    /// Derives fingerprints and tags copy tokens.
    pub fingerprint: ContentKey,
}

/// The words of the visible mark: the company's label per level and its
/// legal notice (validated by the frontend's settings).
#[derive(Debug, Clone)]
pub struct Marking {
    pub secret: String,
    pub confidential: String,
    pub internal: String,
    pub public: String,
    pub notice: String,
}

impl Marking {
    /// The company's label for a level.
    pub fn label(&self, level: Level) -> &str {
        match level {
            Level::Secret => &self.secret,
            Level::Confidential => &self.confidential,
            Level::Internal => &self.internal,
            Level::Public => &self.public,
        }
    }
}

/// The tag of a copy id: the first 8 bytes of its MAC under the
/// fingerprint key, in hex.
pub fn token_tag(keys: &Keys, copy_id: &str) -> String {
    hex::encode(&keys.fingerprint.mac("copy token", copy_id.as_bytes())[..8])
}

/// The code of a text (or typeset) document's wording.
pub fn text_code(keys: &Keys, doc: &str, source: &str) -> Code {
    text::code_for(
        source,
        keys.fingerprint.mac("tardos document key", doc.as_bytes()),
        &PARAMS,
    )
}

/// The code of a PDF document's word gaps.
pub fn pdf_code(keys: &Keys, doc: &str, pages: &[custodian_pdfmark::PageText]) -> Code {
    custodian_pdfmark::code_for(
        pages,
        keys.fingerprint.mac("tardos document key", doc.as_bytes()),
        &PARAMS,
    )
}

/// The plain form Custodian typesets a Markdown or text source from.
pub fn typeset_form(source: &str) -> String {
    custodian_pdfmark::typeset::plain(&custodian_pdfmark::typeset::parse(source))
}

/// Records that `person` acknowledged the secrecy policy `policy`.
pub async fn acknowledge(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    person: &str,
    policy: &str,
) -> Result<CustodyRecord> {
    if store.person(person).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "no person '{person}' in the directory"
        )));
    }
    let r = Record::Acknowledgement {
        user: person.into(),
        policy: policy.into(),
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, None, person, at)
    .await?;
    Ok(r)
}

/// Records the owner `by`'s approval of `doc` for `for_user`.
pub async fn approve(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    doc: &str,
    for_user: &str,
    by: &str,
) -> Result<CustodyRecord> {
    let Some(d) = store.document(doc).await? else {
        return Err(AppError::NotFound(format!("no register entry '{doc}'")));
    };
    if d.owner_id != by {
        return Err(AppError::Forbidden(format!(
            "{by} does not own {doc} (its owner is {}); only the owner approves",
            d.owner_id
        )));
    }
    if store.person(for_user).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "no person '{for_user}' in the directory"
        )));
    }
    let r = Record::Approval {
        doc: doc.into(),
        for_user: for_user.into(),
        by: by.into(),
        at: at.to_rfc3339(),
    }
    .keep(store, ledger, Some(doc), for_user, at)
    .await?;
    Ok(r)
}

/// The approvals on record for `doc`. A record that lacks who approved or
/// for whom is an error (it would otherwise read as an approval for "").
pub async fn approvals(store: &dyn Store, doc: &str) -> Result<Vec<Approval>> {
    let mut out = Vec::new();
    for r in store.custody_records("approval", Some(doc), None).await? {
        match Record::of(&r)? {
            Record::Approval { for_user, by, .. } => out.push(Approval {
                doc_id: doc.into(),
                for_user,
                by_owner: by,
                at: r.at,
            }),
            other => {
                return Err(AppError::Failed(format!(
                    "custody record {} is filed as an approval but is a {}",
                    r.id,
                    other.kind()
                )))
            }
        }
    }
    Ok(out)
}

/// A request for a copy.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub doc: String,
    pub to: String,
    pub purpose: Option<String>,
    /// For Markdown and text contents: typeset the copy as PDF (else plain
    /// text). PDF contents are always issued as PDF.
    pub typeset: bool,
}

/// A copy issued.
#[derive(Debug)]
pub struct Issued {
    pub copy_id: String,
    pub bytes: Vec<u8>,
    /// How many positions carry its fingerprint.
    pub sites: usize,
    pub record: CustodyRecord,
}

/// What a request for a copy came to.
#[derive(Debug)]
pub enum CopyOutcome {
    Issued(Issued),
    /// Refused by the policy; the refusal is recorded.
    Refused {
        decision: Decision,
        record: CustodyRecord,
    },
}

/// Decides a request for a copy and, if the policy allows it, issues a
/// fingerprinted copy; either way the answer is ledgered.
pub async fn issue(
    store: &dyn Store,
    ledger: &LedgerContext,
    keys: &Keys,
    marking: &Marking,
    at: DateTime<FixedOffset>,
    req: &CopyRequest,
) -> Result<CopyOutcome> {
    let (doc, to) = (req.doc.as_str(), req.to.as_str());
    let Some(d) = store.document(doc).await? else {
        return Err(AppError::NotFound(format!("no register entry '{doc}'")));
    };
    let Some(person) = store.person(to).await? else {
        return Err(AppError::NotFound(format!(
            "no person '{to}' in the directory"
        )));
    };
    let hr = store.hr_events_for(to).await?;
    let who = PersonAt::reconstruct(&person, &hr, at.to_utc());
    let approvals = approvals(store, doc).await?;
    let acks: Vec<DateTime<FixedOffset>> = store
        .custody_records("acknowledgement", None, Some(to))
        .await?
        .into_iter()
        .map(|r| r.at)
        .collect();
    let decision = decide(
        &who,
        &d,
        &RequestContext {
            approvals: &approvals,
            acknowledged: Some(&acks),
        },
    );
    if !decision.is_allow() {
        let why = decision.to_string();
        let record = Record::Refusal {
            doc: doc.into(),
            to: to.into(),
            purpose: req.purpose.clone(),
            reason: why,
            at: at.to_rfc3339(),
        }
        .stored(Some(doc), to, at)?;
        store
            .insert_custody(std::slice::from_ref(&record), ledger)
            .await?;
        return Ok(CopyOutcome::Refused { decision, record });
    }
    let Some(sealed) = store.content(doc).await? else {
        return Err(AppError::Invalid(format!(
            "{doc} has no content in custody (custodian register attach {doc} FILE)"
        )));
    };
    let plain = keys
        .content
        .open(&sealed)
        .map_err(|e| AppError::Failed(format!("the content of {doc}: {e}")))?;
    let index = {
        use rand::RngCore;
        rand::rngs::OsRng.next_u64() >> 1
    };
    let copy_id = format!("CP-{index:016x}");
    let tag = token_tag(keys, &copy_id);
    let token = format!("{copy_id}.{tag}");
    let notice = marking.notice.as_str();
    let mark = custodian_pdfmark::Mark {
        banner: marking.label(d.classification).into(),
        lines: vec![
            format!("{} ({to})", person.name),
            copy_id.clone(),
            at.format("%Y-%m-%d").to_string(),
        ],
        notice: notice.to_string(),
        qr: format!("custodian:{copy_id}:{tag}"),
        token: token.clone(),
    };
    let failed =
        |what: &str, e: &dyn std::fmt::Display| AppError::Failed(format!("{what} {doc}: {e}"));
    let (copy, form, carriers, sites, code_len): (Vec<u8>, &str, Vec<&str>, usize, usize) =
        if sealed.media_type == "application/pdf" {
            let limits = custodian_pdfmark::Limits::default();
            let pages = custodian_pdfmark::Pdf::load(&plain, &limits)
                .and_then(|p| p.read_pages(&limits))
                .map_err(|e| failed("the content of", &e))?;
            let code = pdf_code(keys, doc, &pages);
            let bytes = custodian_pdfmark::issue_copy(&plain, &code, index, &mark, &limits)
                .map_err(|e| failed("issuing a copy of", &e))?;
            (
                bytes,
                "pdf",
                vec!["geometry", "token", "visible-mark", "qr"],
                custodian_pdfmark::positions(&pages).len(),
                code.len(),
            )
        } else {
            let source = String::from_utf8(plain).map_err(|_| {
                AppError::Invalid(format!("the content of {doc} is not UTF-8 text"))
            })?;
            if req.typeset {
                // The wording varies on the plain form Custodian typesets;
                // the mark goes on every page.
                let blocks = custodian_pdfmark::typeset::parse(&source);
                let form = custodian_pdfmark::typeset::plain(&blocks);
                let code = text_code(keys, doc, &form);
                let worded = text::issue(&form, &code, index);
                let bytes = custodian_pdfmark::typeset::typeset(
                    &custodian_pdfmark::typeset::with_plain(&blocks, &worded),
                    &d.title,
                    &mark,
                )
                .map_err(|e| failed("typesetting a copy of", &e))?;
                (
                    bytes,
                    "typeset",
                    vec!["wording", "token", "visible-mark", "qr"],
                    text::sites(&form).len(),
                    code.len(),
                )
            } else {
                let code = text_code(keys, doc, &source);
                let body = text::issue(&source, &code, index);
                let banner = format!(
                    "[{}] {} — issued to {} ({}) — copy {} — {}\n{notice}\nCustodian copy token: {}\n\n",
                    marking.label(d.classification),
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
            }
        };
    let record = Record::Copy(Copy {
        copy_id: copy_id.clone(),
        index,
        doc: doc.into(),
        to: to.into(),
        purpose: req.purpose.clone(),
        content_sha256: sealed.sha256.clone(),
        copy_sha256: hex::encode(Sha256::digest(&copy)),
        media_type: sealed.media_type.clone(),
        form: Some(form.into()),
        carriers: carriers.iter().map(|c| c.to_string()).collect(),
        code_length: code_len,
        at: at.to_rfc3339(),
    })
    .stored(Some(doc), to, at)?;
    store
        .insert_custody(std::slice::from_ref(&record), ledger)
        .await?;
    Ok(CopyOutcome::Issued(Issued {
        copy_id,
        bytes: copy,
        sites,
        record,
    }))
}

/// The copies issued and refused for `doc`, copies first, each in the
/// order recorded.
pub async fn copies(store: &dyn Store, doc: &str) -> Result<Vec<CustodyRecord>> {
    let mut out = store.custody_records("copy", Some(doc), None).await?;
    out.extend(store.custody_records("refusal", Some(doc), None).await?);
    Ok(out)
}
