//! The manager's API over plain HTTP/1 (hyper's client): JSON in, JSON out, every non-2xx
//! answer turned into a [`CtlError`] naming the request.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::error::CtlError;

/// How long one request may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Api {
    /// `http://HOST:PORT[/PREFIX]`, without a trailing `/`.
    base: String,
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    pub fn new(manager: &str, token: Option<String>) -> Result<Api, CtlError> {
        let base = manager.trim().trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .map_err(|e| CtlError::BadInput(format!("--manager {manager:?}: not a URL: {e}")))?;
        match uri.scheme_str() {
            Some("http") if uri.authority().is_some() => {}
            Some("https") => {
                return Err(CtlError::BadInput(format!(
                    "--manager {manager}: https is not supported: sluice ctl speaks plain HTTP \
                     (the manager does too; TLS belongs to a reverse proxy in front of it)"
                )))
            }
            _ => {
                return Err(CtlError::BadInput(format!(
                    "--manager {manager:?}: expected http://HOST:PORT"
                )))
            }
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Api {
            base,
            token,
            client,
        })
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub async fn get(&self, path: &str) -> Result<Value, CtlError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, CtlError> {
        self.call(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, CtlError> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CtlError> {
        self.call(Method::DELETE, path, None).await
    }

    /// `METHOD /api/v1{path}`: the answer's JSON, or the error it stands for.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CtlError> {
        let url = format!("{}/api/v1{path}", self.base);
        let what = format!("{method} {url}");
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {}", token.trim()));
        }
        let payload = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(json.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(payload)
            .map_err(|e| CtlError::BadInput(format!("{what}: cannot build the request: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                CtlError::Failed(format!(
                    "{what}: cannot reach the manager: {}",
                    error_chain(&e)
                ))
            })?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CtlError::Failed(format!("{what}: reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, CtlError>((status, String::from_utf8_lossy(&bytes).into_owned()))
        };
        let (status, text) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| CtlError::Failed(format!("{what}: no answer within {TIMEOUT:?}")))??;
        if !(200..300).contains(&status) {
            return Err(CtlError::from_response(&what, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            CtlError::Failed(format!(
                "{what}: HTTP {status} but the answer is not JSON ({e})"
            ))
        })
    }
}

/// An error with its causes, `a: b: c` (hyper's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A task name as one path segment: anything but letters, digits, `-`, `_`, `.` and `~` is
/// percent-encoded.
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded_as_one_segment() {
        assert_eq!(segment("orders-1.v2"), "orders-1.v2");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(Api::new("http://127.0.0.1:8080/", None).is_ok());
        assert!(matches!(
            Api::new("https://m:443", None),
            Err(CtlError::BadInput(m)) if m.contains("reverse proxy")
        ));
        assert!(Api::new("127.0.0.1:8080", None).is_err());
    }
}
