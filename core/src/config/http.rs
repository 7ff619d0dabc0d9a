//! The `[http]` table: where a node serves `/metrics`, `/health` and `/status`.

use serde::Deserialize;

use super::FieldError;

/// The HTTP endpoints. Without an `[http]` table no server runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `HOST:PORT` to listen on, e.g. `127.0.0.1:9180`, `0.0.0.0:9180`, `[::1]:9180` or
    /// `localhost:9180`; port 0 picks a free port (the log says which).
    pub listen: String,
}

impl HttpConfig {
    /// What is wrong with this table, each problem naming its field.
    pub fn problems(&self) -> Vec<FieldError> {
        match check_listen(&self.listen) {
            Ok(()) => vec![],
            Err(message) => vec![FieldError {
                field: "http.listen".into(),
                value: Some(self.listen.clone()),
                message,
            }],
        }
    }
}

/// `HOST:PORT` with an IP address (IPv6 in brackets) or a host name, and a port 0-65535.
pub(super) fn check_listen(listen: &str) -> Result<(), String> {
    const FORM: &str = "expected HOST:PORT, e.g. `127.0.0.1:9180`, `0.0.0.0:9180`, \
                        `[::1]:9180` or `localhost:9180` (port 0 picks a free port)";
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let Some((host, port)) = listen.rsplit_once(':') else {
        return Err(format!("no port; {FORM}"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("the port `{port}` is not 0 to 65535; {FORM}"));
    }
    if host.starts_with('[') || host.contains(':') {
        return Err(format!(
            "`{host}` is not an IPv6 address in brackets; {FORM}"
        ));
    }
    let is_name = |label: &str| {
        !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.is_empty() || !host.split('.').all(is_name) {
        return Err(format!(
            "`{host}` is not an IP address or a host name; {FORM}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_listen;

    #[test]
    fn listen_addresses() {
        for ok in [
            "127.0.0.1:9180",
            "0.0.0.0:0",
            "[::1]:9180",
            "localhost:9180",
            "metrics.internal:80",
        ] {
            assert_eq!(check_listen(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("9180", "no port"),
            ("127.0.0.1:99999", "not 0 to 65535"),
            ("127.0.0.1:", "not 0 to 65535"),
            (":9180", "not an IP address or a host name"),
            ("::1:9180", "IPv6 address in brackets"),
            ("my host:9180", "not an IP address or a host name"),
        ] {
            let message = check_listen(bad).unwrap_err();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }
}
