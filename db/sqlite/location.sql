-- location: the registrar's bindings (RFC 3261 section 10.3), one row per
-- contact of an address-of-record. Columns follow Kamailio's usrloc table
-- so data can be moved between the two; see modules/location/location.md.
-- The location module runs this file itself on a new database; every
-- statement is idempotent so it may also be run by hand. A database of an
-- older version is upgraded by location-upgrade-N.sql, N = 2, 3, ...

CREATE TABLE IF NOT EXISTS version (
    table_name TEXT PRIMARY KEY NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL
);

CREATE TABLE IF NOT EXISTS location (
    id INTEGER PRIMARY KEY NOT NULL,
    username TEXT DEFAULT '' NOT NULL,
    domain TEXT DEFAULT NULL,
    contact TEXT DEFAULT '' NOT NULL,
    received TEXT DEFAULT NULL,
    path TEXT DEFAULT NULL,
    expires INTEGER NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid TEXT DEFAULT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified INTEGER DEFAULT 0 NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent TEXT DEFAULT NULL,
    socket TEXT DEFAULT NULL,
    methods TEXT DEFAULT NULL,
    instance TEXT DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    branch TEXT DEFAULT NULL
);

CREATE INDEX IF NOT EXISTS location_account_idx ON location (username, domain);
CREATE INDEX IF NOT EXISTS location_expires_idx ON location (expires);

INSERT OR IGNORE INTO version (table_name, table_version) VALUES ('location', 2);
