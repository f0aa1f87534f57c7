-- Schema version 2: nonces of verified signed requests (see record_nonce).
CREATE TABLE signature_nonces (
    digest BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX signature_nonces_expiry ON signature_nonces(expires_at);
