//! The listener over TLS: a client that trusts the certificate gets its
//! answer; a client that speaks plain HTTP to it gets nothing; bad files
//! are refused with their name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

fn files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
    (c, k, cert.cert.der().to_vec())
}

#[tokio::test]
async fn a_client_that_trusts_the_certificate_is_answered_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (c, k, der) = files(dir.path());
    let acceptor = custodian_server::listen::tls_acceptor(&c, &k).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/healthz", get(|| async { "ok" }));
    tokio::spawn(custodian_server::listen::serve(
        listener,
        router,
        custodian_server::listen::Limits::default(),
        Some(acceptor),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tls.read_to_string(&mut out).await.ok();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.ends_with("ok"), "{out}");

    // Plain HTTP to the TLS port: no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut buf),
    )
    .await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}

#[test]
fn files_that_are_not_a_certificate_or_key_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (c, k, _) = files(dir.path());
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a pem file").unwrap();
    let e = custodian_server::listen::tls_acceptor(&junk, &k)
        .err()
        .unwrap();
    assert!(e.contains("junk.pem"), "{e}");
    let e = custodian_server::listen::tls_acceptor(&c, &junk)
        .err()
        .unwrap();
    assert!(e.contains("junk.pem") && e.contains("private key"), "{e}");
    let e = custodian_server::listen::tls_acceptor(&dir.path().join("missing.pem"), &k)
        .err()
        .unwrap();
    assert!(e.contains("missing.pem"), "{e}");
}
