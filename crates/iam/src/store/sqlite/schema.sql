-- The identity store's schema, version 1 (PRAGMA user_version).
-- User and role names are unique per account by name_key, their lower-case form.
CREATE TABLE accounts (
    uid TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE users (
    account TEXT NOT NULL REFERENCES accounts(uid),
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, name_key)
) STRICT;
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE roles (
    account TEXT NOT NULL REFERENCES accounts(uid),
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    trust_policy TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, name_key)
) STRICT;
CREATE TABLE policies (
    account TEXT NOT NULL REFERENCES accounts(uid),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
) STRICT;
CREATE TABLE attachments (
    target_kind TEXT NOT NULL,
    target_account TEXT NOT NULL,
    target_name_key TEXT NOT NULL,
    policy_account TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    PRIMARY KEY (target_kind, target_account, target_name_key, policy_account, policy_name)
) STRICT;
CREATE TABLE sts_sessions (
    access_key_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    token_sha256 BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sts_sessions_expiry ON sts_sessions(expires_at);
