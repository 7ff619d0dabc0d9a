//! TLS to the source: a MariaDB instance with a self-signed certificate and a `sluice` user that
//! REQUIRE SSL. Sluice streams over TLS when the URL asks for it, and the server refuses it
//! without.

mod common;

use std::process::Command;

use common::extra_mariadb::ExtraMariadb;
use mysql_async::prelude::Queryable;

/// A self-signed certificate and key for 127.0.0.1, made with the openssl CLI.
fn self_signed_certificate(dir: &std::path::Path) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

fn dump(url: &str, from: &str, until: &str) -> std::process::Output {
    Command::new(common::sluice_bin())
        .args(["dump", "--source", url, "--from", from, "--until", until])
        .args(["--server-id", "4100301"])
        .output()
        .expect("sluice runs")
}

#[tokio::test]
async fn streams_over_tls_and_is_refused_without_it() {
    let dir = std::env::temp_dir().join(format!("sluice-tls-{}", std::process::id()));
    let (cert, key) = self_signed_certificate(&dir);
    let server = ExtraMariadb::start(
        "mariadb-tls",
        13336,
        &format!("ssl_cert={cert}\nssl_key={key}"),
    );
    assert_eq!(server.variable("have_ssl").await, "YES");

    let root =
        mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", server.port)).unwrap();
    let mut root = mysql_async::Conn::new(root).await.unwrap();
    root.query_drop("ALTER USER 'sluice'@'%' REQUIRE SSL")
        .await
        .unwrap();
    let db = common::fresh_database(&mut root, "tls").await;
    root.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20))"
    ))
    .await
    .unwrap();
    let from = common::binlog_end(&mut root).await;
    root.query_drop(format!(
        "INSERT INTO `{db}`.t VALUES (1, 'over'), (2, 'tls')"
    ))
    .await
    .unwrap();
    let until = common::binlog_end(&mut root).await;

    // verify_ca=false: the certificate is self-signed.
    let tls_url = format!(
        "mysql://sluice:sluice@127.0.0.1:{}?require_ssl=true&verify_ca=false",
        server.port
    );
    let out = dump(&tls_url, &from, &until);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = common::parse_lines(&out.stdout);
    let rows = common::rows_of(&events, &db);
    assert_eq!(rows.len(), 2, "{events:#?}");
    assert_eq!(rows[1]["after"]["v"], "tls");

    // The same user without TLS: the server refuses the login, and Sluice says so.
    let plain_url = format!("mysql://sluice:sluice@127.0.0.1:{}", server.port);
    let out = dump(&plain_url, &from, &until);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("refused the login"), "{stderr}");

    root.query_drop("ALTER USER 'sluice'@'%' REQUIRE NONE")
        .await
        .unwrap();
    root.disconnect().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
