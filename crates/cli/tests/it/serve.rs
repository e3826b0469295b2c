//! `custodian serve` as a real process on loopback: accounts made with
//! `custodian account add` (password on standard input), a session from
//! /api/login, roles enforced, an API token from `custodian token create`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;

use crate::support::{custodian, ok};

/// One HTTP/1.1 request; returns (status, headers, body).
/// A GET with an `Authorization` header.
fn get_with(port: u16, path: &str, authorization: &str) -> (u16, String, String) {
    http(port, "GET", path, &[("Authorization", authorization)], "")
}

pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

pub(crate) struct Server(pub(crate) std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `custodian serve` on `port` over `store` (`custodian.toml` read from
/// `dir`), once it accepts connections.
pub(crate) fn start_server(dir: &std::path::Path, store: &str, port: u16) -> Server {
    let server = Server(
        custodian(dir, store)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server did not start");
}

#[test]
fn serve_logs_in_enforces_roles_and_takes_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", tmp.path().join("s.db").display());
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample-company");
    ok(custodian(tmp.path(), &store)
        .args(["import", sample.to_str().unwrap()])
        .output()
        .unwrap());
    let add = |name: &str, role: &str, password: &str| {
        let mut c = custodian(tmp.path(), &store)
            .args(["account", "add", name, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        c.wait_with_output().unwrap()
    };
    assert!(
        !add("shorty", "analyst", "short").status.success(),
        "passwords under 12 characters are refused"
    );
    ok(add("ana", "analyst", "correct horse battery"));
    let token = ok(custodian(tmp.path(), &store)
        .args(["token", "create", "--name", "siem", "--role", "auditor"])
        .output()
        .unwrap());
    let token = token.trim().to_string();
    assert!(token.starts_with("cst_"));
    let admin = ok(custodian(tmp.path(), &store)
        .args(["token", "create", "--name", "collector", "--role", "admin"])
        .output()
        .unwrap());
    let admin = format!("Bearer {}", admin.trim());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _server = Server(
        custodian(tmp.path(), &store)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the server starts");
    assert_eq!(http(port, "GET", "/healthz", &[], "").0, 200);
    assert_eq!(http(port, "GET", "/api/alerts", &[], "").0, 401);
    let (s, _, b) = http(
        port,
        "POST",
        "/api/login",
        &[],
        r#"{"username":"ana","password":"wrong password!"}"#,
    );
    assert_eq!(s, 401, "{b}");
    let (s, head, b) = http(
        port,
        "POST",
        "/api/login",
        &[],
        r#"{"username":"ana","password":"correct horse battery"}"#,
    );
    assert_eq!(s, 200, "{b}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        http(port, "GET", "/api/alerts", &[("Cookie", &cookie)], "").0,
        200
    );
    assert_eq!(
        http(port, "GET", "/api/people", &[("Cookie", &cookie)], "").0,
        403
    );
    let bearer = format!("Bearer {token}");
    let (s, _, b) = get_with(port, "/api/ledger/status", &bearer);
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("\"size\""), "{b}");
    assert_eq!(
        get_with(port, "/api/alerts", &bearer).0,
        403,
        "an auditor token reads no alerts"
    );
    // Event ingest: the import's parsing, bad lines named, repeats once.
    let batch = concat!(
        r#"{"id":"api-1","ts":"2025-05-01T10:00:00+09:00","user":"E10003","action":"doc.view","doc":"D-SX-DESIGN-23"}"#,
        "\n",
        r#"{"id":"api-2","ts":"2025-05-01T10:05:00+09:00","user":"E10003","action":"doc.print","doc":"D-SX-DESIGN-23","pages":12}"#,
        "\n",
        r#"{"id":"api-3","ts":"not a time","user":"E10003","action":"doc.view"}"#,
        "\n",
        r#"{"id":"api-4","ts":"2025-05-01T10:06:00+09:00","user":"NOBODY","action":"logon","host":"pc-1"}"#,
        "\n",
    );
    let (s, _, b) = http(
        port,
        "POST",
        "/api/events",
        &[("Authorization", &admin)],
        batch,
    );
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["new"], 2, "{v}");
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{v}");
    assert_eq!(rejected[0]["line"], 3);
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown user"),
        "{v}"
    );
    let (_, _, b) = http(
        port,
        "POST",
        "/api/events",
        &[("Authorization", &admin)],
        batch,
    );
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["new"].as_u64()),
        (Some(2), Some(0)),
        "a repeated event is stored once: {v}"
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/api/events",
            &[("Authorization", &bearer)],
            batch
        )
        .0,
        403,
        "auditors do not ingest"
    );
    let (s, _, b) = http(port, "GET", "/api/openapi.json", &[], "");
    assert_eq!(s, 200);
    assert!(b.contains("/api/contact-reports"));
    // Revoked from the command line while the server runs: refused at once.
    let list = ok(custodian(tmp.path(), &store)
        .args(["token", "list"])
        .output()
        .unwrap());
    assert!(list.contains("siem") && !list.contains("cst_"), "{list}");
    ok(custodian(tmp.path(), &store)
        .args(["token", "revoke", "siem"])
        .output()
        .unwrap());
    let (s, _, b) = get_with(port, "/api/ledger/status", &bearer);
    assert_eq!(s, 401, "a revoked token: {b}");
    let again = custodian(tmp.path(), &store)
        .args(["token", "revoke", "siem"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("revoked already"));
}

/// A server started on a port already taken (a second `serve --demo`
/// beside a running one) fails before it does anything: no demo company is
/// made and no password is changed.
#[test]
fn a_taken_port_fails_before_any_password_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let demo_dir = tmp.path().join("demo");
    let out = custodian(tmp.path(), "sqlite://unused.db")
        .args(["serve", "--demo", "--listen", &addr, "--demo-people", "30"])
        .arg("--demo-dir")
        .arg(&demo_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on") && err.contains(&addr),
        "{err}"
    );
    assert!(!demo_dir.join("custodian.db").exists(), "no company made");
    assert!(
        !demo_dir.join("demo-accounts.txt").exists(),
        "no password set"
    );
    // The same for a plain `serve` on a store.
    let out = custodian(tmp.path(), "sqlite://s.db")
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}

/// Plain HTTP on an address other than loopback would lose the Secure
/// session cookie: refused before anything is done, unless TLS is set or a
/// proxy is said to terminate it.
#[test]
fn plain_http_off_loopback_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = custodian(tmp.path(), "sqlite://s.db")
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing plain HTTP") && err.contains("tls_cert_file"),
        "{err}"
    );
    std::fs::write(
        tmp.path().join("custodian.toml"),
        "[serve]\ntls_cert_file = \"missing.pem\"\n",
    )
    .unwrap();
    let out = custodian(tmp.path(), "sqlite://s.db")
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("go together"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
