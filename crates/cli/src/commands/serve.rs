//! `custodian serve`, and the accounts and API tokens it admits.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};

use custodian_server::{hash_password, token_sha256, AppState, Role};
use custodian_store::{Account, ApiToken, Store};

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountCmd {
    /// Create or replace a local account; the password is read from
    /// standard input (one line) or from --password-file, never from a flag.
    Add {
        username: String,
        #[arg(long, value_parser = ["employee", "owner", "analyst", "auditor", "admin"])]
        role: String,
        /// The person in the directory this account is.
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Disable an account (it can no longer log in).
    Disable { username: String },
    /// The accounts (never their hashes).
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCmd {
    /// Create an API token for a machine; it is printed once and only its
    /// SHA-256 is kept.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["employee", "owner", "analyst", "auditor", "admin"])]
        role: String,
    },
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

pub async fn serve(
    settings: &Settings,
    store: Box<dyn Store>,
    args: ServeArgs,
) -> Result<ExitCode> {
    let ledger = super::ledger::context(settings)?;
    let session_path = settings
        .content_key_file
        .with_file_name("custodian-session.key");
    let session_path = std::env::var_os("CUSTODIAN_SESSION_KEY_FILE")
        .map(PathBuf::from)
        .unwrap_or(session_path);
    let session_key =
        super::register::content_key(&session_path)?.mac("custodian session cookies", b"");
    if store.accounts().await?.is_empty() {
        eprintln!("no accounts yet: create one with `custodian account add NAME --role admin`");
    }
    let state = Arc::new(AppState::new(
        Arc::from(store),
        ledger,
        session_key,
        Arc::new(|| crate::clock::now().timestamp()),
    ));
    eprintln!(
        "serving on http://{} (API at /api, OpenAPI at /api/openapi.json)",
        args.listen
    );
    custodian_server::serve(state, args.listen)
        .await
        .with_context(|| format!("cannot serve on {}", args.listen))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn account(store: &dyn Store, cmd: AccountCmd) -> Result<ExitCode> {
    match cmd {
        AccountCmd::Add {
            username,
            role,
            person,
            password_file,
        } => {
            if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace)
            {
                bail!("the username must be 1-64 characters without spaces");
            }
            if let Some(p) = &person {
                if store.person(p).await?.is_none() {
                    bail!("no person '{p}' in the directory");
                }
            }
            let mut password = String::new();
            match password_file {
                Some(f) => {
                    password = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                }
                None => {
                    std::io::stdin()
                        .take(4096)
                        .read_to_string(&mut password)
                        .context("cannot read the password from standard input")?;
                }
            }
            let password = password.lines().next().unwrap_or_default().to_string();
            if password.chars().count() < 12 {
                bail!("the password must have at least 12 characters");
            }
            let hash = hash_password(&password, &random_bytes::<16>())
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            store
                .put_account(&Account {
                    username: username.clone(),
                    role: role.clone(),
                    user_id: person,
                    password_hash: hash,
                    disabled: false,
                })
                .await?;
            println!("account {username} ({role}) saved");
        }
        AccountCmd::Disable { username } => {
            let Some(mut a) = store.account(&username).await? else {
                bail!("no account '{username}'");
            };
            a.disabled = true;
            store.put_account(&a).await?;
            println!("account {username} disabled");
        }
        AccountCmd::List => {
            for a in store.accounts().await? {
                println!(
                    "{:<20} {:<9} {:<10} {}",
                    a.username,
                    a.role,
                    a.user_id.as_deref().unwrap_or("-"),
                    if a.disabled { "disabled" } else { "active" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn token(store: &dyn Store, cmd: TokenCmd) -> Result<ExitCode> {
    let TokenCmd::Create { name, role } = cmd;
    if Role::parse(&role).is_none() {
        bail!("unknown role {role}");
    }
    use base64::Engine as _;
    let token = format!(
        "cst_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    );
    store
        .put_api_token(&ApiToken {
            token_sha256: token_sha256(&token),
            name: name.clone(),
            role: role.clone(),
            created_at: crate::clock::now().to_rfc3339(),
        })
        .await
        .with_context(|| format!("cannot create the token '{name}' (names are unique)"))?;
    eprintln!("API token '{name}' ({role}); shown once, only its SHA-256 is kept:");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
