-- location on PostgreSQL: the registrar's bindings (RFC 3261 section 10.3)
-- shared by a farm of trapezoid nodes. The same columns as
-- db/sqlite/location.sql (and Kamailio's usrloc table), plus what lets
-- several nodes write one table: a unique contact per AOR and the function
-- location_save, which orders saves by Call-ID and CSeq in the database.
--
-- Apply it before the first start, and again after an upgrade; it is
-- idempotent and takes a lock, so two operators cannot apply it at once:
--   psql -v ON_ERROR_STOP=1 -d 'postgresql://trapezoid@db/trapezoid' \
--        -f /usr/share/trapezoid/postgres/location.sql
-- Needs PostgreSQL 15 or later (NULLS NOT DISTINCT).

SET client_min_messages = warning;
BEGIN;
DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('trapezoid location schema')); END $$;

CREATE TABLE IF NOT EXISTS version (
    table_name text PRIMARY KEY,
    table_version integer DEFAULT 0 NOT NULL
);

CREATE TABLE IF NOT EXISTS location (
    id bigserial PRIMARY KEY,
    username text DEFAULT '' NOT NULL,
    domain text DEFAULT NULL,
    contact text DEFAULT '' NOT NULL,
    received text DEFAULT NULL,
    path text DEFAULT NULL,
    expires bigint NOT NULL,
    q double precision DEFAULT 1.0 NOT NULL,
    callid text DEFAULT NULL,
    cseq bigint DEFAULT 1 NOT NULL,
    last_modified bigint DEFAULT 0 NOT NULL,
    flags bigint DEFAULT 0 NOT NULL,
    cflags bigint DEFAULT 0 NOT NULL,
    user_agent text DEFAULT NULL,
    socket text DEFAULT NULL,
    methods text DEFAULT NULL,
    instance text DEFAULT NULL,
    reg_id bigint DEFAULT 0 NOT NULL,
    server_id integer DEFAULT 0 NOT NULL,
    connection_id integer DEFAULT 0 NOT NULL,
    branch text DEFAULT NULL
);

-- One row per contact of an AOR (domain may be NULL: AORs without one).
CREATE UNIQUE INDEX IF NOT EXISTS location_contact_idx
    ON location (username, domain, contact) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS location_expires_idx ON location (expires);

-- location_save(user, domain, up, del): one REGISTER's change to an AOR.
-- up: the bindings it writes (a JSON array of objects keyed by column
-- name); del: the contacts it removes, each with the callid and cseq its
-- node last saw. Returns the AOR's rows afterwards, each with `applied`
-- (one row with a NULL contact when none are left).
--
-- RFC 3261 10.3 across nodes: a binding in `up` loses to a row with the
-- same Call-ID and a higher CSeq, or the same CSeq written by another
-- transaction (branch); then nothing is written (applied = false; with one
-- contact, the usual case, the upsert finds it alone) and the node
-- answers 500. A removal only takes a row still as its node saw it,
-- so a node with an older view never deletes another node's newer save.
-- The advisory lock orders saves of one AOR; nodes take these locks in
-- AOR order within a transaction, so two nodes never deadlock. Every
-- applied save notifies channel `location` with the AOR, which other
-- nodes LISTEN to.
CREATE OR REPLACE FUNCTION location_save(p_user text, p_domain text,
                                         p_up jsonb, p_del jsonb)
RETURNS TABLE (applied boolean, contact text, received text, path text,
               expires bigint, q double precision, callid text, cseq bigint,
               last_modified bigint, flags bigint, cflags bigint,
               user_agent text, socket text, methods text, instance text,
               reg_id bigint, branch text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_aor text := p_user || coalesce('@' || p_domain, '');
    v_ok boolean := true;
    v_rows integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(v_aor, 0));
    IF jsonb_array_length(p_up) > 1 THEN
        -- Several contacts: all are checked first, so none or all go in.
        SELECT NOT EXISTS (
            SELECT 1 FROM location l, jsonb_populate_recordset(NULL::location, p_up) n
             WHERE l.username = p_user AND l.domain IS NOT DISTINCT FROM p_domain
               AND l.contact = n.contact AND l.callid = n.callid
               AND (l.cseq > n.cseq OR
                    (l.cseq = n.cseq AND l.branch IS DISTINCT FROM n.branch)))
          INTO v_ok;
    END IF;
    IF v_ok AND jsonb_array_length(p_up) > 0 THEN
        -- The upsert's WHERE is the same check: for the usual REGISTER, one
        -- contact, it is the only one (a row it does not update is stale).
        INSERT INTO location AS l (username, domain, contact, received, path,
               expires, q, callid, cseq, last_modified, flags, cflags,
               user_agent, socket, methods, instance, reg_id, branch)
        SELECT p_user, p_domain, n.contact, n.received, n.path, n.expires,
               n.q, n.callid, n.cseq, n.last_modified, n.flags, n.cflags,
               n.user_agent, n.socket, n.methods, n.instance, n.reg_id,
               n.branch
          FROM jsonb_populate_recordset(NULL::location, p_up) n
        ON CONFLICT (username, domain, contact) DO UPDATE SET
               received = EXCLUDED.received, path = EXCLUDED.path,
               expires = EXCLUDED.expires, q = EXCLUDED.q,
               callid = EXCLUDED.callid, cseq = EXCLUDED.cseq,
               last_modified = EXCLUDED.last_modified,
               flags = EXCLUDED.flags, cflags = EXCLUDED.cflags,
               user_agent = EXCLUDED.user_agent, socket = EXCLUDED.socket,
               methods = EXCLUDED.methods, instance = EXCLUDED.instance,
               reg_id = EXCLUDED.reg_id, branch = EXCLUDED.branch
         WHERE NOT coalesce(l.callid = EXCLUDED.callid AND
                   (l.cseq > EXCLUDED.cseq OR (l.cseq = EXCLUDED.cseq AND
                    l.branch IS DISTINCT FROM EXCLUDED.branch)), false);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        v_ok := v_rows = jsonb_array_length(p_up);
    END IF;
    IF v_ok THEN
        IF jsonb_array_length(p_del) > 0 THEN
            DELETE FROM location l
             USING jsonb_populate_recordset(NULL::location, p_del) d
             WHERE l.username = p_user
               AND l.domain IS NOT DISTINCT FROM p_domain
               AND l.contact = d.contact
               AND l.callid IS NOT DISTINCT FROM d.callid
               AND l.cseq = d.cseq;
        END IF;
        PERFORM pg_notify('location', v_aor);
    END IF;
    RETURN QUERY
        SELECT v_ok, l.contact, l.received, l.path, l.expires, l.q, l.callid,
               l.cseq, l.last_modified, l.flags, l.cflags, l.user_agent,
               l.socket, l.methods, l.instance, l.reg_id, l.branch
          FROM location l
         WHERE l.username = p_user AND l.domain IS NOT DISTINCT FROM p_domain;
    IF NOT FOUND THEN
        applied := v_ok;
        RETURN NEXT;
    END IF;
END
$$;

INSERT INTO version (table_name, table_version) VALUES ('location', 2)
    ON CONFLICT (table_name) DO NOTHING;
COMMIT;
