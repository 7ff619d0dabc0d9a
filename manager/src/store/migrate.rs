//! Schema migrations, embedded in the binary and applied in order at start; `manager_schema`
//! records the versions applied. One SQL text serves both backends: the only thing they spell
//! differently, an auto-increment key, is written `{serial_id}` and filled in here.

use super::{query_err, Backend, Store, StoreError};

/// (version, SQL), in order. Never edit a released one: add a version.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("migrations/0001_init.sql"))];

impl Store {
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS manager_schema \
             (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(query_err("create the table manager_schema"))?;
        let serial_id = match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGSERIAL PRIMARY KEY",
        };
        for &(version, sql) in MIGRATIONS {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(query_err("begin a migration"))?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM manager_schema WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(query_err("read manager_schema"))?;
            if applied.is_some() {
                continue;
            }
            let sql = sql.replace("{serial_id}", serial_id);
            let failed = |e: sqlx::Error| StoreError::Migrate {
                version,
                backend: self.backend.name(),
                detail: e.to_string(),
            };
            sqlx::raw_sql(&sql)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            sqlx::query("INSERT INTO manager_schema (version, applied_at_ms) VALUES ($1, $2)")
                .bind(version)
                .bind(super::now_ms())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            tracing::info!(version, "Store schema migrated to version {version}.");
        }
        Ok(())
    }
}
