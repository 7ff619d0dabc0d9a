//! An extra MariaDB instance with its own config, for tests that need a server set up
//! differently from the shared one (tests/services/mariadb.sh does the work).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// An extra MariaDB instance (tests/services/mariadb.sh), stopped when dropped, also when the
/// test fails.
pub struct ExtraMariadb {
    pub name: &'static str,
    pub port: u16,
}

impl ExtraMariadb {
    pub fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services/mariadb.sh")
    }

    /// Starts instance `name` on `port` with `extra_cnf` under [mariadbd] (bounded: 120 s).
    pub fn start(name: &'static str, port: u16, extra_cnf: &str) -> ExtraMariadb {
        // Made first, so that a start that fails half-way is stopped too.
        let instance = ExtraMariadb { name, port };
        let t0 = Instant::now();
        let out = Command::new("timeout")
            .arg("120")
            .arg("bash")
            .arg(Self::script())
            .arg("start")
            .env("SLUICE_MARIADB_NAME", name)
            .env("SLUICE_MARIADB_PORT", port.to_string())
            .env("SLUICE_MARIADB_EXTRA_CNF", extra_cnf)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "cannot start MariaDB instance {name} on port {port}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "MariaDB instance {name} up in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        instance
    }

    pub fn url(&self, user: &str) -> String {
        format!("mysql://{user}:{user}@127.0.0.1:{}", self.port)
    }

    /// A global variable of the instance, to make sure it runs with the intended settings.
    pub async fn variable(&self, name: &str) -> String {
        use mysql_async::prelude::Queryable;
        let opts =
            mysql_async::Opts::from_url(&format!("mysql://root@127.0.0.1:{}", self.port)).unwrap();
        let mut conn = mysql_async::Conn::new(opts).await.unwrap();
        let value: Option<String> = conn
            .query_first(format!("SELECT @@GLOBAL.{name}"))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        value.unwrap_or_default()
    }
}

impl Drop for ExtraMariadb {
    fn drop(&mut self) {
        let out = Command::new("timeout")
            .arg("60")
            .arg("bash")
            .arg(Self::script())
            .arg("stop")
            .env("SLUICE_MARIADB_NAME", self.name)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "cannot stop MariaDB instance {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("cannot stop MariaDB instance {}: {e}", self.name),
        }
    }
}
