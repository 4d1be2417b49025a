-- subscriber: the credentials the auth module checks digest responses
-- against (RFC 2617, RFC 7616), one row per user of a domain. Columns
-- follow Kamailio's auth_db subscriber table (username, domain, password,
-- ha1, ha1b) so data can be moved between the two, plus ha1_sha256 for
-- SHA-256 digests; see modules/auth/auth.md.
-- ha1 = MD5(username:domain:password), ha1b = MD5(username@domain:domain:
-- password), ha1_sha256 = SHA-256(username:domain:password), all lowercase
-- hex; password may be '' when only the hashes are kept.
-- The auth module runs this file itself on a new database; every statement
-- is idempotent so it may also be run by hand.

CREATE TABLE IF NOT EXISTS version (
    table_name TEXT PRIMARY KEY NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL
);

CREATE TABLE IF NOT EXISTS subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username TEXT DEFAULT '' NOT NULL,
    domain TEXT DEFAULT '' NOT NULL,
    password TEXT DEFAULT '' NOT NULL,
    ha1 TEXT DEFAULT '' NOT NULL,
    ha1b TEXT DEFAULT '' NOT NULL,
    ha1_sha256 TEXT DEFAULT '' NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS subscriber_account_idx ON subscriber (username, domain);
CREATE INDEX IF NOT EXISTS subscriber_username_idx ON subscriber (username);

INSERT OR IGNORE INTO version (table_name, table_version) VALUES ('subscriber', 1);
