-- The KMS key store, schema version 1 (PRAGMA user_version).
-- Secrets appear only in columns named sealed_*: AES-256-GCM under a key
-- derived from the root key, which is never stored (see seal.rs).

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE keys (
    key_id               TEXT PRIMARY KEY,
    account              TEXT NOT NULL,
    region               TEXT NOT NULL,
    description          TEXT NOT NULL,
    key_spec             TEXT NOT NULL,
    key_usage            TEXT NOT NULL,
    origin               TEXT NOT NULL,
    state                TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    delete_date          INTEGER,
    deleted_at           INTEGER,          -- set once deleted: the row stays as a tombstone
    rotation_interval    INTEGER,          -- seconds; NULL = no automatic rotation
    last_rotation_date   INTEGER,
    next_rotation_date   INTEGER,
    material_expire_time INTEGER,
    material_fingerprint BLOB,             -- BYOK: HMAC under a root-derived key, not the material
    primary_version      TEXT
);
CREATE INDEX keys_by_account ON keys (account, region, created_at);

CREATE TABLE key_versions (
    key_id          TEXT NOT NULL REFERENCES keys (key_id),
    version_id      TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    sealed_material BLOB,                  -- NULL once destroyed (expired BYOK material)
    PRIMARY KEY (key_id, version_id),
    UNIQUE (key_id, seq)
);

CREATE TABLE aliases (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_id     TEXT NOT NULL REFERENCES keys (key_id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account, region, alias_name)
);

CREATE TABLE import_parameters (
    token              TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL REFERENCES keys (key_id),
    wrapping_algorithm TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    expires_at         INTEGER NOT NULL
);
