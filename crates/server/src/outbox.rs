//! Alerts out of `custodian serve`: the sender for the destinations of
//! `[[notify]]` (see `custodian_app::notify` for what is sent and the
//! record of it).
//!
//! Rules:
//! - It looks for alerts to send every `interval` and whenever continuous
//!   detection stored some; one destination's failures never hold up
//!   another's.
//! - Webhooks: an HTTP(S) POST (rustls), `Content-Type: application/json`,
//!   `X-Custodian-Delivery: DESTINATION:ALERT` (the recipient drops a
//!   repeat by it), `X-Custodian-Timestamp` (seconds) and
//!   `X-Custodian-Signature: sha256=HEX`, the HMAC-SHA-256 under the
//!   destination's secret of `TIMESTAMP.BODY`. A 2xx answer is a delivery;
//!   anything else, or no answer within 10 s, a failure.
//! - Syslog: RFC 5424 (facility 13 "log audit"; high → crit, medium →
//!   warning, low → notice; MSGID `alert`), the message a CEF line or
//!   JSON, over UDP (one datagram, at most 8 KiB), TCP (octet counting,
//!   RFC 6587) or TLS (RFC 5425, the server checked against the configured
//!   CA file or the public web roots).
//! - E-mail: plain text through the relay (lettre), STARTTLS required
//!   unless the relay is on loopback, optional login; 10 s timeout.
//! - Every payload is masked again as a whole by the analysts' directory
//!   mask before it leaves, whatever its form.
//! - A failure waits 2^attempts seconds (at most 5 minutes) before the next
//!   try; after `MAX_ATTEMPTS` the alert is recorded undeliverable there
//!   (counted in `/metrics`, in the ledger, not tried again).
//! - No secret and no payload goes to the log; errors name the destination
//!   and the alert id only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use custodian_app::notify::{self, Form, Notice, MAX_ATTEMPTS};
use custodian_store::StoredAlert;

use crate::{now_of, AppState};

/// Where alerts go.
#[derive(Clone)]
pub enum Target {
    Webhook {
        url: String,
        /// The HMAC key (from the destination's secret file).
        secret: Vec<u8>,
        form: Form,
    },
    Syslog {
        /// host:port
        address: String,
        tcp: bool,
        /// Over TLS (RFC 5425; TCP), checked against these roots.
        tls: Option<Arc<tokio_rustls::rustls::RootCertStore>>,
        form: Form,
    },
    Email {
        /// The relay's host and port.
        host: String,
        port: u16,
        /// STARTTLS required (only a loopback relay may go without).
        starttls: bool,
        from: String,
        to: Vec<String>,
        /// (user, password)
        credentials: Option<(String, String)>,
    },
}

/// One `[[notify]]` destination, validated.
#[derive(Clone)]
pub struct Destination {
    pub name: String,
    /// low, medium or high.
    pub min_severity: String,
    pub target: Target,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("min_severity", &self.min_severity)
            .finish_non_exhaustive()
    }
}

/// The sender's counts, for `/metrics`.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) undeliverable: AtomicU64,
}

/// The sender's bell and counts.
#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) wake: tokio::sync::Notify,
    pub(crate) counts: Counts,
    /// Whether a sender runs (metrics are shown only then).
    pub(crate) running: std::sync::atomic::AtomicBool,
}

fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(timestamp.to_string().as_bytes());
            m.update(b".");
            m.update(body);
            format!("sha256={}", hex::encode(m.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

fn syslog_line(
    alert: &StoredAlert,
    at: chrono::DateTime<chrono::FixedOffset>,
    msg: &[u8],
) -> Vec<u8> {
    let severity = match alert.severity.as_str() {
        "high" => 2,
        "medium" => 4,
        _ => 5,
    };
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".into());
    let mut out = format!(
        "<{}>1 {} {host} custodian {} alert - ",
        13 * 8 + severity,
        at.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        std::process::id()
    )
    .into_bytes();
    out.extend_from_slice(msg);
    out
}

/// Sends one payload; the error says why, without the payload.
async fn send(
    client: &reqwest::Client,
    d: &Destination,
    alert: &StoredAlert,
    body: Vec<u8>,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<(), String> {
    match &d.target {
        Target::Webhook { url, secret, .. } => {
            let ts = at.timestamp();
            let r = client
                .post(url)
                .header("Content-Type", "application/json")
                .header("X-Custodian-Delivery", format!("{}:{}", d.name, alert.id))
                .header("X-Custodian-Timestamp", ts.to_string())
                .header("X-Custodian-Signature", sign(secret, ts, &body))
                .body(body)
                .send()
                .await
                .map_err(|e| format!("no answer ({})", e.without_url()))?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("answered {}", r.status().as_u16()))
            }
        }
        Target::Email { .. } => Err("e-mail goes through mail()".into()),
        Target::Syslog {
            address,
            tls: Some(roots),
            ..
        } => {
            let framed = octet_counted(&syslog_line(alert, at, &body));
            let tcp = connect(address).await?;
            let host = address
                .rsplit_once(':')
                .map_or(address.as_str(), |(h, _)| h);
            let name =
                rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| format!("{host} is not a server name ({e})"))?;
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let mut s = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
                .await
                .map_err(|_| "no TLS handshake within 10 s".to_string())?
                .map_err(|e| format!("TLS: {e}"))?;
            s.write_all(&framed).await.map_err(|e| e.to_string())?;
            s.flush().await.map_err(|e| e.to_string())?;
            let _ = s.shutdown().await;
            Ok(())
        }
        Target::Syslog { address, tcp, .. } => {
            let line = syslog_line(alert, at, &body);
            let io = |e: std::io::Error| e.to_string();
            if *tcp {
                let mut s = connect(address).await?;
                s.write_all(&octet_counted(&line)).await.map_err(io)?;
                s.flush().await.map_err(io)?;
                Ok(())
            } else {
                if line.len() > 8192 {
                    return Err("the message is over 8 KiB (use TCP)".into());
                }
                let s = tokio::net::UdpSocket::bind("0.0.0.0:0").await.map_err(io)?;
                s.send_to(&line, address).await.map_err(io)?;
                Ok(())
            }
        }
    }
}

/// RFC 6587 / RFC 5425 framing: the length, a space, the message.
fn octet_counted(line: &[u8]) -> Vec<u8> {
    let mut framed = format!("{} ", line.len()).into_bytes();
    framed.extend_from_slice(line);
    framed
}

async fn connect(address: &str) -> Result<tokio::net::TcpStream, String> {
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| "no connection within 10 s".to_string())?
    .map_err(|e| e.to_string())
}

/// The roots a syslog-over-TLS destination trusts: the PEM certificates of
/// `ca_file`, or the public web roots (webpki-roots).
pub fn syslog_roots(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_rustls::rustls::RootCertStore, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(p) => {
            if std::fs::metadata(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .len()
                > 1 << 20
            {
                return Err(format!("{}: over 1 MiB", p.display()));
            }
            let pem = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| format!("{}: not PEM certificates ({e:?})", p.display()))?;
                roots.add(c).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no certificate in it", p.display()));
            }
        }
    }
    Ok(roots)
}

fn form_of(t: &Target) -> Option<Form> {
    match t {
        Target::Webhook { form, .. } | Target::Syslog { form, .. } => Some(*form),
        Target::Email { .. } => None,
    }
}

/// One e-mail through the relay.
async fn mail(target: &Target, subject: String, text: String) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let Target::Email {
        host,
        port,
        starttls,
        from,
        to,
        credentials,
    } = target
    else {
        return Err("not an e-mail destination".into());
    };
    let mut m = Message::builder()
        .from(from.parse().map_err(|e| format!("from: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for t in to {
        m = m.to(t.parse().map_err(|e| format!("to: {e}"))?);
    }
    let message = m.body(text).map_err(|e| e.to_string())?;
    let mut b = if *starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| e.to_string())?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    }
    .port(*port)
    .timeout(Some(Duration::from_secs(10)));
    if let Some((u, p)) = credentials {
        b = b.credentials(Credentials::new(u.clone(), p.clone()));
    }
    b.build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("the relay refused or did not answer ({e})"))
}

/// One pass over one destination; what is not due waits in `retry`.
async fn pass(
    state: &AppState,
    client: &reqwest::Client,
    d: &Destination,
    base: &str,
    retry: &mut HashMap<(String, String), (u32, i64)>,
) -> Result<(), custodian_app::error::AppError> {
    let store = state.store.as_ref();
    let pending = notify::pending(store, &d.name, &d.min_severity).await?;
    if pending.is_empty() {
        return Ok(());
    }
    let now = (state.clock)();
    let key = state.pseudonym_key();
    let mask = state.directory.masker(store, &key, now).await?;
    let counts = &state.outbox.counts;
    for alert in pending.iter().take(200) {
        let k = (d.name.clone(), alert.id.clone());
        let (attempts, due) = retry.get(&k).copied().unwrap_or((0, 0));
        if due > now {
            continue;
        }
        let notice = Notice {
            alert,
            pseudonym: state.pseudonym(&alert.user),
            place: notify::place(store, &alert.id).await?,
            link: format!("{base}/ui/alerts/{}", alert.id),
        };
        let text = |s: &str| mask.mask_text(s);
        let at = now_of(state);
        let sent = match form_of(&d.target) {
            None => {
                let (subject, body) = notify::mail_text(&notice, &text);
                mail(&d.target, mask.mask_text(&subject), mask.mask_text(&body)).await
            }
            Some(Form::Cef) => {
                let body = mask
                    .mask_text(&notify::cef_payload(&notice, &text))
                    .into_bytes();
                send(client, d, alert, body, at).await
            }
            Some(form) => {
                let mut v: serde_json::Value =
                    serde_json::from_slice(&notify::payload(form, &notice, &text))
                        .unwrap_or_default();
                mask.mask_json(&mut v);
                send(client, d, alert, v.to_string().into_bytes(), at).await
            }
        };
        match sent {
            Ok(()) => {
                notify::record(store, &state.ledger, at, alert, &d.name, true, attempts + 1)
                    .await?;
                retry.remove(&k);
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                let attempts = attempts + 1;
                tracing::warn!(destination = %d.name, alert = %alert.id, attempts, "a notification failed: {why}");
                if attempts >= MAX_ATTEMPTS {
                    notify::record(store, &state.ledger, at, alert, &d.name, false, attempts)
                        .await?;
                    retry.remove(&k);
                    counts.undeliverable.fetch_add(1, Ordering::Relaxed);
                } else {
                    let wait = 1i64 << attempts.min(8);
                    retry.insert(k, (attempts, now + wait.min(300)));
                }
            }
        }
    }
    Ok(())
}

/// Starts the sender. `base` is the console's public address (for links),
/// e.g. `https://custodian.example.co.jp`, or empty.
pub fn spawn(
    state: Arc<AppState>,
    destinations: Vec<Destination>,
    base: String,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the notification sender cannot start");
                return;
            }
        };
        state.outbox.running.store(true, Ordering::Relaxed);
        let base = base.trim_end_matches('/').to_string();
        let mut retry = HashMap::new();
        loop {
            for d in &destinations {
                if let Err(e) = pass(&state, &client, d, &base, &mut retry).await {
                    tracing::error!(destination = %d.name, error = %e, "notifications could not be read or recorded");
                }
            }
            let _ = tokio::time::timeout(interval, state.outbox.wake.notified()).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> StoredAlert {
        StoredAlert {
            seq: 1,
            id: "A-1".into(),
            user: "E1".into(),
            raised_at: chrono::DateTime::parse_from_rfc3339("2026-11-20T21:00:00+09:00").unwrap(),
            severity: "high".into(),
            score: 40.0,
            body: "{}".into(),
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let s = sign(b"Jefe", 0, b"");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        let mut m = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        m.update(b"1700000000.{\"a\":1}");
        let want = format!("sha256={}", hex::encode(m.finalize().into_bytes()));
        assert_eq!(sign(b"key", 1_700_000_000, b"{\"a\":1}"), want);
    }

    /// A syslog-over-TLS listener with its own CA receives one framed line;
    /// a sender that does not trust that CA sends nothing.
    #[tokio::test]
    async fn syslog_over_tls_checks_the_server_and_frames_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
        let acceptor = crate::listen::tls_acceptor(&c, &k).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let got = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut out = Vec::new();
            while let Ok((tcp, _)) = l.accept().await {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let mut buf = Vec::new();
                    let _ = s.read_to_end(&mut buf).await;
                    out.push(String::from_utf8_lossy(&buf).into_owned());
                    return out;
                }
            }
            out
        });
        let a = alert();
        let client = reqwest::Client::new();
        let dest = |roots| Destination {
            name: "tls".into(),
            min_severity: "low".into(),
            target: Target::Syslog {
                address: format!("localhost:{port}"),
                tcp: true,
                tls: Some(Arc::new(roots)),
                form: Form::Cef,
            },
        };
        // The public roots do not vouch for a self-signed certificate.
        let public = syslog_roots(None).unwrap();
        let e = send(&client, &dest(public), &a, b"CEF:0|x".to_vec(), a.raised_at).await;
        assert!(e.unwrap_err().contains("TLS"));
        let ours = syslog_roots(Some(&c)).unwrap();
        send(&client, &dest(ours), &a, b"CEF:0|x".to_vec(), a.raised_at)
            .await
            .unwrap();
        let lines = got.await.unwrap();
        let line = &lines[0];
        let (len, msg) = line.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len(), "{line}");
        assert!(
            msg.starts_with("<106>1 ") && msg.ends_with(" alert - CEF:0|x"),
            "{line}"
        );
    }

    #[test]
    fn syslog_lines_are_rfc5424() {
        let a = alert();
        let line = String::from_utf8(syslog_line(&a, a.raised_at, b"CEF:0|x")).unwrap();
        assert!(
            line.starts_with("<106>1 2026-11-20T12:00:00.000Z "),
            "{line}"
        );
        assert!(
            line.contains(" custodian ") && line.ends_with(" alert - CEF:0|x"),
            "{line}"
        );
    }
}
