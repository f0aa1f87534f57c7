-- Accounts that may DescribeKey a key of another account (never use it): the
-- owner of a warehouse project sees the project's default key, which the
-- warehouse service account holds. Added in schema version 2.
CREATE TABLE key_viewers (
    key_id  TEXT NOT NULL REFERENCES keys (key_id),
    account TEXT NOT NULL,
    PRIMARY KEY (key_id, account)
);
