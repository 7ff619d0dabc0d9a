//! HTTP helpers of the tests: the address a `sluice` process logged for its HTTP endpoints,
//! and plain requests to them (HTTP/1.1 over a TCP stream: no client library needed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::standalone::StandaloneProcess;

/// How long a response, or the address line, may take.
const WAIT: Duration = Duration::from_secs(30);

/// The address the process logged (`HTTP listening on ... addr=HOST:PORT`).
pub fn http_addr(sluice: &mut StandaloneProcess) -> String {
    logged_addr(sluice, "HTTP listening on")
}

/// The address `sluice manager` logged (`Manager API listening on ... addr=HOST:PORT`).
pub fn manager_addr(sluice: &mut StandaloneProcess) -> String {
    logged_addr(sluice, "Manager API listening on")
}

/// The first admin's password, which a manager given none made and logged once (the manager
/// logs it before its address line: call after [`manager_addr`]).
pub fn first_admin_password(sluice: &StandaloneProcess) -> String {
    let text = sluice.log_text();
    text.lines()
        .find(|l| l.contains("first user: `admin` with password"))
        .and_then(|l| l.split('`').nth(3))
        .unwrap_or_else(|| panic!("no first password in the log:\n{text}"))
        .to_string()
}

/// The `addr=HOST:PORT` of the first log line holding `marker`, waited for.
fn logged_addr(sluice: &mut StandaloneProcess, marker: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = sluice.log_text();
        let found = log
            .lines()
            .find(|l| l.contains(marker))
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
            "no `{marker}` line in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close`: the status code and the body.
pub fn get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, None, None)
}

/// `METHOD path` over HTTP/1.1 with `Connection: close`, with a bearer token and a JSON body
/// if given: the status code and the body (a chunked body decoded).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or_default();
    if method != "GET" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header end in {response:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status code in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

/// `METHOD /api/v1{path}` on the manager at `addr`: the status code and the body as JSON (a
/// body that is not JSON as a JSON string).
pub fn api(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string);
    let (code, text) = request(
        addr,
        method,
        &format!("/api/v1{path}"),
        token,
        body.as_deref(),
    );
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Logs `user` in at the manager at `addr`: the token.
pub fn login(addr: &str, user: &str, password: &str) -> String {
    let body = serde_json::json!({"user": user, "password": password});
    let (code, body) = api(addr, "POST", "/login", None, Some(&body));
    assert_eq!(code, 200, "login {user}: {body}");
    body["token"].as_str().expect("a token").to_string()
}

/// A chunked body's content.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// `GET /status` as JSON.
pub fn status(addr: &str) -> Value {
    let (code, body) = get(addr, "/status");
    assert_eq!(code, 200, "GET /status: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
}
