//! API tokens: listing and revoking them.
//!
//! Rules:
//! * Revocation is effective at once: every request with a token reads the
//!   token from the store, and a revoked one is refused (401).
//! * A revoked token stays listed, with when it ended; it cannot be revoked
//!   twice, and its name is not reused.
//! * Every revocation is a ledgered custody record of kind
//!   `token_revoked` (who, which token, its role, when), so an auditor can
//!   show when a leaked credential stopped working.
//! * Listing shows names, roles and dates, never the token or its hash.

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use custodian_store::{CustodyRecord, LedgerContext, Store};

use crate::error::{AppError, Result};
use crate::records::Record;

/// Every token as listed to an administrator.
pub async fn list(store: &dyn Store) -> Result<Vec<Value>> {
    Ok(store
        .api_tokens()
        .await?
        .into_iter()
        .map(|t| {
            json!({"name": t.name, "role": t.role, "created_at": t.created_at,
                   "revoked_at": t.revoked_at})
        })
        .collect())
}

/// Revokes the token called `name`, by `by`, at `at`; ledgered.
pub async fn revoke(
    store: &dyn Store,
    ledger: &LedgerContext,
    at: DateTime<FixedOffset>,
    name: &str,
    by: &str,
) -> Result<CustodyRecord> {
    let Some(token) = store
        .api_tokens()
        .await?
        .into_iter()
        .find(|t| t.name == name)
    else {
        return Err(AppError::NotFound(format!(
            "no API token is called '{name}'"
        )));
    };
    if !store.revoke_api_token(name, &at.to_rfc3339()).await? {
        return Err(AppError::Conflict(format!(
            "the API token '{name}' was revoked already"
        )));
    }
    let r = Record::TokenRevoked {
        token: name.into(),
        role: token.role,
        by: by.into(),
        at: at.to_rfc3339(),
    }
    .stored(None, "", at)?;
    store
        .insert_custody(std::slice::from_ref(&r), ledger)
        .await?;
    Ok(r)
}
