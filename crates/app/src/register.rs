//! The register's use cases: designating an entry, changing its level,
//! putting its content in custody, rotating the content key, and who may
//! open an entry now.
//!
//! Rules:
//! - Every change is a ledgered register change in the same transaction
//!   as the entry it changes: the "managed as secret" evidence (who
//!   designated what, at which level, when).
//! - An entry's id is unique; its owner is a person in the directory; a
//!   confidential or secret entry names at least one project (or `*`).
//! - Setting the level it already has changes nothing and records nothing.
//! - Contents are sealed with the content key bound to the entry; only
//!   ciphertext is stored, and the change carries the content's SHA-256.
//! - A rotation re-seals every content still under another key, so an
//!   interrupted rotation is finished by running it again.
//! - "Who may open it now" is `core::policy::decide` for every person as of
//!   `at` (transfers replayed), without the release-only acknowledgement.

use chrono::{DateTime, FixedOffset};

use custodian_broker::ContentKey;
use custodian_core::model::split_projects;
use custodian_core::policy::{decide, PersonAt, RequestContext};
use custodian_core::{Document, Level, Medium, Projects};
use custodian_store::{LedgerContext, RegisterChange, SealedContent, Store};

use crate::error::{AppError, Result};

/// A new register entry as asked for.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub owner: String,
    /// `;`-separated need-to-know groups, or `*` for everyone.
    pub projects: String,
    pub kind: String,
    /// Knowledge with no file (a plan briefed at meetings).
    pub knowledge: bool,
    pub actor: String,
}

/// Designates a new entry at `at`.
pub async fn designate(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    e: NewEntry,
) -> Result<Document> {
    if store.document(&e.id).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "register entry '{}' already exists (use set-level to change it)",
            e.id
        )));
    }
    if store.person(&e.owner).await?.is_none() {
        return Err(AppError::NotFound(format!(
            "no person '{}' in the directory to own '{}'",
            e.owner, e.id
        )));
    }
    let projects = if e.projects.trim() == "*" {
        Projects::Everyone
    } else {
        Projects::Groups(split_projects(&e.projects))
    };
    if e.level.needs_need_to_know() && projects == Projects::Groups(Default::default()) {
        return Err(AppError::Invalid(format!(
            "a {} entry needs at least one project (or * for everyone)",
            e.level
        )));
    }
    let d = Document {
        doc_id: e.id.clone(),
        title: e.title,
        classification: e.level,
        owner_id: e.owner,
        projects,
        kind: e.kind,
        created: at.date_naive(),
        medium: if e.knowledge {
            Medium::Knowledge
        } else {
            Medium::File
        },
    };
    let change = RegisterChange {
        doc_id: e.id,
        at,
        actor: e.actor,
        field: "designated".into(),
        old: None,
        new: e.level.to_string(),
    };
    store
        .put_documents(std::slice::from_ref(&d), &[change], ledger)
        .await?;
    Ok(d)
}

/// Changes `doc`'s level; the level it had, or `None` when it had `level`
/// already (nothing is recorded then).
pub async fn set_level(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    doc: &str,
    level: Level,
    actor: &str,
) -> Result<Option<Level>> {
    let Some(mut d) = store.document(doc).await? else {
        return Err(AppError::NotFound(format!("no register entry '{doc}'")));
    };
    if d.classification == level {
        return Ok(None);
    }
    let old = d.classification;
    let change = RegisterChange {
        doc_id: doc.into(),
        at,
        actor: actor.into(),
        field: "level".into(),
        old: Some(old.to_string()),
        new: level.to_string(),
    };
    d.classification = level;
    store.put_documents(&[d], &[change], ledger).await?;
    Ok(Some(old))
}

/// The media type of a content: PDF by its magic, Markdown by the name,
/// else plain text.
pub fn media_type(name: &std::path::Path, bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if name
        .extension()
        .is_some_and(|e| e == "md" || e == "markdown")
    {
        "text/markdown"
    } else {
        "text/plain"
    }
}

/// Puts `bytes` in custody as `doc`'s content, sealed with `key`.
#[allow(clippy::too_many_arguments)]
pub async fn attach(
    store: &dyn Store,
    ledger: &LedgerContext,
    key: &ContentKey,
    at: DateTime<FixedOffset>,
    doc: &str,
    bytes: &[u8],
    media_type: &str,
    actor: &str,
) -> Result<SealedContent> {
    if store.document(doc).await?.is_none() {
        return Err(AppError::NotFound(format!("no register entry '{doc}'")));
    }
    let sealed = key.seal(doc, bytes, media_type);
    let old = store.content(doc).await?.map(|c| c.sha256);
    let change = RegisterChange {
        doc_id: doc.into(),
        at,
        actor: actor.into(),
        field: "content".into(),
        old,
        new: format!(
            "sha256:{} {} bytes {}",
            sealed.sha256, sealed.size, sealed.media_type
        ),
    };
    store.put_content(&sealed, &change, ledger).await?;
    Ok(sealed)
}

/// Re-seals every content not yet under `new`; how many were re-sealed.
pub async fn rotate_key(
    store: &dyn Store,
    ledger: &LedgerContext,
    old: &ContentKey,
    new: &ContentKey,
    at: DateTime<FixedOffset>,
    actor: &str,
) -> Result<usize> {
    if new.id() == old.id() {
        return Err(AppError::Invalid("the new key is the key in use".into()));
    }
    let mut n = 0;
    for (doc, key_id) in store.content_keys().await? {
        if key_id == new.id() {
            continue; // done by an earlier, interrupted rotation
        }
        let Some(sealed) = store.content(&doc).await? else {
            continue;
        };
        let resealed = custodian_broker::reseal(&sealed, old, new)
            .map_err(|e| AppError::Failed(format!("re-sealing {doc}: {e}")))?;
        let change = RegisterChange {
            doc_id: doc.clone(),
            at,
            actor: actor.into(),
            field: "content-key".into(),
            old: Some(old.id().to_string()),
            new: new.id().to_string(),
        };
        store.put_content(&resealed, &change, ledger).await?;
        n += 1;
    }
    Ok(n)
}

/// An entry, its history, who may open it at `at`, and how many people
/// the directory holds.
pub struct Entry {
    pub document: Document,
    pub history: Vec<RegisterChange>,
    pub may_open: Vec<String>,
    pub people: usize,
}

/// `doc` as `register show` shows it.
pub async fn show(store: &dyn Store, doc: &str, at: DateTime<FixedOffset>) -> Result<Entry> {
    let Some(d) = store.document(doc).await? else {
        return Err(AppError::NotFound(format!("no register entry '{doc}'")));
    };
    let history = store.register_history(doc).await?;
    let people = store.people().await?;
    let mut may_open = Vec::new();
    for p in &people {
        let hr = store.hr_events_for(&p.user_id).await?;
        let who = PersonAt::reconstruct(p, &hr, at.to_utc());
        if decide(&who, &d, &RequestContext::default()).is_allow() {
            may_open.push(p.user_id.clone());
        }
    }
    Ok(Entry {
        document: d,
        history,
        may_open,
        people: people.len(),
    })
}
