//! Accounts and API tokens: the console's local accounts (Argon2id hashes
//! only) and machines' tokens (their SHA-256 only), with revocation.

use custodian_store::{Account, ApiToken, Result};

use crate::*;

impl SqliteStore {
    pub(crate) async fn put_account_in(&self, a: &Account) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO accounts (username, role, user_id, password_hash, disabled) VALUES (?,?,?,?,?)")
            .bind(&a.username)
            .bind(&a.role)
            .bind(&a.user_id)
            .bind(&a.password_hash)
            .bind(a.disabled)
            .execute(&self.pool)
            .await
            .map_err(be)?;
        Ok(())
    }

    pub(crate) async fn account_in(&self, username: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.map(|r| account_from_row(&r)).transpose()
    }

    pub(crate) async fn accounts_in(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(account_from_row).collect()
    }

    pub(crate) async fn put_api_token_in(&self, t: &ApiToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (token_sha256, name, role, created_at) VALUES (?,?,?,?)",
        )
        .bind(&t.token_sha256)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.created_at)
        .execute(&self.pool)
        .await
        .map_err(be)?;
        Ok(())
    }

    pub(crate) async fn api_token_in(&self, token_sha256: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE token_sha256 = ?")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(be)?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub(crate) async fn api_tokens_in(&self) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(be)?;
        rows.iter().map(token_from_row).collect()
    }

    pub(crate) async fn revoke_api_token_in(&self, name: &str, at: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(be)?;
        Ok(done.rows_affected() == 1)
    }
}
