//! `custodian`: the command line. Thin: it parses flags into settings, opens
//! the store the URL names, and calls the core, the ingest pipeline or the
//! simulator. Errors become one line on stderr and a non-zero exit.

mod clock;
mod commands;
mod output;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use settings::{ProcessEnv, Settings};

// Import moves millions of small strings from the reader thread to the
// store's thread; glibc's allocator serialises those cross-thread frees.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Custodian keeps a manufacturer's trade secrets in custody and catches the
/// insider who is being turned.
#[derive(Debug, Parser)]
#[command(name = "custodian", version, about, long_about = None)]
pub struct Cli {
    /// Store URL: sqlite://PATH (default sqlite://custodian.db) or
    /// postgres://USER@HOST/DB. Also CUSTODIAN_STORE, or CUSTODIAN_STORE_FILE
    /// naming a file that holds it.
    #[arg(long, global = true, value_name = "URL")]
    store: Option<String>,

    /// Config file (default ./custodian.toml if present; also CUSTODIAN_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a dataset folder (directory, documents, events, HR, contacts).
    Import(commands::import::Args),
    /// Inspect and edit the register of trade secrets.
    #[command(subcommand)]
    Register(commands::register::Cmd),
    /// Inspect the directory of people.
    #[command(subcommand)]
    People(commands::people::Cmd),
    /// The access policy's decision for a person and a document, with its reason.
    Check(commands::check::Args),
    /// Which store is in use and what it holds.
    Status(commands::status::Args),
    /// Write a simulated company as a dataset folder.
    Simulate(commands::simulate::Args),
    /// The custody ledger: keys, status, verification, proofs, tiles.
    #[command(subcommand)]
    Ledger(commands::ledger::Cmd),
    /// Simulate a company, import it, detect, and show the top alerts and the
    /// scorecard: the whole product in about a minute.
    Demo(commands::demo::Args),
    /// The broker: owner approvals and traceable copies.
    #[command(subcommand)]
    Copy(commands::copy::Cmd),
    /// Name the recipient of a leaked copy (text), with the bound on
    /// accusing an innocent.
    Trace(commands::copy::TraceArgs),
    /// Run the insider-risk engine over a dataset folder or the store.
    Detect(commands::detect::Args),
    /// Score alerts against a ground truth: insiders caught, how early, false
    /// alerts. Exits 3 when a planted insider was missed.
    Evaluate(commands::evaluate::Args),
    /// The JSON API (accounts, sessions, API tokens, roles on every route).
    Serve(commands::serve::ServeArgs),
    /// Local accounts of the server.
    #[command(subcommand)]
    Account(commands::serve::AccountCmd),
    /// API tokens for machines.
    #[command(subcommand)]
    Token(commands::serve::TokenCmd),
    /// Contact reports grouped by the approacher they describe.
    Contacts(commands::contacts::Args),
    /// The stored alerts, highest score first.
    Alerts(commands::case::AlertsArgs),
    /// Cases opened from alerts, and their evidence bundles.
    #[command(subcommand)]
    Case(commands::case::Cmd),
    /// Check an evidence bundle offline.
    #[command(subcommand)]
    Bundle(commands::case::BundleCmd),
    /// Benchmarks (measured on a fresh store of their own).
    #[command(subcommand)]
    Bench(commands::bench::Cmd),
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// A closed standard output (`custodian … | head`, `| grep -q`) ends the
/// command quietly, as it would a Unix tool, instead of a panic with a
/// backtrace: `print!` panics on a broken pipe, and this hook turns that
/// one panic into exit status 141 (128 + SIGPIPE). Every other panic keeps
/// the default report.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // The reader of standard output went away: quiet, as above.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::from(141)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Simulate(args) = &cli.command {
        return commands::simulate::run(args);
    }
    if let Command::Bench(cmd) = cli.command {
        return commands::bench::run(cmd).await;
    }
    if let Command::Evaluate(args) = &cli.command {
        if !args.sweep {
            return commands::evaluate::run(args);
        }
    }
    if let Command::Bundle(cmd) = &cli.command {
        return commands::case::run_bundle(cmd);
    }
    let settings = Settings::resolve(cli.config.as_deref(), cli.store.as_deref(), &ProcessEnv)?;
    if let Command::Demo(args) = &cli.command {
        return commands::demo::run(&settings, args).await;
    }
    if let Command::Evaluate(args) = &cli.command {
        return commands::sweep::run(&settings, args);
    }
    let cli = match cli.command {
        Command::Serve(args) if args.demo => return commands::serve::demo(&settings, args).await,
        command => Cli { command, ..cli },
    };
    if let Command::Detect(args) = &cli.command {
        if !args.from_store {
            return commands::detect::run_folder(&settings, args);
        }
    }
    if let Command::Ledger(cmd) = &cli.command {
        if let Some(code) = commands::ledger::run_offline(&settings, cmd)? {
            return Ok(code);
        }
    }
    let store = commands::open_store(&settings).await?;
    if let Command::Serve(args) = cli.command {
        return commands::serve::serve(&settings, store, args).await;
    }
    let code = match cli.command {
        Command::Import(args) => commands::import::run(&settings, store.as_ref(), args).await?,
        Command::Register(cmd) => commands::register::run(&settings, store.as_ref(), cmd).await?,
        Command::Ledger(cmd) => commands::ledger::run(&settings, store.as_ref(), cmd).await?,
        Command::People(cmd) => commands::people::run(&settings, store.as_ref(), cmd).await?,
        Command::Copy(cmd) => commands::copy::run(&settings, store.as_ref(), cmd).await?,
        Command::Trace(args) => commands::copy::trace(&settings, store.as_ref(), args).await?,
        Command::Case(cmd) => commands::case::run(&settings, store.as_ref(), cmd).await?,
        Command::Alerts(args) => commands::case::alerts(store.as_ref(), args).await?,
        Command::Contacts(args) => commands::contacts::run(store.as_ref(), args).await?,
        Command::Account(cmd) => commands::serve::account(store.as_ref(), cmd).await?,
        Command::Token(cmd) => commands::serve::token(&settings, store.as_ref(), cmd).await?,
        Command::Check(args) => commands::check::run(store.as_ref(), args).await?,
        Command::Status(args) => commands::status::run(&settings, store.as_ref(), args).await?,
        Command::Detect(args) => {
            commands::detect::run_store(&settings, store.as_ref(), &args).await?
        }
        Command::Simulate(_)
        | Command::Bench(_)
        | Command::Evaluate(_)
        | Command::Demo(_)
        | Command::Bundle(_)
        | Command::Serve(_) => ExitCode::SUCCESS,
    };
    Ok(code)
}
