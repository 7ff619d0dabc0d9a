//! HTTP helpers of the tests: the address a `sluice` process logged for its HTTP endpoints,
//! and plain `GET`s of them (HTTP/1.1 over a TCP stream: no client library needed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::standalone::StandaloneProcess;

/// How long a response, or the address line, may take.
const WAIT: Duration = Duration::from_secs(30);

/// The address the process logged (`HTTP listening on ... addr=HOST:PORT`).
pub fn http_addr(sluice: &mut StandaloneProcess) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = sluice.log_text();
        let found = log
            .lines()
            .find(|l| l.contains("HTTP listening on"))
            .and_then(|l| l.split_once("addr=").map(|(_, a)| a.to_string()));
        if let Some(rest) = found {
            return rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        sluice.assert_running();
        assert!(
            Instant::now() < deadline,
            "no `HTTP listening` line in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close`: the status code and the body.
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("GET {path}: reading the response: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: no header end in {response:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status code in {head:?}"));
    (code, body.to_string())
}

/// `GET /status` as JSON.
pub fn status(addr: &str) -> Value {
    let (code, body) = get(addr, "/status");
    assert_eq!(code, 200, "GET /status: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
}
