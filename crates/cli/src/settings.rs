//! Configuration, parsed once into a validated [`Settings`]: the
//! `custodian.toml` file first, then the environment, then flags. Secrets
//! (a PostgreSQL URL with a password) may come from a file named by a
//! `*_FILE` variable or key, so they need not sit in the environment or in
//! the config file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// The default store: a SQLite file in the working folder.
pub const DEFAULT_STORE: &str = "sqlite://custodian.db";

/// What `custodian.toml` may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Store URL.
    pub store: Option<String>,
    /// A file holding the store URL (for URLs with passwords).
    pub store_file: Option<PathBuf>,
    #[serde(default)]
    pub import: ImportConfig,
    #[serde(default)]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub marking: MarkingConfig,
    /// The detection engine's settings (see docs/detection.md).
    #[serde(default)]
    pub detect: custodian_detect::Config,
    #[serde(default)]
    pub serve: ServeConfig,
    /// Where `serve` sends alerts (see docs/operations.md).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
}

/// One `[[notify]]` destination as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub name: String,
    /// webhook or syslog.
    pub kind: String,
    pub url: Option<String>,
    /// The webhook's HMAC key, in a file (at least 16 bytes).
    pub secret_file: Option<PathBuf>,
    /// syslog: host:port.
    pub address: Option<String>,
    /// syslog: udp (default), tcp or tls (RFC 5425).
    pub transport: Option<String>,
    /// syslog over TLS: the PEM certificates to trust (default: the public
    /// web roots).
    pub ca_file: Option<PathBuf>,
    /// json (webhook default), ocsf or cef (syslog default).
    pub form: Option<String>,
    /// low, medium (default) or high.
    pub min_severity: Option<String>,
    /// email: the relay, host:port (587 for STARTTLS).
    pub smtp: Option<String>,
    /// email: STARTTLS required (default true; false only for a relay on
    /// loopback).
    pub starttls: Option<bool>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: a login at the relay, its password in a file.
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
}

impl NotifyConfig {
    fn validate(self) -> Result<custodian_server::outbox::Destination> {
        use custodian_app::notify::Form;
        use custodian_server::outbox::{Destination, Target};
        let name = self.name.clone();
        let at = |what: &str| format!("notify \"{name}\": {what}");
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("notify.name must be 1 to 64 letters, digits, '-' or '_', not \"{name}\"");
        }
        let min_severity = self.min_severity.unwrap_or_else(|| "medium".into());
        if !["low", "medium", "high"].contains(&min_severity.as_str()) {
            bail!("{}", at("min_severity is low, medium or high"));
        }
        let form = |default: Form| -> Result<Form> {
            match &self.form {
                None => Ok(default),
                Some(f) => {
                    Form::parse(f).ok_or_else(|| anyhow::anyhow!(at("form is json, ocsf or cef")))
                }
            }
        };
        let target = match self.kind.as_str() {
            "webhook" => {
                let url = self
                    .url
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!(at("a webhook needs url")))?;
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!(
                        "{}",
                        at("url must start with https:// (or http:// on a trusted network)")
                    );
                }
                let file = self.secret_file.clone().ok_or_else(|| {
                    anyhow::anyhow!(at("a webhook needs secret_file (its HMAC key)"))
                })?;
                let secret = read_secret_file(&file, "the webhook's HMAC key")?.into_bytes();
                if secret.len() < 16 {
                    bail!(
                        "{}",
                        at("the secret in secret_file must be at least 16 bytes")
                    );
                }
                Target::Webhook {
                    url,
                    secret,
                    form: form(Form::Json)?,
                }
            }
            "syslog" => {
                let address = self
                    .address
                    .clone()
                    .filter(|a| a.contains(':'))
                    .ok_or_else(|| anyhow::anyhow!(at("syslog needs address = \"host:port\"")))?;
                let (tcp, tls) = match self.transport.as_deref().unwrap_or("udp") {
                    "udp" => (false, None),
                    "tcp" => (true, None),
                    "tls" => {
                        let roots = custodian_server::outbox::syslog_roots(self.ca_file.as_deref())
                            .map_err(|e| anyhow::anyhow!(at(&e)))?;
                        (true, Some(std::sync::Arc::new(roots)))
                    }
                    _ => bail!("{}", at("transport is udp, tcp or tls")),
                };
                Target::Syslog {
                    address,
                    tcp,
                    tls,
                    form: form(Form::Cef)?,
                }
            }
            "email" => {
                let relay = self
                    .smtp
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!(at("e-mail needs smtp = \"host:port\"")))?;
                let (host, port) = relay
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                    .ok_or_else(|| anyhow::anyhow!(at("smtp is host:port")))?;
                let starttls = self.starttls.unwrap_or(true);
                let loopback = matches!(host.as_str(), "127.0.0.1" | "::1" | "localhost");
                if !starttls && !loopback {
                    bail!("{}", at("starttls = false is only for a relay on loopback"));
                }
                let from = self
                    .from
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!(at("e-mail needs from")))?;
                if !from.contains('@') || self.to.iter().any(|t| !t.contains('@')) {
                    bail!("{}", at("from and to are e-mail addresses"));
                }
                if self.to.is_empty() {
                    bail!("{}", at("e-mail needs to = [\"…\"]"));
                }
                let credentials = match (&self.username, &self.password_file) {
                    (Some(u), Some(f)) => {
                        Some((u.clone(), read_secret_file(f, "the relay's password")?))
                    }
                    (None, None) => None,
                    _ => bail!("{}", at("username and password_file go together")),
                };
                Target::Email {
                    host,
                    port,
                    starttls,
                    from,
                    to: self.to.clone(),
                    credentials,
                }
            }
            _ => bail!("{}", at("kind is webhook, syslog or email")),
        };
        Ok(Destination {
            name,
            min_severity,
            target,
        })
    }
}

/// How `custodian serve` runs detection (see docs/operations.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Run the engine on every stored event (default true).
    pub detect: Option<bool>,
    /// How late an event may arrive and still count exactly (default 48).
    pub late_hours: Option<u32>,
    /// The longest wait between two looks at the store (default 2).
    pub detect_interval_seconds: Option<u32>,
    /// The least time between two engine checkpoints (default 30).
    pub checkpoint_seconds: Option<u32>,
    /// The console's address as users reach it (links in notifications),
    /// e.g. https://custodian.example.co.jp.
    pub public_url: Option<String>,
    /// TLS: the PEM certificate chain and its PEM private key.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// A folder whose `*.jsonl` / `*.jsonl.gz` files are ingested.
    pub drop_dir: Option<PathBuf>,
    /// Plain HTTP on an address other than loopback, because a reverse
    /// proxy in front terminates TLS (see docs/operations.md).
    pub behind_proxy: Option<bool>,
}

/// `[serve]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub detect: bool,
    pub late_hours: u32,
    pub interval_seconds: u32,
    pub checkpoint_seconds: u32,
    /// (certificate, key) when the server speaks TLS itself.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub behind_proxy: bool,
    pub drop_dir: Option<PathBuf>,
}

impl ServeConfig {
    fn validate(&self) -> Result<Live> {
        let live = Live {
            detect: self.detect.unwrap_or(true),
            late_hours: self.late_hours.unwrap_or(48),
            interval_seconds: self.detect_interval_seconds.unwrap_or(2),
            checkpoint_seconds: self.checkpoint_seconds.unwrap_or(30),
            tls: match (&self.tls_cert_file, &self.tls_key_file) {
                (Some(c), Some(k)) => Some((c.clone(), k.clone())),
                (None, None) => None,
                _ => bail!("serve.tls_cert_file and serve.tls_key_file go together"),
            },
            behind_proxy: self.behind_proxy.unwrap_or(false),
            drop_dir: self.drop_dir.clone(),
        };
        if live.late_hours > 24 * 31 {
            bail!(
                "serve.late_hours is at most 744 (31 days), not {}",
                live.late_hours
            );
        }
        if !(1..=3600).contains(&live.interval_seconds) {
            bail!("serve.detect_interval_seconds must be between 1 and 3600");
        }
        if live.checkpoint_seconds > 86_400 {
            bail!("serve.checkpoint_seconds is at most 86400");
        }
        Ok(live)
    }
}

/// What the visible mark on issued copies says: the company's label for
/// each level and its legal notice.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkingConfig {
    pub secret: Option<String>,
    pub confidential: Option<String>,
    pub internal: Option<String>,
    pub public: Option<String>,
    /// The legal notice at the foot of every page.
    pub notice: Option<String>,
}

/// The mark's words (custody's own type), with defaults.
pub use custodian_app::custody::Marking;

impl MarkingConfig {
    fn into_marking(self) -> Result<Marking> {
        let c = self;
        let m = Marking {
            secret: c.secret.unwrap_or_else(|| "極秘 SECRET".into()),
            confidential: c.confidential.unwrap_or_else(|| "秘 CONFIDENTIAL".into()),
            internal: c.internal.unwrap_or_else(|| "社外秘 INTERNAL".into()),
            public: c.public.unwrap_or_else(|| "公開 PUBLIC".into()),
            notice: c.notice.unwrap_or_else(|| {
                "This document is a trade secret managed as secret by the company (Unfair Competition Prevention Act, Art. 2(6)). \
                 Copying, disclosure or use beyond the stated purpose is prohibited. Each copy is individually traceable. \
                 本書は営業秘密です。無断の複製・開示・目的外使用を禁じます。"
                    .into()
            }),
        };
        for (k, v) in [
            ("secret", &m.secret),
            ("confidential", &m.confidential),
            ("internal", &m.internal),
            ("public", &m.public),
            ("notice", &m.notice),
        ] {
            if v.trim().is_empty() || v.contains('\n') || v.chars().count() > 400 {
                bail!("marking.{k} must be one non-empty line of at most 400 characters");
            }
        }
        Ok(m)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The checkpoint signing key (created on first use if missing).
    pub key_file: Option<PathBuf>,
    /// The log's origin line in checkpoints.
    pub origin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    pub batch_size: Option<usize>,
    pub max_line_bytes: Option<usize>,
    /// Folder for rejects files.
    pub rejects_dir: Option<PathBuf>,
}

/// Which backend a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(String),
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl> {
        let url = url.trim();
        if url.starts_with("sqlite:") {
            Ok(StoreUrl::Sqlite(url.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_string()))
        } else {
            bail!(
                "unsupported store URL '{}': use sqlite://PATH or postgres://USER@HOST/DB",
                custodian_store_postgres::redact(url)
            )
        }
    }
}

/// Where a setting came from, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Default,
    ConfigFile,
    Environment,
    Flag,
}

/// The validated settings every command works from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreUrl,
    pub store_source: Source,
    pub config_file: Option<PathBuf>,
    pub batch_size: usize,
    pub max_line_bytes: usize,
    pub rejects_dir: PathBuf,
    pub ledger_key_file: PathBuf,
    pub ledger_origin: String,
    /// The key that seals register contents (CUSTODIAN_CONTENT_KEY_FILE).
    pub content_key_file: PathBuf,
    /// The words of the visible mark on issued copies.
    pub marking: Marking,
    /// The detection engine's settings, validated.
    pub detect: custodian_detect::Config,
    /// How `serve` runs detection.
    pub live: Live,
    /// Where `serve` sends alerts.
    pub notify: Vec<custodian_server::outbox::Destination>,
    /// The console's public address, or empty.
    pub public_url: String,
}

fn read_secret_file(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    let v = text.trim().to_string();
    if v.is_empty() {
        bail!("{} is empty (expected {what})", path.display());
    }
    Ok(v)
}

/// The environment, passed in so tests can control it.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

pub struct ProcessEnv;
impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Settings {
    /// `config`: the `--config` flag; `store_flag`: the `--store` flag.
    pub fn resolve(
        config: Option<&Path>,
        store_flag: Option<&str>,
        env: &dyn Env,
    ) -> Result<Settings> {
        let explicit = config
            .map(Path::to_path_buf)
            .or_else(|| env.var("CUSTODIAN_CONFIG").map(PathBuf::from));
        let (file, config_file) = match explicit {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read the config file {}", p.display()))?;
                (parse_file(&text, &p)?, Some(p))
            }
            None => {
                let p = PathBuf::from("custodian.toml");
                match std::fs::read_to_string(&p) {
                    Ok(text) => (parse_file(&text, &p)?, Some(p)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (FileConfig::default(), None)
                    }
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot read {}", p.display()))
                    }
                }
            }
        };
        let (store, store_source) = if let Some(s) = store_flag {
            (s.to_string(), Source::Flag)
        } else if let Some(s) = env.var("CUSTODIAN_STORE") {
            (s, Source::Environment)
        } else if let Some(f) = env.var("CUSTODIAN_STORE_FILE") {
            (
                read_secret_file(Path::new(&f), "the store URL")?,
                Source::Environment,
            )
        } else if let Some(s) = file.store.clone() {
            (s, Source::ConfigFile)
        } else if let Some(f) = &file.store_file {
            (read_secret_file(f, "the store URL")?, Source::ConfigFile)
        } else {
            (DEFAULT_STORE.to_string(), Source::Default)
        };
        let batch_size = file.import.batch_size.unwrap_or(20_000);
        if !(1..=1_000_000).contains(&batch_size) {
            bail!("import.batch_size must be between 1 and 1000000, not {batch_size}");
        }
        let max_line_bytes = file.import.max_line_bytes.unwrap_or(64 * 1024);
        if max_line_bytes < 256 {
            bail!("import.max_line_bytes must be at least 256");
        }
        let ledger_key_file = env
            .var("CUSTODIAN_LEDGER_KEY_FILE")
            .map(PathBuf::from)
            .or(file.ledger.key_file)
            .unwrap_or_else(|| PathBuf::from("custodian-ledger.key"));
        let ledger_origin = env
            .var("CUSTODIAN_LEDGER_ORIGIN")
            .or(file.ledger.origin)
            .unwrap_or_else(|| "custodian.local/ledger".to_string());
        if ledger_origin.is_empty() || ledger_origin.contains(['\n', '+', ' ']) {
            bail!("ledger.origin must be one line without spaces or '+', like custodian.example.co.jp/ledger");
        }
        let content_key_file = env
            .var("CUSTODIAN_CONTENT_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("custodian-content.key"));
        file.detect.validate().with_context(|| {
            format!(
                "{} is not a valid Custodian config",
                config_file
                    .as_deref()
                    .map_or("custodian.toml".into(), |p| p.display().to_string())
            )
        })?;
        let live = file.serve.validate()?;
        let public_url = file.serve.public_url.clone().unwrap_or_default();
        let mut notify = Vec::new();
        for n in file.notify {
            let d = n.validate()?;
            if notify
                .iter()
                .any(|x: &custodian_server::outbox::Destination| x.name == d.name)
            {
                bail!("notify \"{}\" is named twice", d.name);
            }
            notify.push(d);
        }
        Ok(Settings {
            live,
            notify,
            public_url,
            detect: file.detect,
            marking: MarkingConfig::into_marking(file.marking)?,
            content_key_file,
            ledger_key_file,
            ledger_origin,
            store: StoreUrl::parse(&store)?,
            store_source,
            config_file,
            batch_size,
            max_line_bytes,
            rejects_dir: file
                .import
                .rejects_dir
                .unwrap_or_else(|| PathBuf::from("custodian-rejects")),
        })
    }
}

fn parse_file(text: &str, path: &Path) -> Result<FileConfig> {
    toml::from_str(text)
        .with_context(|| format!("{} is not a valid Custodian config", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, String>);
    impl Env for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
    }

    #[test]
    fn marking_labels_come_from_the_file_and_must_be_one_line() {
        let c: FileConfig = toml::from_str("[marking]\nsecret = \"極秘\"\n").unwrap();
        let m = MarkingConfig::into_marking(c.marking).unwrap();
        assert_eq!(m.secret, "極秘");
        assert_eq!(m.internal, "社外秘 INTERNAL");
        let c: FileConfig = toml::from_str("[marking]\nnotice = \"a\\nb\"\n").unwrap();
        let e = MarkingConfig::into_marking(c.marking)
            .unwrap_err()
            .to_string();
        assert!(e.contains("marking.notice"), "{e}");
        assert!(toml::from_str::<FileConfig>("[marking]\ncolour = \"red\"\n").is_err());
    }

    #[test]
    fn precedence_file_then_env_then_flag() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(
            &cfg,
            "store = \"sqlite://from-file.db\"\n[import]\nbatch_size = 500\n",
        )
        .unwrap();
        let none = FakeEnv(HashMap::new());
        let s = Settings::resolve(Some(&cfg), None, &none).unwrap();
        assert_eq!(s.store, StoreUrl::Sqlite("sqlite://from-file.db".into()));
        assert_eq!(s.store_source, Source::ConfigFile);
        assert_eq!(s.batch_size, 500);

        let env = FakeEnv(HashMap::from([(
            "CUSTODIAN_STORE",
            "postgres://u@h/db".to_string(),
        )]));
        let s = Settings::resolve(Some(&cfg), None, &env).unwrap();
        assert_eq!(s.store, StoreUrl::Postgres("postgres://u@h/db".into()));
        assert_eq!(s.store_source, Source::Environment);

        let s = Settings::resolve(Some(&cfg), Some("sqlite://flag.db"), &env).unwrap();
        assert_eq!(s.store, StoreUrl::Sqlite("sqlite://flag.db".into()));
        assert_eq!(s.store_source, Source::Flag);
    }

    #[test]
    fn detection_settings_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[detect]\nbudget = 5.0\n[detect.weights]\nusb_files = 2.0\n[detect.domains]\npersonal = [\"home.example\"]\n",
        )
        .unwrap();
        let s = Settings::resolve(Some(&cfg), None, &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(s.detect.budget, 5.0);
        assert_eq!(s.detect.weights["usb_files"], 2.0);
        assert_eq!(s.detect.domains.personal, vec!["home.example".to_string()]);
        // Lists not named keep their defaults.
        assert!(s.detect.domains.job.iter().any(|d| d == "monster.com"));
        std::fs::write(&cfg, "[detect.weights]\nusb_fils = 2.0\n").unwrap();
        let e = Settings::resolve(Some(&cfg), None, &FakeEnv(HashMap::new())).unwrap_err();
        assert!(format!("{e:#}").contains("weights.usb_fils"), "{e:#}");
        std::fs::write(&cfg, "[detect]\nbudgt = 5.0\n").unwrap();
        assert!(Settings::resolve(Some(&cfg), None, &FakeEnv(HashMap::new())).is_err());
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("url");
        std::fs::write(&secret, "postgres://u:pw@h/db\n").unwrap();
        let env = FakeEnv(HashMap::from([(
            "CUSTODIAN_STORE_FILE",
            secret.display().to_string(),
        )]));
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "").unwrap();
        let s = Settings::resolve(Some(&cfg), None, &env).unwrap();
        assert_eq!(s.store, StoreUrl::Postgres("postgres://u:pw@h/db".into()));
    }

    #[test]
    fn bad_config_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "stor = 1\n").unwrap();
        let err = Settings::resolve(Some(&cfg), None, &FakeEnv(HashMap::new())).unwrap_err();
        assert!(
            format!("{err:#}").contains("c.toml is not a valid Custodian config"),
            "{err:#}"
        );
        assert!(StoreUrl::parse("mysql://x").is_err());
    }
}
