//! The listener's bounds over real TCP: a connection limit that a flood of
//! silent connections cannot hold, header, idle and request timeouts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use axum::routing::get;
use custodian_server::listen::{serve, Limits};

async fn start() -> std::net::SocketAddr {
    let router = axum::Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        max_connections: 8,
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(1200),
        request_timeout: Duration::from_millis(800),
    };
    tokio::spawn(serve(listener, router, limits, None));
    addr
}

/// One request on a new connection; the whole answer, or "" if the server
/// closed it without one.
fn get_once(addr: std::net::SocketAddr, path: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed the connection within `within`.
fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    matches!(c.read(&mut b), Ok(0) | Err(_)) && {
        // A timeout is an error too: tell them apart.
        c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        !matches!(c.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_hold_the_server() {
    let addr = start().await;
    let a = tokio::task::spawn_blocking(move || {
        assert!(get_once(addr, "/ok").contains("200 OK"));
        // Eight silent connections take every slot.
        let mut silent: Vec<TcpStream> =
            (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        // The ninth is closed at once, without an answer.
        let t = Instant::now();
        assert_eq!(get_once(addr, "/ok"), "");
        assert!(t.elapsed() < Duration::from_secs(2));
        // The silent ones are closed by the server within the timeouts ...
        for c in &mut silent {
            assert!(
                closed_within(c, Duration::from_secs(3)),
                "a silent connection stayed open"
            );
        }
        // ... and the server answers again.
        assert!(get_once(addr, "/ok").contains("200 OK"));
        // Headers begun and never finished: closed.
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n").unwrap();
        assert!(closed_within(&mut half, Duration::from_secs(3)));
        // A request the server takes too long over: 408.
        let slow = get_once(addr, "/slow");
        assert!(slow.contains("408"), "{slow}");
    });
    a.await.unwrap();
}
