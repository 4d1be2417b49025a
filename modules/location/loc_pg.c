/*
 * loc_pg.c - the PostgreSQL backend of the location store (loc_store.h):
 * one store shared by a farm of nodes. It owns one libpq connection (the
 * writer's), its reconnection with backoff, the schema check against
 * db/postgres/location.sql, the group commit (one pipeline, one
 * transaction, one WAL flush per batch of REGISTERs) and what other nodes
 * changed, heard through LISTEN/NOTIFY and read back for worker 0.
 *
 * RFC 3261 10.3 across nodes lives in the database: each save calls
 * location_save() with what changed between the set memory held (job->prev)
 * and the new one, and the function refuses a contact whose row holds a
 * newer CSeq of the same Call-ID. Its result, the AOR's rows with other
 * nodes' contacts, becomes memory's set.
 *
 * Locking rule: none here; loc_store.h says which one thread owns a
 * backend at a time. The connection is nonblocking and every wait is a
 * poll() with a timeout, so a database that stops answering costs the
 * writer PG_IO_TIMEOUT_MS at most, never an event loop anything.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc_store.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <trapezoid/json.h>

#include "location_sql.h" /* LOC_SCHEMA_VERSION */

#define PG_IO_TIMEOUT_MS 15000
#define PG_BACKOFF_FIRST_MS 1000
#define PG_BACKOFF_MAX_MS 10000
#define PG_SCHEMA_FILE TZ_PKGDATADIR "/postgres/location.sql"

typedef struct loc_pg {
  loc_backend_t base;
  char *conninfo;       /* db_url as given: may hold a password */
  PGconn *conn;         /* NULL while the database is down */
  loc_tune_t tune;
  int backoff_ms;       /* the wait before the next attempt after this one */
  long long retry_at;   /* monotonic ms of the next attempt while down */
  int resync;           /* reconnected: reload everything for worker 0 */
  unsigned sync_gen;
  loc_link_t link, posted; /* now, and as worker 0 last heard */
  char err[256];        /* why the connection went, for saves refused */
} loc_pg_t;

/* Binding columns, in the order pg_read_binding reads them. */
#define PG_COLS                                                            \
  "contact, received, path, expires, q, callid, cseq, last_modified, "    \
  "flags, cflags, user_agent, socket, methods, instance, reg_id, branch"
#define PG_NCOLS 16

static const struct {
  const char *name, *sql;
  int nparams;
} pg_stmts[] = {
  {"save", "SELECT * FROM location_save($1, $2, $3::jsonb, $4::jsonb)", 4},
  /* SKIP LOCKED: nodes expiring at once each take other rows, none waits.
   * The server's clock bounds it: a node whose clock runs fast cannot
   * delete live rows. */
  {"expire", "DELETE FROM location WHERE ctid IN (SELECT ctid FROM location "
             "WHERE expires <= least($1::bigint, "
             "extract(epoch FROM now())::bigint) "
             "FOR UPDATE SKIP LOCKED LIMIT 10000)", 1},
  {"read", "SELECT true, " PG_COLS " FROM location "
           "WHERE username = $1 AND domain IS NOT DISTINCT FROM $2", 2},
  {"load", "SELECT username, domain, " PG_COLS " FROM location "
           "WHERE expires > extract(epoch FROM now()) "
           "ORDER BY username, domain", 0},
  {"refresh", "SELECT l.username, l.domain, " PG_COLS " FROM "
              "jsonb_to_recordset($1::jsonb) AS k(u text, d text) "
              "JOIN location l ON l.username = k.u "
              "AND l.domain IS NOT DISTINCT FROM k.d "
              "ORDER BY l.username, l.domain", 1},
};

static long long pg_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line: a multi-host URL gets a line per host
 * tried, joined with "; "; the tab-indented hints after them are left out. */
static void pg_msg(PGconn *c, const char *what, char *out, size_t len)
{
  const char *m = c ? PQerrorMessage(c) : "out of memory";
  size_t k = (size_t)snprintf(out, len, "%s", what);
  for (const char *line = m; *line && k + 1 < len;) {
    size_t n = strcspn(line, "\n");
    if (n > 0 && line[0] != '\t' && line[0] != ' ')
      k += (size_t)snprintf(out + k, len - k, "%s%.*s",
                            k > strlen(what) ? "; " : "", (int)n, line);
    line += n + (line[n] == '\n');
  }
}

/* ---- talking to the server ------------------------------------------------------ */

/* Sends what libpq holds and waits until a result can be taken without
 * blocking: 0, or -1 when the connection failed or stayed silent. */
static int pg_wait(loc_pg_t *d)
{
  for (;;) {
    int f = PQflush(d->conn);
    if (f < 0)
      return -1;
    if (!f && !PQisBusy(d->conn))
      return 0;
    struct pollfd p = {.fd = PQsocket(d->conn),
                       .events = POLLIN | (f ? POLLOUT : 0)};
    int r = poll(&p, 1, PG_IO_TIMEOUT_MS);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      snprintf(d->err, sizeof d->err, "no answer from PostgreSQL for %d s",
               PG_IO_TIMEOUT_MS / 1000);
      return -1;
    }
    if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(d->conn))
      return -1;
  }
}

/* The next result, NULL at the end of a query's results; -1 when the
 * connection failed. */
static int pg_get(loc_pg_t *d, PGresult **r)
{
  *r = NULL;
  if (pg_wait(d) < 0)
    return -1;
  *r = PQgetResult(d->conn);
  return 0;
}

/* The last result of the query just sent (NULL when the connection
 * failed); the caller clears it. */
static PGresult *pg_last(loc_pg_t *d, int sent)
{
  PGresult *last = NULL, *r;
  if (!sent)
    return NULL;
  while (pg_get(d, &r) == 0 && r) {
    PQclear(last);
    last = r;
  }
  return last;
}

static int pg_ok(PGresult *r)
{
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Runs sql (no parameters); 0, or -1 with why set. */
static int pg_run(loc_pg_t *d, const char *sql, char *why, size_t len)
{
  PGresult *r = pg_last(d, PQsendQuery(d->conn, sql));
  int ok = pg_ok(r);
  if (!ok)
    pg_msg(d->conn, "", why, len);
  PQclear(r);
  return ok ? 0 : -1;
}

static PGresult *pg_exec(loc_pg_t *d, const char *stmt, int n,
                         const char *const *params)
{
  PGresult *r = pg_last(d, PQsendQueryPrepared(d->conn, stmt, n, params,
                                               NULL, NULL, 0));
  if (!pg_ok(r)) {
    PQclear(r);
    return NULL;
  }
  return r;
}

/* ---- rows ---------------------------------------------------------------------- */

static const char *pg_text(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static long long pg_int(const PGresult *r, int row, int col)
{
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Reads the columns PG_COLS from col on; strings stay in r. */
static void pg_read_binding(const PGresult *r, int row, int col,
                            tz_binding_t *b)
{
  b->contact = pg_text(r, row, col);
  b->received = pg_text(r, row, col + 1);
  b->path = pg_text(r, row, col + 2);
  b->expires = (long)pg_int(r, row, col + 3);
  b->q = (int)lround(strtod(PQgetvalue(r, row, col + 4), NULL) * 1000.0);
  b->callid = pg_text(r, row, col + 5);
  b->cseq = (unsigned long)pg_int(r, row, col + 6);
  b->last_modified = (long)pg_int(r, row, col + 7);
  b->flags = (unsigned)pg_int(r, row, col + 8);
  b->cflags = (unsigned)pg_int(r, row, col + 9);
  b->user_agent = pg_text(r, row, col + 10);
  b->socket = pg_text(r, row, col + 11);
  b->methods = pg_text(r, row, col + 12);
  b->instance = pg_text(r, row, col + 13);
  b->reg_id = (long)pg_int(r, row, col + 14);
  b->branch = pg_text(r, row, col + 15);
}

/* The set of rows [from, to) of r whose contact (at col) is not NULL. */
static loc_set_t *pg_set(const PGresult *r, int from, int to, int col)
{
  size_t n = 0;
  tz_binding_t *b = calloc((size_t)(to - from) + 1, sizeof *b);
  if (!b)
    return NULL;
  for (int i = from; i < to; i++)
    if (!PQgetisnull(r, i, col))
      pg_read_binding(r, i, col, &b[n++]);
  loc_set_t *s = loc_set_new(b, n);
  free(b);
  return s;
}

/* The AOR key of row i (username at column 0, domain at 1). */
static void pg_key(const PGresult *r, int i, char *key, size_t len)
{
  const char *domain = pg_text(r, i, 1);
  snprintf(key, len, "%s%s%s", PQgetvalue(r, i, 0), domain ? "@" : "",
           domain ? domain : "");
}

/* Hands each AOR of r (ordered by username, domain) to add. */
static int pg_each_aor(const PGresult *r, loc_load_f add, void *arg)
{
  int rows = PQntuples(r);
  char key[1024], next[1024];
  for (int i = 0, j; i < rows; i = j) {
    pg_key(r, i, key, sizeof key);
    for (j = i + 1; j < rows; j++) {
      pg_key(r, j, next, sizeof next);
      if (strcmp(key, next) != 0)
        break;
    }
    loc_set_t *s = pg_set(r, i, j, 2);
    if (!s || add(arg, key, s) < 0)
      return -1;
  }
  return 0;
}

/* ---- connecting ------------------------------------------------------------------- */

/* What a session needs before the writer uses it: settings, statements,
 * LISTEN. Fails when the schema is missing (no location_save). */
static int pg_session(loc_pg_t *d, char *why, size_t len)
{
  char sql[160];
  snprintf(sql, sizeof sql,
           "SET synchronous_commit = %s; SET lock_timeout = %d; "
           "LISTEN location",
           d->tune.sync_full ? "on" : "off", d->tune.busy_ms);
  if (pg_run(d, sql, why, len) < 0)
    return -1;
  for (size_t i = 0; i < sizeof pg_stmts / sizeof *pg_stmts; i++) {
    PGresult *r = pg_last(d, PQsendPrepare(d->conn, pg_stmts[i].name,
                                           pg_stmts[i].sql,
                                           pg_stmts[i].nparams, NULL));
    int ok = pg_ok(r);
    PQclear(r);
    if (!ok) {
      pg_msg(d->conn, "", why, len);
      return -1;
    }
  }
  return 0;
}

/* The server's notices (a shutdown under way, say) go to the log at
 * INFO, not to stderr as libpq would have them. */
static void pg_notice(void *arg, const char *message)
{
  (void)arg;
  tz_log(TZ_LOG_INFO, "location: PostgreSQL says: %.*s",
         (int)strcspn(message, "\n"), message);
}

/* A new connection, nonblocking. Our defaults come first: what db_url
 * says overrides them. */
static int pg_connect(loc_pg_t *d, char *why, size_t len)
{
  const char *const keys[] = {"connect_timeout", "application_name",
                              "tcp_user_timeout", "dbname", NULL};
  const char *const vals[] = {"5", "trapezoid", "10000", d->conninfo, NULL};
  d->conn = PQconnectdbParams(keys, vals, 1);
  if (!d->conn || PQstatus(d->conn) != CONNECTION_OK ||
      PQsetnonblocking(d->conn, 1) != 0) {
    pg_msg(d->conn, "", why, len);
    PQfinish(d->conn);
    d->conn = NULL;
    return -1;
  }
  PQsetNoticeProcessor(d->conn, pg_notice, NULL);
  return 0;
}

static void pg_drop(loc_pg_t *d)
{
  if (!d->conn)
    return;
  char why[256];
  pg_msg(d->conn, "", why, sizeof why);
  if (why[0]) /* else d->err may say already (pg_wait's silence) */
    snprintf(d->err, sizeof d->err, "%s", why);
  else if (!d->err[0])
    snprintf(d->err, sizeof d->err, "the connection failed");
  tz_log(TZ_LOG_ERR, "location: lost the PostgreSQL connection (%s); "
         "REGISTERs get 500 until it is back, lookups go on from memory",
         d->err);
  PQfinish(d->conn);
  d->conn = NULL;
  d->link.connected = 0;
  d->resync = 1;
  d->backoff_ms = PG_BACKOFF_FIRST_MS;
  d->retry_at = pg_now_ms();
}

/* While down: one attempt when it is due. 0 once connected. */
static int pg_reconnect(loc_pg_t *d)
{
  if (d->conn)
    return 0;
  long long now = pg_now_ms();
  if (now < d->retry_at)
    return -1;
  char why[256];
  if (pg_connect(d, why, sizeof why) < 0 || pg_session(d, why, sizeof why) < 0) {
    PQfinish(d->conn);
    d->conn = NULL;
    snprintf(d->err, sizeof d->err, "%s", why);
    d->retry_at = now + d->backoff_ms;
    d->backoff_ms = d->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS
                                                          : d->backoff_ms * 2;
    return -1;
  }
  d->link.connected = 1;
  d->link.reconnects++;
  d->err[0] = '\0';
  tz_log(TZ_LOG_NOTICE, "location: the PostgreSQL connection is back");
  return 0;
}

/* ---- the schema ------------------------------------------------------------------ */

/* The single value sql yields: 1 with *out set, 0 when NULL or no row,
 * -1 on error (why set). */
static int pg_value(loc_pg_t *d, const char *sql, long *out, char *why,
                    size_t len)
{
  PGresult *r = pg_last(d, PQsendQuery(d->conn, sql));
  int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
  int found = ok && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
  if (!ok)
    pg_msg(d->conn, "", why, len);
  else if (found)
    *out = (long)pg_int(r, 0, 0);
  PQclear(r);
  return ok ? found : -1;
}

/* The location table's version, 0 when there is no version table. */
static int pg_schema_version(loc_pg_t *d, long *v, char *why, size_t len)
{
  long has = 0;
  *v = 0;
  int rc = pg_value(d, "SELECT count(*) FROM pg_catalog.pg_tables WHERE "
                       "tablename = 'version' AND schemaname = "
                       "ANY (current_schemas(false))", &has, why, len);
  if (rc < 0 || !has)
    return rc < 0 ? -1 : 0;
  return pg_value(d, "SELECT max(table_version) FROM version "
                     "WHERE table_name = 'location'", v, why, len) < 0 ? -1 : 0;
}

static int pg_schema(loc_backend_t *b, char *err, size_t errlen)
{
  loc_pg_t *d = (loc_pg_t *)b;
  long v = 0;
  char why[256];
  if (pg_schema_version(d, &v, why, sizeof why) < 0) {
    snprintf(err, errlen, "location: PostgreSQL: %s", why);
    return -1;
  }
  if (v == 0 || v < LOC_SCHEMA_VERSION) {
    snprintf(err, errlen, "location: the PostgreSQL database %s; apply "
             "%s to it (psql -d DB_URL -f FILE) and start again",
             v ? "has an older location table" : "has no trapezoid schema",
             PG_SCHEMA_FILE);
    return -1;
  }
  if (v > LOC_SCHEMA_VERSION) {
    snprintf(err, errlen, "location: the PostgreSQL database has location "
             "table version %ld, newer than the version %d this module "
             "knows; use a newer trapezoid", v, LOC_SCHEMA_VERSION);
    return -1;
  }
  if (pg_session(d, why, sizeof why) < 0) {
    snprintf(err, errlen, "location: PostgreSQL: %s; apply %s again",
             why, PG_SCHEMA_FILE);
    return -1;
  }
  return 0;
}

/* ---- open, close, tune ----------------------------------------------------------- */

static void pg_close(loc_backend_t *b)
{
  loc_pg_t *d = (loc_pg_t *)b;
  PQfinish(d->conn);
  free(d->conninfo);
  free(d);
}

/* Whether libpq can read url at all: said without connecting, and
 * without repeating url, which may hold a password. */
int loc_pg_check_url(const char *url, char *err, size_t errlen)
{
  char *msg = NULL;
  PQconninfoOption *o = PQconninfoParse(url, &msg);
  if (o) {
    PQconninfoFree(o);
    return 0;
  }
  size_t n = msg ? strcspn(msg, "\n") : 0;
  snprintf(err, errlen, "location: db_url is not a PostgreSQL URL or "
           "connection string libpq can read: %.*s", (int)n,
           msg ? msg : "out of memory");
  PQfreemem(msg);
  return -1;
}

static loc_backend_t *pg_open(const char *url, const loc_tune_t *tune,
                              char *err, size_t errlen)
{
  if (loc_pg_check_url(url, err, errlen) < 0)
    return NULL;
  loc_pg_t *d = calloc(1, sizeof *d);
  if (!d || !(d->conninfo = strdup(url))) {
    free(d);
    snprintf(err, errlen, "location: out of memory");
    return NULL;
  }
  d->base.ops = &loc_pg_ops;
  d->tune = *tune;
  d->link.connected = 1;
  d->posted = d->link;
  char why[256];
  if (pg_connect(d, why, sizeof why) < 0) {
    snprintf(err, errlen, "location: cannot connect to PostgreSQL: %s", why);
    pg_close(&d->base);
    return NULL;
  }
  return &d->base;
}

/* Applied now when connected, else by the next session. */
static int pg_tune(loc_backend_t *b, const loc_tune_t *tune)
{
  loc_pg_t *d = (loc_pg_t *)b;
  d->tune = *tune;
  if (!d->conn)
    return 0;
  char sql[128], why[256];
  snprintf(sql, sizeof sql, "SET synchronous_commit = %s; SET lock_timeout = %d",
           tune->sync_full ? "on" : "off", tune->busy_ms);
  return pg_run(d, sql, why, sizeof why);
}

/* ---- load and read ---------------------------------------------------------------- */

static int pg_load(loc_backend_t *b, long now, loc_load_f add, void *arg,
                   char *why, size_t len)
{
  loc_pg_t *d = (loc_pg_t *)b;
  (void)now; /* expired rows stay for the expiry: the server's clock rules */
  PGresult *r = pg_exec(d, "load", 0, NULL);
  if (!r) {
    pg_msg(d->conn, "", why, len);
    return -1;
  }
  int rc = pg_each_aor(r, add, arg);
  if (rc < 0)
    snprintf(why, len, "out of memory");
  PQclear(r);
  return rc;
}

/* The user part of job's key, and its domain (NULL without an '@'). */
static char *pg_split(const char *key, size_t userlen, const char **domain)
{
  char *user = strndup(key, userlen);
  *domain = key[userlen] ? key + userlen + 1 : NULL;
  return user;
}

static loc_set_t *pg_read_aor(loc_backend_t *b, const loc_job_t *job)
{
  loc_pg_t *d = (loc_pg_t *)b;
  const char *domain;
  char *user = d->conn ? pg_split(job->key, job->userlen, &domain) : NULL;
  if (!user)
    return NULL;
  const char *params[] = {user, domain};
  PGresult *r = pg_exec(d, "read", 2, params);
  free(user);
  loc_set_t *s = r ? pg_set(r, 0, PQntuples(r), 1) : NULL;
  PQclear(r);
  return s;
}

/* ---- the group commit ------------------------------------------------------------ */

static int pg_str_eq(const char *a, const char *b)
{
  return a == b || (a && b && strcmp(a, b) == 0);
}

static const tz_binding_t *pg_find(const loc_set_t *s, const char *contact)
{
  for (size_t i = 0; s && i < s->n; i++)
    if (strcmp(s->b[i].contact, contact) == 0)
      return &s->b[i];
  return NULL;
}

/* A binding the registrar carried over from memory unchanged. */
static int pg_unchanged(const tz_binding_t *a, const tz_binding_t *b)
{
  return a && a->cseq == b->cseq && a->expires == b->expires &&
         a->last_modified == b->last_modified &&
         pg_str_eq(a->callid, b->callid) && pg_str_eq(a->branch, b->branch);
}

/* A binding as location_save's JSON wants it: keys are column names. */
static void pg_json_binding(tz_jbuf_t *j, const tz_binding_t *b)
{
  tz_jw_obj_begin(j);
  tz_jw_key_str(j, "contact", b->contact);
  tz_jw_key_str(j, "received", b->received);
  tz_jw_key_str(j, "path", b->path);
  tz_jw_key_int(j, "expires", b->expires);
  tz_jw_key(j, "q"); /* as Kamailio stores it: -1 (unset) is -0.001 */
  tz_jw_num(j, b->q / 1000.0);
  tz_jw_key_str(j, "callid", b->callid);
  tz_jw_key_int(j, "cseq", (long long)b->cseq);
  tz_jw_key_int(j, "last_modified", b->last_modified);
  tz_jw_key_int(j, "flags", b->flags);
  tz_jw_key_int(j, "cflags", b->cflags);
  tz_jw_key_str(j, "user_agent", b->user_agent);
  tz_jw_key_str(j, "socket", b->socket);
  tz_jw_key_str(j, "methods", b->methods);
  tz_jw_key_str(j, "instance", b->instance);
  tz_jw_key_int(j, "reg_id", b->reg_id);
  tz_jw_key_str(j, "branch", b->branch);
  tz_jw_obj_end(j);
}

/* What job changed: up gets the bindings it writes, del the contacts it
 * removed (as memory last knew them, so an older view deletes nothing). */
static void pg_json_change(const loc_job_t *job, tz_jbuf_t *up, tz_jbuf_t *del)
{
  tz_jw_arr_begin(up);
  for (size_t i = 0; i < job->set->n; i++) {
    const tz_binding_t *b = &job->set->b[i];
    if (!pg_unchanged(pg_find(job->prev, b->contact), b))
      pg_json_binding(up, b);
  }
  tz_jw_arr_end(up);
  tz_jw_arr_begin(del);
  for (size_t i = 0; job->prev && i < job->prev->n; i++) {
    const tz_binding_t *p = &job->prev->b[i];
    if (pg_find(job->set, p->contact))
      continue;
    tz_jw_obj_begin(del);
    tz_jw_key_str(del, "contact", p->contact);
    tz_jw_key_str(del, "callid", p->callid);
    tz_jw_key_int(del, "cseq", (long long)p->cseq);
    tz_jw_obj_end(del);
  }
  tz_jw_arr_end(del);
}

static int pg_send_save(loc_pg_t *d, const loc_job_t *job)
{
  tz_jbuf_t up, del;
  const char *domain;
  tz_jbuf_init(&up);
  tz_jbuf_init(&del);
  pg_json_change(job, &up, &del);
  char *user = pg_split(job->key, job->userlen, &domain);
  int ok = user && !up.err && !del.err;
  if (ok) {
    const char *params[] = {user, domain, up.s, del.s};
    ok = PQsendQueryPrepared(d->conn, "save", 4, params, NULL, NULL, 0);
  }
  free(user);
  tz_jbuf_free(&up);
  tz_jbuf_free(&del);
  return ok ? 0 : -1;
}

/* Saves in AOR order, each AOR's in the order they came: location_save
 * locks AORs, and two nodes locking in one order never deadlock. */
typedef struct pg_slot {
  loc_job_t *job;
  size_t pos;
} pg_slot_t;

static int pg_slot_cmp(const void *a, const void *b)
{
  const pg_slot_t *x = a, *y = b;
  int c = strcmp(x->job->key, y->job->key);
  return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static pg_slot_t *pg_order(loc_job_t *jobs, size_t *n)
{
  *n = 0;
  for (loc_job_t *j = jobs; j; j = j->next)
    (*n)++;
  pg_slot_t *v = malloc((*n + 1) * sizeof *v);
  if (!v)
    return NULL;
  size_t i = 0;
  for (loc_job_t *j = jobs; j; j = j->next, i++)
    v[i] = (pg_slot_t){j, i};
  if (*n > 1)
    qsort(v, *n, sizeof *v, pg_slot_cmp);
  return v;
}

/* One query's result in the pipeline, then its end (NULL). */
static int pg_take(loc_pg_t *d, PGresult **r)
{
  PGresult *end;
  if (pg_get(d, r) < 0 || !*r)
    return -1;
  if (PQresultStatus(*r) == PGRES_PIPELINE_SYNC)
    return 0;
  return pg_get(d, &end) < 0 || end ? -1 : 0;
}

/* A save's result: applied, and the AOR's rows for memory. */
static int pg_save_result(loc_pg_t *d, loc_job_t *job, char *why, size_t len)
{
  PGresult *r;
  if (pg_take(d, &r) < 0) {
    PQclear(r);
    return -1;
  }
  int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  if (ok) {
    job->applied = PQgetvalue(r, 0, 0)[0] == 't';
    job->restored = pg_set(r, 0, PQntuples(r), 1);
  } else if (PQresultStatus(r) != PGRES_PIPELINE_ABORTED && !*why) {
    snprintf(why, len, "%s", PQresultErrorMessage(r));
    why[strcspn(why, "\n")] = '\0';
  }
  PQclear(r);
  return ok && job->restored ? 0 : 1;
}

/* Sends the batch as one pipeline ending in one Sync: one transaction,
 * committed by the Sync, or rolled back whole after an error. */
static int pg_send_batch(loc_pg_t *d, const pg_slot_t *v, size_t n,
                         long expire_before)
{
  char exp[32];
  snprintf(exp, sizeof exp, "%ld", expire_before);
  const char *params[] = {exp};
  if (!PQenterPipelineMode(d->conn))
    return -1;
  for (size_t i = 0; i < n; i++)
    if (pg_send_save(d, v[i].job) < 0)
      return -1;
  if (expire_before &&
      !PQsendQueryPrepared(d->conn, "expire", 1, params, NULL, NULL, 0))
    return -1;
  return PQpipelineSync(d->conn) ? 0 : -1;
}

/* Takes every result up to the Sync, so the connection stays usable.
 * 0 committed; 1 rolled back (why says why); -1 the connection failed. */
static int pg_take_batch(loc_pg_t *d, const pg_slot_t *v, size_t n,
                         long expire_before, char *why, size_t len)
{
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = pg_save_result(d, v[i].job, why, len);
    if (rc < 0)
      return -1;
    failed |= rc;
  }
  PGresult *r;
  if (expire_before) {
    if (pg_take(d, &r) < 0) {
      PQclear(r);
      return -1;
    }
    failed |= PQresultStatus(r) != PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (pg_take(d, &r) < 0 || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
    PQclear(r);
    return -1;
  }
  PQclear(r);
  return PQexitPipelineMode(d->conn) ? failed : -1;
}

static void pg_unrestore(loc_job_t *jobs)
{
  for (loc_job_t *j = jobs; j; j = j->next) {
    loc_set_release(j->restored);
    j->restored = NULL;
    j->applied = 0;
  }
}

static int pg_commit(loc_backend_t *b, loc_job_t *jobs, long expire_before,
                     char *why, size_t len)
{
  loc_pg_t *d = (loc_pg_t *)b;
  if (pg_reconnect(d) < 0) {
    snprintf(why, len, "PostgreSQL unreachable: %s", d->err);
    return LOC_UNREACHABLE;
  }
  size_t n;
  pg_slot_t *v = pg_order(jobs, &n);
  if (!v) {
    snprintf(why, len, "out of memory");
    return -1;
  }
  why[0] = '\0';
  int rc = pg_send_batch(d, v, n, expire_before) < 0
               ? -1
               : pg_take_batch(d, v, n, expire_before, why, len);
  free(v);
  if (rc == 0)
    return 0;
  pg_unrestore(jobs);
  if (rc < 0) { /* the connection: whether the Sync committed is unknown */
    pg_drop(d);
    snprintf(why, len, "PostgreSQL connection lost: %s", d->err);
    return LOC_UNREACHABLE;
  }
  if (!why[0])
    snprintf(why, len, "the transaction failed");
  return -1;
}

/* ---- news from other nodes --------------------------------------------------------- */

/* AORs other nodes changed, each once, sorted. */
typedef struct pg_keys {
  char **k;
  size_t n, cap;
} pg_keys_t;

static int pg_keys_add(pg_keys_t *ks, const char *key)
{
  if (ks->n == ks->cap) {
    size_t cap = ks->cap ? ks->cap * 2 : 64;
    char **k = realloc(ks->k, cap * sizeof *k);
    if (!k)
      return -1;
    ks->k = k;
    ks->cap = cap;
  }
  return (ks->k[ks->n] = strdup(key)) ? (int)++ks->n : -1;
}

static int pg_keys_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pg_keys_free(pg_keys_t *ks)
{
  for (size_t i = 0; i < ks->n; i++)
    free(ks->k[i]);
  free(ks->k);
}

/* Notifications waiting on the connection, ours left out. */
static void pg_keys_take(loc_pg_t *d, pg_keys_t *ks)
{
  int self = PQbackendPID(d->conn);
  PGnotify *n;
  while ((n = PQnotifies(d->conn))) {
    if (n->be_pid != self)
      (void)pg_keys_add(ks, n->extra);
    PQfreemem(n);
  }
  if (ks->n > 1)
    qsort(ks->k, ks->n, sizeof *ks->k, pg_keys_cmp);
}

/* The "refresh" query's parameter: [{"u": user, "d": domain}, ...]. */
static void pg_keys_json(const pg_keys_t *ks, tz_jbuf_t *j)
{
  tz_jw_arr_begin(j);
  for (size_t i = 0; i < ks->n; i++) {
    if (i > 0 && strcmp(ks->k[i], ks->k[i - 1]) == 0)
      continue;
    const char *domain;
    char *user = pg_split(ks->k[i], loc_aor_userlen(ks->k[i]), &domain);
    tz_jw_obj_begin(j);
    tz_jw_key_str(j, "u", user);
    tz_jw_key_str(j, "d", domain);
    tz_jw_obj_end(j);
    free(user);
  }
  tz_jw_arr_end(j);
}

/* loc_load_f for a refresh or a resync: the AOR goes to worker 0. */
typedef struct pg_post {
  const loc_sink_t *sink;
  unsigned gen;
  pg_keys_t *asked; /* a refresh's keys: the ones found are crossed out */
} pg_post_t;

static int pg_post_aor(void *arg, const char *key, loc_set_t *set)
{
  pg_post_t *p = arg;
  if (p->asked) {
    char **k = bsearch(&key, p->asked->k, p->asked->n, sizeof *p->asked->k,
                       pg_keys_cmp);
    if (k)
      (*k)[0] = '\0'; /* found; no key is empty */
  }
  loc_job_t *job = loc_job_news(LOC_JOB_REFRESH, key, set, p->gen);
  if (job)
    p->sink->post(p->sink->arg, job);
  return 0;
}

/* Reads the AORs other nodes changed and posts each; an AOR with no rows
 * left goes as an empty set. */
static int pg_refresh(loc_pg_t *d, pg_keys_t *ks, const loc_sink_t *sink)
{
  tz_jbuf_t j;
  tz_jbuf_init(&j);
  pg_keys_json(ks, &j);
  const char *params[] = {j.s};
  PGresult *r = j.err ? NULL : pg_exec(d, "refresh", 1, params);
  tz_jbuf_free(&j);
  if (!r)
    return -1;
  pg_post_t post = {sink, 0, ks};
  pg_each_aor(r, pg_post_aor, &post);
  PQclear(r);
  for (size_t i = 0; i < ks->n; i++)
    if (ks->k[i][0] && (i == 0 || strcmp(ks->k[i], ks->k[i - 1]) != 0))
      pg_post_aor(&(pg_post_t){sink, 0, NULL}, ks->k[i], loc_set_new(NULL, 0));
  return 0;
}

/* After a reconnect: every AOR again, then the end mark, so worker 0
 * forgets the AORs deleted while this node could not hear. */
static int pg_resync(loc_pg_t *d, const loc_sink_t *sink)
{
  PGresult *r = pg_exec(d, "load", 0, NULL);
  if (!r)
    return -1;
  if (++d->sync_gen == 0) /* 0 means "no resync" to worker 0 */
    d->sync_gen = 1;
  pg_post_t post = {sink, d->sync_gen, NULL};
  pg_each_aor(r, pg_post_aor, &post);
  PQclear(r);
  loc_job_t *end = loc_job_news(LOC_JOB_RESYNC, "", NULL, post.gen);
  if (end)
    sink->post(sink->arg, end);
  d->resync = 0;
  return 0;
}

/* Until libpq holds no notification: those that came while the refresh
 * query ran are in its buffer already, and the socket will not wake the
 * writer for them. */
static void pg_hear(loc_pg_t *d, const loc_sink_t *sink)
{
  if (!PQconsumeInput(d->conn)) {
    pg_drop(d);
    return;
  }
  for (;;) {
    pg_keys_t ks = {0};
    pg_keys_take(d, &ks);
    size_t n = ks.n;
    int failed = n > 0 && pg_refresh(d, &ks, sink) < 0;
    pg_keys_free(&ks);
    if (failed && PQstatus(d->conn) != CONNECTION_OK)
      pg_drop(d);
    if (!n || failed)
      return;
  }
}

static void pg_news(loc_backend_t *b, const loc_sink_t *sink)
{
  loc_pg_t *d = (loc_pg_t *)b;
  if (pg_reconnect(d) == 0) {
    if (d->resync && pg_resync(d, sink) < 0)
      pg_drop(d);
    if (d->conn)
      pg_hear(d, sink);
  }
  if (memcmp(&d->link, &d->posted, sizeof d->link) != 0) {
    d->posted = d->link;
    sink->link(sink->arg, &d->link);
  }
}

static int pg_watch(loc_backend_t *b, int *timeout_ms)
{
  loc_pg_t *d = (loc_pg_t *)b;
  if (d->conn) {
    *timeout_ms = -1;
    return PQsocket(d->conn);
  }
  long long left = d->retry_at - pg_now_ms();
  *timeout_ms = left < 0 ? 0 : (int)left;
  return -1;
}

const loc_store_ops_t loc_pg_ops = {
  .name = "postgres",
  .open = pg_open,
  .schema = pg_schema,
  .load = pg_load,
  .tune = pg_tune,
  .commit = pg_commit,
  .read_aor = pg_read_aor,
  .close = pg_close,
  .watch = pg_watch,
  .news = pg_news,
};
