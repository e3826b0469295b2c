//! People's accounts on the console and the roles they hold.
//!
//! Rules:
//! * Five roles (DESIGN.md): an employee reports approaches and takes
//!   copies, an owner decides on their documents, an analyst works alerts
//!   and cases under pseudonyms, an auditor verifies the ledger, an
//!   administrator keeps the register and accounts. Nobody holds two: an
//!   account is one role.
//! * Only an Argon2id hash of a password is kept, with a fresh random salt
//!   each time it is set; a password has at least 12 characters.
//! * A username is 1-64 characters without spaces; an account that names a
//!   person names one in the directory.
//! * Accounts are disabled, never deleted, so what they did stays
//!   attributable.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use custodian_store::{Account, Store};

use crate::error::{AppError, Result};

/// The roles of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Employee,
    Owner,
    Analyst,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Employee,
        Role::Owner,
        Role::Analyst,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employee => "employee",
            Role::Owner => "owner",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role named `s`, or why not.
    pub fn named(s: &str) -> Result<Role> {
        Role::parse(s).ok_or_else(|| {
            AppError::Invalid(format!(
                "unknown role '{s}' (one of employee, owner, analyst, auditor, admin)"
            ))
        })
    }
}

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// An Argon2id PHC string for `password` with `salt` (16 random bytes).
pub fn hash_password(password: &str, salt: &[u8]) -> Result<String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| AppError::Failed(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Failed(format!("cannot hash the password: {e}")))
}

/// Whether `password` is the one `phc` (an Argon2id PHC string) was made of.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The SHA-256 (hex) an API token is stored under.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates or replaces the account `username` with `role`, linked to
/// `person` (who must be in the directory), and `password`.
pub async fn set(
    store: &dyn Store,
    username: &str,
    role: &str,
    person: Option<String>,
    password: &str,
) -> Result<Account> {
    if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace) {
        return Err(AppError::Invalid(
            "the username must be 1-64 characters without spaces".into(),
        ));
    }
    let role = Role::named(role)?;
    if let Some(p) = &person {
        if store.person(p).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "no person '{p}' in the directory"
            )));
        }
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let account = Account {
        username: username.into(),
        role: role.as_str().into(),
        user_id: person,
        password_hash: hash_password(password, &random_bytes::<16>())?,
        disabled: false,
    };
    store.put_account(&account).await?;
    Ok(account)
}

/// Disables the account `username`: it can no longer log in.
pub async fn disable(store: &dyn Store, username: &str) -> Result<()> {
    let Some(mut a) = store.account(username).await? else {
        return Err(AppError::NotFound(format!("no account '{username}'")));
    };
    a.disabled = true;
    store.put_account(&a).await?;
    Ok(())
}

/// A fresh password of 16 URL-safe characters (96 random bits).
pub fn fresh_password() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<12>())
}
