//! Users (name, argon2 password hash, role) and their API tokens (stored as SHA-256 digests with
//! an expiry, never in clear).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{query_err, AuditEntry, Store, StoreError};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and writes.
    Admin,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub name: String,
    /// The argon2 PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at_ms: i64,
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt {
        what: "a row of users".into(),
        detail: e.to_string(),
    };
    let name: String = row.try_get("name").map_err(get)?;
    let role: String = row.try_get("role").map_err(get)?;
    Ok(UserRecord {
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
            what: format!("user {name}"),
            detail: format!("unknown role {role:?}"),
        })?,
        password_hash: row.try_get("password_hash").map_err(get)?,
        created_at_ms: row.try_get("created_at_ms").map_err(get)?,
        name,
    })
}

impl Store {
    /// How many users exist (none: the first admin is created at start).
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(query_err("count the users"))
    }

    /// Creates a user, with its audit entry.
    pub async fn create_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let what = || format!("create user {}", user.name);
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_err(what()))?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::UserExists {
                user: user.name.clone(),
            });
        }
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what()))
    }

    pub async fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT name, password_hash, role, created_at_ms FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(format!("read user {name}")))?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT name, password_hash, role, created_at_ms FROM users ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(query_err("list the users"))?;
        rows.iter().map(user_from_row).collect()
    }

    /// Stores a token's digest for `user` until `expires_at_ms`; drops expired tokens.
    pub async fn insert_token(
        &self,
        token_hash: &str,
        user: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tokens WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(query_err("delete expired tokens"))?;
        sqlx::query(
            "INSERT INTO tokens (token_hash, user_name, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(query_err(format!("store a token for user {user}")))?;
        Ok(())
    }

    /// The user a token (by its digest) belongs to, if it exists and has not expired.
    pub async fn user_for_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT u.name, u.password_hash, u.role, u.created_at_ms FROM tokens t \
             JOIN users u ON u.name = t.user_name WHERE t.token_hash = $1 AND t.expires_at_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("look a token up"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Revokes one token (logging out).
    pub async fn delete_token(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(query_err("revoke a token"))?;
        Ok(())
    }

    /// Replaces a user's password hash and revokes every token of the user, with the audit
    /// entry; `false` if the user does not exist.
    pub async fn set_password(
        &self,
        user: &str,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let what = || format!("change the password of user {user}");
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE name = $1")
            .bind(user)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(query_err(what()))?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tokens WHERE user_name = $1")
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(query_err(what()))?;
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what()))?;
        Ok(true)
    }

    /// Deletes a user and its tokens, with the audit entry; refuses the last admin; `false` if
    /// the user does not exist.
    pub async fn delete_user(&self, user: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        let what = || format!("delete user {user}");
        let mut tx = self.pool.begin().await.map_err(query_err(what()))?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE name = $1")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_err(what()))?;
        let Some(role) = role else {
            return Ok(false);
        };
        if role == Role::Admin.as_str() {
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
                .bind(Role::Admin.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(query_err(what()))?;
            if admins <= 1 {
                return Err(StoreError::LastAdmin { user: user.into() });
            }
        }
        // Tokens first: not every backend enforces the foreign key's cascade (SQLite needs a
        // pragma for it).
        for statement in [
            "DELETE FROM tokens WHERE user_name = $1",
            "DELETE FROM users WHERE name = $1",
        ] {
            sqlx::query(statement)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(query_err(what()))?;
        }
        audit.insert(&mut tx).await?;
        tx.commit().await.map_err(query_err(what()))?;
        Ok(true)
    }
}
