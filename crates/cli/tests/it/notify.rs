//! Alerts out of the real `custodian serve`: a webhook receiver and a
//! syslog listener and a mail relay on loopback receive every alert once, the webhook's
//! with a valid HMAC-SHA-256 signature (after one refused attempt, which
//! is retried), no payload names anyone, and a `kill -9` and restart
//! sends nothing again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::serve::{http, start_server as start};
use crate::support::*;

const SECRET: &str = "a webhook secret of enough bytes";

/// Requests as the receiver saw them: (headers lower-cased, body).
type Seen = Arc<Mutex<Vec<(BTreeMap<String, String>, String)>>>;

/// A webhook receiver that refuses its first request with 503.
fn receiver() -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let out = seen.clone();
    std::thread::spawn(move || {
        let mut first = true;
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut headers = BTreeMap::new();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let n: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; n];
            r.read_exact(&mut body).unwrap();
            let status = if first {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            if !first {
                out.lock()
                    .unwrap()
                    .push((headers, String::from_utf8(body).unwrap()));
            }
            first = false;
            let _ = conn.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, seen)
}

fn syslog_listener() -> (u16, Arc<Mutex<Vec<String>>>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = seen.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = s.recv(&mut buf) {
            out.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (port, seen)
}

/// A mail relay on loopback speaking just enough SMTP; the messages'
/// data.
fn smtp_relay() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut w) = conn else { continue };
            let mut r = BufReader::new(w.try_clone().unwrap());
            let _ = w.write_all(b"220 relay.test ESMTP\r\n");
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                    b"250-relay.test\r\n250 8BITMIME\r\n"
                } else if cmd.starts_with("DATA") {
                    let _ = w.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                            break;
                        }
                        data.push_str(&line);
                    }
                    out.lock().unwrap().push(data);
                    b"250 queued\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (port, seen)
}

fn count_alerts(store: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let path = store.strip_prefix("sqlite://").unwrap();
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n.0 as usize
    })
}

#[test]
fn every_alert_reaches_the_webhook_syslog_and_mail_once_signed_and_pseudonymised() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, _) = simulated(tmp.path());
    let store = format!("sqlite://{}", tmp.path().join("s.db").display());
    ok(custodian(tmp.path(), &store)
        .arg("import")
        .arg(&sim)
        .output()
        .unwrap());
    let (hook, hooked) = receiver();
    let (sys, logged) = syslog_listener();
    let (relay, mailed) = smtp_relay();
    std::fs::write(tmp.path().join("hook.secret"), SECRET).unwrap();
    std::fs::write(
        tmp.path().join("custodian.toml"),
        format!(
            "[serve]\ndetect_interval_seconds = 1\npublic_url = \"https://custodian.example\"\n\n\
             [[notify]]\nname = \"siem-hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{hook}/hook\"\n\
             secret_file = \"hook.secret\"\nmin_severity = \"low\"\n\n\
             [[notify]]\nname = \"siem-syslog\"\nkind = \"syslog\"\naddress = \"127.0.0.1:{sys}\"\nmin_severity = \"low\"\n\n\
             [[notify]]\nname = \"security-office\"\nkind = \"email\"\nsmtp = \"127.0.0.1:{relay}\"\nstarttls = false\n\
             from = \"custodian@example.co.jp\"\nto = [\"security@example.co.jp\"]\nmin_severity = \"low\"\n"
        ),
    )
    .unwrap();
    let token = ok(custodian(tmp.path(), &store)
        .args(["token", "create", "--name", "ops", "--role", "admin"])
        .output()
        .unwrap());
    let auth = format!("Bearer {}", token.trim());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = start(tmp.path(), &store, port);
    // Detection catches up on the imported events; every alert goes out.
    let t = Instant::now();
    let delivered = || {
        let a = count_alerts(&store);
        a > 0
            && hooked.lock().unwrap().len() >= a
            && logged.lock().unwrap().len() >= a
            && mailed.lock().unwrap().len() >= a
    };
    while !delivered() && t.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let alerts = count_alerts(&store);
    assert!(alerts >= 2, "the company raises alerts: {alerts}");
    assert!(
        delivered(),
        "webhook {}, syslog {}, alerts {alerts}",
        hooked.lock().unwrap().len(),
        logged.lock().unwrap().len()
    );
    let (_, _, metrics) = http(port, "GET", "/metrics", &[("Authorization", &auth)], "");
    assert!(
        metrics.contains("custodian_notifications_total{result=\"failed\"} 1\n"),
        "{metrics}"
    );

    // A kill -9 and a restart send nothing again.
    let _ = server.0.kill();
    let _ = server.0.wait();
    server = start(tmp.path(), &store, port);
    std::thread::sleep(Duration::from_secs(4));
    drop(server);

    let hooked = hooked.lock().unwrap().clone();
    let logged = logged.lock().unwrap().clone();
    let mailed = mailed.lock().unwrap().clone();
    assert_eq!(mailed.len(), alerts, "one mail an alert");
    let mut mail_ids = BTreeSet::new();
    for m in &mailed {
        assert!(m.contains("Subject: [Custodian] "), "{m}");
        let id = m
            .split("Alert: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert!(mail_ids.insert(id), "mailed twice: {m}");
    }
    let directory = std::fs::read_to_string(sim.join("directory.csv")).unwrap();
    let mut who: Vec<String> = Vec::new();
    for l in directory.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        who.extend([f[0].to_string(), f[1].to_string(), f[2].to_string()]);
    }
    let mut ids = BTreeSet::new();
    for (h, body) in &hooked {
        // The signature: HMAC-SHA-256 of "timestamp.body".
        let ts = &h["x-custodian-timestamp"];
        let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(format!("{ts}.{body}").as_bytes());
        let want = format!("sha256={}", hex::encode(m.finalize().into_bytes()));
        assert_eq!(h["x-custodian-signature"], want);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["person"].as_str().unwrap().starts_with("P-"), "{body}");
        assert_eq!(v["ledger"]["kind"], "alert", "{body}");
        assert_eq!(
            v["ledger"]["leaf_hash"].as_str().unwrap().len(),
            64,
            "{body}"
        );
        assert!(v["link"]
            .as_str()
            .unwrap()
            .starts_with("https://custodian.example/ui/alerts/A-"));
        assert_eq!(
            h["x-custodian-delivery"],
            format!("siem-hook:{}", v["id"].as_str().unwrap())
        );
        assert!(
            ids.insert(v["id"].as_str().unwrap().to_string()),
            "sent twice: {body}"
        );
    }
    assert_eq!(ids.len(), alerts);
    let mut sys_ids = BTreeSet::new();
    for line in &logged {
        assert!(
            line.starts_with('<')
                && line.contains(" custodian ")
                && line.contains(" alert - CEF:0|Custodian|"),
            "{line}"
        );
        let id = line
            .split("externalId=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        assert!(sys_ids.insert(id), "sent twice: {line}");
    }
    assert_eq!(sys_ids, ids);
    assert_eq!(mail_ids, ids);
    for text in hooked
        .iter()
        .map(|(_, b)| b)
        .chain(logged.iter())
        .chain(mailed.iter())
    {
        for w in &who {
            if w.len() >= 3 {
                assert!(!text.contains(w.as_str()), "{w} in a payload: {text}");
            }
        }
    }
}
