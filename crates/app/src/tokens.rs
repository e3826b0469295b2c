//! API tokens: creating, listing and revoking them.
//!
//! Rules:
//! * A token is `cst_` and 256 random bits; it is shown once, when it is
//!   created, and only its SHA-256 is kept. Its name is unique and it holds
//!   one role.
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

use custodian_store::{ApiToken, CustodyRecord, LedgerContext, Store, StoreError};

use crate::accounts::{random_bytes, token_sha256, Role};

use crate::error::{AppError, Result};
use crate::records::Record;

/// Creates the token `name` with `role` at `at`, and gives it back: the only
/// time it is seen.
pub async fn create(
    store: &dyn Store,
    at: DateTime<FixedOffset>,
    name: &str,
    role: &str,
) -> Result<String> {
    use base64::Engine as _;
    let role = Role::named(role)?;
    if name.is_empty() || name.len() > 64 || name.contains(char::is_whitespace) {
        return Err(AppError::Invalid(
            "a token's name must be 1-64 characters without spaces".into(),
        ));
    }
    let token = format!(
        "cst_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    );
    let stored = ApiToken {
        token_sha256: token_sha256(&token),
        name: name.into(),
        role: role.as_str().into(),
        created_at: at.to_rfc3339(),
        revoked_at: None,
    };
    match store.put_api_token(&stored).await {
        Ok(()) => Ok(token),
        Err(StoreError::Conflict { .. }) => Err(AppError::Conflict(format!(
            "an API token is called '{name}' already (names are unique)"
        ))),
        Err(e) => Err(e.into()),
    }
}

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
    .keep(store, ledger, None, "", at)
    .await?;
    Ok(r)
}
