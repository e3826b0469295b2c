//! `custodian serve`, and the accounts and API tokens it admits.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use custodian_app::accounts;
use custodian_server::AppState;
use custodian_store::Store;

use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve the console on the demo company: runs `custodian demo` into
    /// --demo-dir unless it holds one already, gives the demo accounts
    /// (analyst, auditor, admin, employee, owner) fresh passwords, prints
    /// them and writes them to DIR/demo-accounts.txt (readable only by you).
    #[arg(long)]
    pub demo: bool,
    #[arg(long, default_value = "custodian-demo", requires = "demo")]
    demo_dir: PathBuf,
    /// Employees of the demo company (when it is made).
    #[arg(long, default_value_t = 2000, requires = "demo")]
    demo_people: usize,
    /// Days of activity of the demo company (when it is made).
    #[arg(long, default_value_t = 180, requires = "demo")]
    demo_days: u32,
    /// Do not run detection on stored events (`[serve] detect = false`).
    #[arg(long)]
    no_detect: bool,
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
    /// List the API tokens (names, roles, dates; never the tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token by name: refused from the next request on;
    /// ledgered.
    Revoke { name: String },
}

/// `serve --demo`: the demo company (made if missing), demo accounts with
/// fresh passwords, then the server on it.
pub async fn demo(base: &Settings, args: ServeArgs) -> Result<ExitCode> {
    // The transport and the port first: a demo started beside a running
    // one fails here, before it makes a company or changes any password.
    let tls = transport(base, args.listen)?;
    let listener = bind(args.listen).await?;
    let dir = args.demo_dir.clone();
    let db = dir.join("custodian.db");
    if !db.exists() {
        eprintln!(
            "no demo company in {} yet: making one (custodian demo)",
            dir.display()
        );
        let demo = super::demo::Args::new(dir.clone(), args.demo_people, args.demo_days);
        super::demo::run(base, &demo).await?;
    }
    let mut settings = base.clone();
    settings.store = crate::settings::StoreUrl::Sqlite(format!("sqlite://{}", db.display()));
    settings.store_source = crate::settings::Source::Flag;
    settings.ledger_key_file = dir.join("custodian-ledger.key");
    settings.content_key_file = dir.join("custodian-content.key");
    settings.rejects_dir = dir.join("rejects");
    let store = super::open_store(&settings).await?;
    let people = store.people().await?;
    // The employee and the owner are real people of the demo company: the
    // first person in the directory, and the owner of the first document.
    let employee = people
        .first()
        .map(|p| p.user_id.clone())
        .context("the demo company has nobody in it")?;
    let owner = store.documents().await?.first().map(|d| d.owner_id.clone());
    let mut lines = Vec::new();
    for (name, role, person) in [
        ("analyst", "analyst", None),
        ("auditor", "auditor", None),
        ("admin", "admin", None),
        ("employee", "employee", Some(employee)),
        ("owner", "owner", owner),
    ] {
        let password = accounts::fresh_password();
        accounts::set(store.as_ref(), name, role, person.clone(), &password).await?;
        lines.push(format!(
            "{name:<9} {password}  ({role}{})",
            person.map(|p| format!(", person {p}")).unwrap_or_default()
        ));
    }
    let accounts_file = dir.join("demo-accounts.txt");
    super::write_private(&accounts_file, format!("{}\n", lines.join("\n")).as_bytes())?;
    println!(
        "demo accounts (new passwords each start; also in {}):",
        accounts_file.display()
    );
    for l in &lines {
        println!("  {l}");
    }
    println!("open http://{}/ui/login", args.listen);
    run(&settings, store, args, (listener, tls)).await
}

pub async fn serve(
    settings: &Settings,
    store: Box<dyn Store>,
    args: ServeArgs,
) -> Result<ExitCode> {
    let tls = transport(settings, args.listen)?;
    let listener = bind(args.listen).await?;
    run(settings, store, args, (listener, tls)).await
}

/// TLS as configured, or why the server must not start: plain HTTP on an
/// address other than loopback without a proxy in front loses the
/// session cookie. Checked before anything else is done.
fn transport(
    settings: &Settings,
    addr: SocketAddr,
) -> Result<Option<custodian_server::listen::TlsAcceptor>> {
    let live = &settings.live;
    let tls = match &live.tls {
        Some((cert, key)) => Some(
            custodian_server::listen::tls_acceptor(cert, key)
                .map_err(|e| anyhow::anyhow!("cannot serve TLS: {e}"))?,
        ),
        None => None,
    };
    if tls.is_none() && !addr.ip().is_loopback() && !live.behind_proxy {
        anyhow::bail!(
            "refusing plain HTTP on {addr}: browsers drop the session cookie (Secure) there and the login would loop. Set [serve] tls_cert_file and tls_key_file, or behind_proxy = true when a reverse proxy terminates TLS (docs/operations.md)"
        );
    }
    Ok(tls)
}

/// The listening socket, or why not (the port taken, most often).
async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another server running there?)"))
}

async fn run(
    settings: &Settings,
    store: Box<dyn Store>,
    args: ServeArgs,
    (listener, tls): (
        tokio::net::TcpListener,
        Option<custodian_server::listen::TlsAcceptor>,
    ),
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
    let live = settings.live.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    if live.detect && !args.no_detect {
        custodian_server::detecting::spawn(
            state.clone(),
            custodian_server::detecting::DetectOptions {
                config: settings.detect.clone(),
                live: custodian_app::detection::live::LiveOptions {
                    late_secs: i64::from(live.late_hours) * 3600,
                    checkpoint_every: i64::from(live.checkpoint_seconds),
                },
                interval: std::time::Duration::from_secs(u64::from(live.interval_seconds)),
            },
        );
        eprintln!(
            "detecting on every stored event (events may arrive up to {} hours late)",
            live.late_hours
        );
    }
    if let Some(dir) = &live.drop_dir {
        custodian_server::dropdir::spawn(
            state.clone(),
            dir.clone(),
            std::time::Duration::from_secs(u64::from(live.interval_seconds)),
        );
        eprintln!("ingesting the *.jsonl files left in {}", dir.display());
    }
    if !settings.notify.is_empty() {
        custodian_server::outbox::spawn(
            state.clone(),
            settings.notify.clone(),
            settings.public_url.clone(),
            std::time::Duration::from_secs(u64::from(live.interval_seconds)),
        );
        eprintln!("sending alerts to {} destination(s)", settings.notify.len());
    }
    eprintln!(
        "serving on {scheme}://{} (API at /api, OpenAPI at /api/openapi.json)",
        args.listen
    );
    custodian_server::serve(state, listener, tls)
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
            let password = password.lines().next().unwrap_or_default();
            accounts::set(store, &username, &role, person, password).await?;
            println!("account {username} ({role}) saved");
        }
        AccountCmd::Disable { username } => {
            accounts::disable(store, &username).await?;
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

pub async fn token(settings: &Settings, store: &dyn Store, cmd: TokenCmd) -> Result<ExitCode> {
    let (name, role) = match cmd {
        TokenCmd::Create { name, role } => (name, role),
        TokenCmd::List { json } => {
            let list = custodian_app::tokens::list(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for t in &list {
                    println!(
                        "{:<24} {:<9} created {}{}",
                        t["name"].as_str().unwrap_or(""),
                        t["role"].as_str().unwrap_or(""),
                        t["created_at"].as_str().unwrap_or(""),
                        t["revoked_at"]
                            .as_str()
                            .map(|r| format!(", revoked {r}"))
                            .unwrap_or_default()
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        TokenCmd::Revoke { name } => {
            let ledger = super::ledger::context(settings)?;
            let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let r = custodian_app::tokens::revoke(
                store,
                &ledger,
                crate::clock::now(),
                &name,
                &format!("cli:{by}"),
            )
            .await?;
            println!("revoked the API token '{name}' (ledgered as {})", r.id);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let token = custodian_app::tokens::create(store, crate::clock::now(), &name, &role).await?;
    eprintln!("API token '{name}' ({role}); shown once, only its SHA-256 is kept:");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
