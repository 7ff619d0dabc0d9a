-- The manager's store, version 1. Times are milliseconds since the Unix epoch.
-- `{serial_id}` is the backend's auto-increment primary key (see migrate.rs).
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    expires_at_ms BIGINT NOT NULL
);
CREATE TABLE tasks (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    revision BIGINT NOT NULL,
    desired TEXT NOT NULL,
    published_revision BIGINT NOT NULL DEFAULT 0,
    published_desired TEXT,
    deleted BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE TABLE task_revisions (
    task TEXT NOT NULL,
    revision BIGINT NOT NULL,
    config TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (task, revision)
);
CREATE TABLE audit_log (
    id {serial_id},
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    task TEXT,
    summary TEXT NOT NULL
);
CREATE INDEX audit_log_task ON audit_log (task, id);
