/*
 * loc_sqlite.c - the sqlite backend of the location store (loc_store.h):
 * the schema (created from db/sqlite/location.sql, checked against its
 * version, upgraded in place), the startup load, and the statements the
 * writer's transactions run.
 *
 * Locking rule: none here; loc_store.h says which one thread owns a
 * backend at a time. The connection is opened SQLITE_OPEN_NOMUTEX for that
 * reason: sqlite's own mutexes would guard against nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc_store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_alloc.h>

#include "location_sql.h" /* LOC_SCHEMA_SQL, LOC_SCHEMA_VERSION */

/* One open database. base first: the writer holds a loc_backend_t *. */
typedef struct loc_sqlite {
  loc_backend_t base;
  char *path; /* for messages */
  sqlite3 *db;
  sqlite3_stmt *begin, *commit, *rollback;
  sqlite3_stmt *del_aor, *ins, *del_expired, *sel_aor;
} loc_sqlite_t;

/* Binding columns, in the order db_bind_binding/db_read_binding use. */
#define DB_COLS                                                            \
  "contact, received, path, expires, q, callid, cseq, last_modified, "    \
  "flags, cflags, user_agent, socket, methods, instance, reg_id, branch"

#define DB_SQL_INSERT                                                      \
  "INSERT INTO location (username, domain, " DB_COLS ") VALUES "          \
  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "   \
  "?16, ?17, ?18)"
#define DB_SQL_DEL_AOR "DELETE FROM location WHERE username = ?1 AND domain IS ?2"
#define DB_SQL_DEL_EXPIRED "DELETE FROM location WHERE expires <= ?1"
#define DB_SQL_SEL_AOR                                                     \
  "SELECT " DB_COLS " FROM location WHERE username = ?1 AND domain IS ?2"
#define DB_SQL_LOAD                                                        \
  "SELECT username, domain, " DB_COLS " FROM location "                   \
  "ORDER BY username, domain"

/* ---- statements ----------------------------------------------------------- */

static void db_errmsg(loc_sqlite_t *d, char *err, size_t errlen)
{
  snprintf(err, errlen, "%s", d->db ? sqlite3_errmsg(d->db) : "out of memory");
}

/* Runs a statement that returns no rows and resets it for the next use. */
static int db_run(loc_sqlite_t *d, sqlite3_stmt *st, char *err, size_t errlen)
{
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    db_errmsg(d, err, errlen);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* The user part and the domain (NULL without an '@', as Kamailio stores
 * AORs when domains are not used). */
static void db_bind_aor(sqlite3_stmt *st, const loc_job_t *job)
{
  sqlite3_bind_text(st, 1, job->key, (int)job->userlen, SQLITE_STATIC);
  if (job->key[job->userlen])
    sqlite3_bind_text(st, 2, job->key + job->userlen + 1, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 2);
}

static void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* q is stored as Kamailio does: q / 1000 as REAL, so "unspecified" (-1)
 * becomes -0.001 and reads back as -1. */
static void db_bind_binding(sqlite3_stmt *st, int i, const tz_binding_t *b)
{
  db_bind_text(st, i, b->contact);
  db_bind_text(st, i + 1, b->received);
  db_bind_text(st, i + 2, b->path);
  sqlite3_bind_int64(st, i + 3, b->expires);
  sqlite3_bind_double(st, i + 4, b->q / 1000.0);
  db_bind_text(st, i + 5, b->callid);
  sqlite3_bind_int64(st, i + 6, (sqlite3_int64)b->cseq);
  sqlite3_bind_int64(st, i + 7, b->last_modified);
  sqlite3_bind_int64(st, i + 8, b->flags);
  sqlite3_bind_int64(st, i + 9, b->cflags);
  db_bind_text(st, i + 10, b->user_agent);
  db_bind_text(st, i + 11, b->socket);
  db_bind_text(st, i + 12, b->methods);
  db_bind_text(st, i + 13, b->instance);
  sqlite3_bind_int64(st, i + 14, b->reg_id);
  db_bind_text(st, i + 15, b->branch);
}

static const char *db_text(sqlite3_stmt *st, int col, su_home_t *home)
{
  if (sqlite3_column_type(st, col) == SQLITE_NULL)
    return NULL;
  return su_strdup(home, (const char *)sqlite3_column_text(st, col));
}

/* Reads the columns DB_COLS starting at col; strings are copied to home. */
static void db_read_binding(sqlite3_stmt *st, int col, su_home_t *home,
                            tz_binding_t *b)
{
  b->contact = db_text(st, col, home);
  b->received = db_text(st, col + 1, home);
  b->path = db_text(st, col + 2, home);
  b->expires = (long)sqlite3_column_int64(st, col + 3);
  b->q = (int)lround(sqlite3_column_double(st, col + 4) * 1000.0);
  b->callid = db_text(st, col + 5, home);
  b->cseq = (unsigned long)sqlite3_column_int64(st, col + 6);
  b->last_modified = (long)sqlite3_column_int64(st, col + 7);
  b->flags = (unsigned)sqlite3_column_int64(st, col + 8);
  b->cflags = (unsigned)sqlite3_column_int64(st, col + 9);
  b->user_agent = db_text(st, col + 10, home);
  b->socket = db_text(st, col + 11, home);
  b->methods = db_text(st, col + 12, home);
  b->instance = db_text(st, col + 13, home);
  b->reg_id = (long)sqlite3_column_int64(st, col + 14);
  b->branch = db_text(st, col + 15, home);
}

/* ---- rows of one AOR gathered into a set ------------------------------------ */

typedef struct db_rows {
  su_home_t *home;
  tz_binding_t *b;
  size_t n, cap;
} db_rows_t;

static int db_rows_add(db_rows_t *r, sqlite3_stmt *st, int col)
{
  if (!r->home && !(r->home = su_home_new(sizeof *r->home)))
    return -1;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    tz_binding_t *b = realloc(r->b, cap * sizeof *b);
    if (!b)
      return -1;
    r->b = b;
    r->cap = cap;
  }
  db_read_binding(st, col, r->home, &r->b[r->n++]);
  return 0;
}

/* Builds a set of the rows so far and empties r for the next AOR. */
static loc_set_t *db_rows_to_set(db_rows_t *r)
{
  loc_set_t *s = loc_set_new(r->b, r->n);
  su_home_unref(r->home);
  r->home = NULL;
  r->n = 0;
  return s;
}

static void db_rows_free(db_rows_t *r)
{
  su_home_unref(r->home);
  free(r->b);
}

/* ---- schema ------------------------------------------------------------------ */

/* 1 and *out set if sql yields a row, 0 if none, -1 on error. */
static int db_query_int(loc_sqlite_t *d, const char *sql, long *out)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
    return -1;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The location table's version; 0 when the database has none yet. */
static int db_schema_version(loc_sqlite_t *d, long *version)
{
  long one;
  *version = 0;
  int rc = db_query_int(d,
                        "SELECT 1 FROM sqlite_master "
                        "WHERE type = 'table' AND name = 'version'",
                        &one);
  if (rc <= 0)
    return rc;
  rc = db_query_int(d,
                    "SELECT table_version FROM version "
                    "WHERE table_name = 'location'",
                    version);
  return rc < 0 ? -1 : 0;
}

/* db/sqlite/location-upgrade-N.sql at index N: takes version N-1 to N. */
static const char *const db_upgrades[] = {NULL, NULL, LOC_UPGRADE_2};

/* Runs the upgrades from version *v on, in order, each ending with its
 * own version update. */
static int db_schema_upgrade(loc_sqlite_t *d, long *v)
{
  while (*v > 0 && *v < LOC_SCHEMA_VERSION) {
    if (*v + 1 >= (long)(sizeof db_upgrades / sizeof *db_upgrades) ||
        sqlite3_exec(d->db, db_upgrades[*v + 1], NULL, NULL, NULL) != SQLITE_OK)
      return -1;
    long was = *v;
    if (db_schema_version(d, v) < 0 || *v != was + 1)
      return -1;
  }
  return 0;
}

/* Creates the schema on a new database, upgrades an older one, and
 * refuses one this module does not understand; all inside the caller's
 * transaction, so a failed upgrade leaves the database as it was. */
static int db_schema_check(loc_sqlite_t *d, const char *path, char *err,
                           size_t errlen)
{
  long v;
  if (db_schema_version(d, &v) < 0 ||
      (v == 0 && (sqlite3_exec(d->db, LOC_SCHEMA_SQL, NULL, NULL, NULL) !=
                      SQLITE_OK ||
                  db_schema_version(d, &v) < 0))) {
    snprintf(err, errlen, "location: schema of %s: %s", path,
             sqlite3_errmsg(d->db));
    return -1;
  }
  long from = v;
  if (v < LOC_SCHEMA_VERSION && v > 0 && db_schema_upgrade(d, &v) < 0) {
    snprintf(err, errlen, "location: upgrading %s from location table "
             "version %ld: %s", path, from, sqlite3_errmsg(d->db));
    return -1;
  }
  if (v != from)
    tz_log(TZ_LOG_NOTICE, "location: %s upgraded from location table "
           "version %ld to %ld", path, from, v);
  if (v > LOC_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "location: %s has location table version %ld, newer than the "
             "version %d this module knows; use a newer trapezoid or another "
             "db_path",
             path, v, LOC_SCHEMA_VERSION);
    return -1;
  }
  if (v < LOC_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "location: %s has location table version %ld, and there is no "
             "migration from it to version %d",
             path, v, LOC_SCHEMA_VERSION);
    return -1;
  }
  return 0;
}

static int db_schema_ensure(loc_sqlite_t *d, const char *path, char *err,
                            size_t errlen)
{
  /* IMMEDIATE: two processes starting on a new file must not both create. */
  if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "location: %s: %s", path, sqlite3_errmsg(d->db));
    return -1;
  }
  int rc = db_schema_check(d, path, err, errlen);
  if (rc == 0 && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "location: %s: %s", path, sqlite3_errmsg(d->db));
    rc = -1;
  }
  if (rc < 0)
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* ---- open, close ------------------------------------------------------------------ */

static int db_set_wal(loc_sqlite_t *d)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) !=
      SQLITE_OK)
    return -1;
  int wal = sqlite3_step(st) == SQLITE_ROW &&
            sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
  sqlite3_finalize(st);
  return wal ? 0 : -1;
}

/* Outside a transaction only: synchronous cannot change inside one. */
static int db_apply_tune(loc_sqlite_t *d, const loc_tune_t *tune)
{
  /* The writer may wait for another process holding the lock (an operator's
   * sqlite3 shell); saves keep queueing meanwhile. */
  sqlite3_busy_timeout(d->db, tune->busy_ms);
  return sqlite3_exec(d->db,
                      tune->sync_full ? "PRAGMA synchronous=FULL"
                                      : "PRAGMA synchronous=NORMAL",
                      NULL, NULL, NULL) == SQLITE_OK
             ? 0
             : -1;
}

static int db_prepare_all(loc_sqlite_t *d)
{
  const struct {
    sqlite3_stmt **st;
    const char *sql;
  } stmts[] = {
    {&d->begin, "BEGIN IMMEDIATE"},   {&d->commit, "COMMIT"},
    {&d->rollback, "ROLLBACK"},       {&d->del_aor, DB_SQL_DEL_AOR},
    {&d->ins, DB_SQL_INSERT},         {&d->del_expired, DB_SQL_DEL_EXPIRED},
    {&d->sel_aor, DB_SQL_SEL_AOR},
  };
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
    if (sqlite3_prepare_v3(d->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                           stmts[i].st, NULL) != SQLITE_OK)
      return -1;
  return 0;
}

static void sq_close(loc_backend_t *b)
{
  loc_sqlite_t *d = (loc_sqlite_t *)b;
  sqlite3_stmt *stmts[] = {d->begin, d->commit, d->rollback, d->del_aor,
                           d->ins, d->del_expired, d->sel_aor};
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
    sqlite3_finalize(stmts[i]);
  sqlite3_close(d->db);
  free(d->path);
  free(d);
}

/* The connection in WAL mode with the first settings; err on failure. */
static int db_connect(loc_sqlite_t *d, const loc_tune_t *tune, char *err,
                      size_t errlen)
{
  if (sqlite3_open_v2(d->path, &d->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "location: cannot open %s: %s", d->path,
             d->db ? sqlite3_errmsg(d->db) : "out of memory");
    return -1;
  }
  if (db_set_wal(d) < 0 || db_apply_tune(d, tune) < 0) {
    snprintf(err, errlen, "location: cannot put %s in WAL mode: %s", d->path,
             sqlite3_errmsg(d->db));
    return -1;
  }
  return 0;
}

static loc_backend_t *sq_open(const char *path, const loc_tune_t *tune,
                              char *err, size_t errlen)
{
  loc_sqlite_t *d = calloc(1, sizeof *d);
  if (!d || !(d->path = strdup(path))) {
    free(d);
    snprintf(err, errlen, "location: out of memory");
    return NULL;
  }
  d->base.ops = &loc_sqlite_ops;
  if (db_connect(d, tune, err, errlen) < 0) {
    sq_close(&d->base);
    return NULL;
  }
  return &d->base;
}

static int sq_schema(loc_backend_t *b, char *err, size_t errlen)
{
  loc_sqlite_t *d = (loc_sqlite_t *)b;
  if (db_schema_ensure(d, d->path, err, errlen) < 0)
    return -1;
  if (db_prepare_all(d) < 0) {
    snprintf(err, errlen, "location: %s: %s", d->path, sqlite3_errmsg(d->db));
    return -1;
  }
  return 0;
}

static int sq_tune(loc_backend_t *b, const loc_tune_t *tune)
{
  return db_apply_tune((loc_sqlite_t *)b, tune);
}

/* ---- the startup load ------------------------------------------------------------- */

/* The sink of the startup load, and its argument. */
typedef struct db_sink {
  loc_load_f add;
  void *arg;
} db_sink_t;

/* Hands the set gathered in r to the sink under key. */
static int db_load_aor(db_rows_t *r, const char *key, const db_sink_t *sink)
{
  loc_set_t *s = db_rows_to_set(r);
  return s ? sink->add(sink->arg, key, s) : -1;
}

/* The AOR key of the row at st: user, or user@domain. */
static char *db_row_key(sqlite3_stmt *st)
{
  const char *user = (const char *)sqlite3_column_text(st, 0);
  const char *domain = (const char *)sqlite3_column_text(st, 1);
  size_t len = strlen(user ? user : "") + (domain ? strlen(domain) + 1 : 0);
  char *key = malloc(len + 1);
  if (key)
    snprintf(key, len + 1, "%s%s%s", user ? user : "", domain ? "@" : "",
             domain ? domain : "");
  return key;
}

static int db_load_rows(sqlite3_stmt *st, const db_sink_t *sink)
{
  db_rows_t rows = {0};
  char *key = NULL;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char *k = db_row_key(st);
    int same = k && key && strcmp(k, key) == 0;
    if (!k || (!same && key && db_load_aor(&rows, key, sink) < 0)) {
      free(k);
      rc = SQLITE_NOMEM;
      break;
    }
    if (same) {
      free(k);
    } else {
      free(key);
      key = k;
    }
    if (db_rows_add(&rows, st, 2) < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
  if (rc == SQLITE_DONE && key && db_load_aor(&rows, key, sink) < 0)
    rc = SQLITE_NOMEM;
  free(key);
  db_rows_free(&rows);
  return rc;
}

static int sq_load(loc_backend_t *b, long now, loc_load_f add, void *arg,
                   char *why, size_t len)
{
  loc_sqlite_t *d = (loc_sqlite_t *)b;
  const db_sink_t sink = {add, arg};
  sqlite3_stmt *st = NULL;
  sqlite3_bind_int64(d->del_expired, 1, now);
  if (db_run(d, d->del_expired, why, len) < 0)
    return -1;
  if (sqlite3_prepare_v2(d->db, DB_SQL_LOAD, -1, &st, NULL) != SQLITE_OK) {
    db_errmsg(d, why, len);
    return -1;
  }
  int rc = db_load_rows(st, &sink);
  if (rc != SQLITE_DONE)
    snprintf(why, len, "%s",
             rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(d->db));
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the writer's transactions ------------------------------------------------------ */

static int db_write_job(loc_sqlite_t *d, const loc_job_t *job, char *err,
                        size_t errlen)
{
  db_bind_aor(d->del_aor, job);
  if (db_run(d, d->del_aor, err, errlen) < 0)
    return -1;
  db_bind_aor(d->ins, job);
  for (size_t i = 0; i < job->set->n; i++) {
    db_bind_binding(d->ins, 3, &job->set->b[i]);
    if (db_run(d, d->ins, err, errlen) < 0)
      return -1;
  }
  return 0;
}

/* One transaction: every job's delete-and-insert, then the expired rows. */
static int sq_commit(loc_backend_t *b, loc_job_t *jobs, long expire_before,
                     char *err, size_t errlen)
{
  loc_sqlite_t *d = (loc_sqlite_t *)b;
  if (db_run(d, d->begin, err, errlen) < 0)
    return -1;
  int rc = 0;
  for (loc_job_t *j = jobs; j && rc == 0; j = j->next)
    rc = db_write_job(d, j, err, errlen);
  if (rc == 0 && expire_before) {
    sqlite3_bind_int64(d->del_expired, 1, expire_before);
    rc = db_run(d, d->del_expired, err, errlen);
  }
  if (rc == 0)
    rc = db_run(d, d->commit, err, errlen);
  if (rc < 0) {
    /* err keeps the first failure; a failed ROLLBACK has nothing to add,
     * sqlite rolls back on its own when a statement fails that badly. */
    sqlite3_step(d->rollback);
    sqlite3_reset(d->rollback);
  }
  /* Each job's set replaced its rows: sqlite keeps no CSeq rule of its own. */
  for (loc_job_t *j = jobs; j && rc == 0; j = j->next)
    j->applied = 1;
  return rc;
}

/* What the database holds for job's AOR after a rollback, so worker 0 can
 * put memory back in line with it. */
static loc_set_t *sq_read_aor(loc_backend_t *b, const loc_job_t *job)
{
  loc_sqlite_t *d = (loc_sqlite_t *)b;
  db_rows_t rows = {0};
  loc_set_t *s = NULL;
  int rc;
  db_bind_aor(d->sel_aor, job);
  while ((rc = sqlite3_step(d->sel_aor)) == SQLITE_ROW)
    if (db_rows_add(&rows, d->sel_aor, 0) < 0)
      break;
  if (rc == SQLITE_DONE)
    s = db_rows_to_set(&rows);
  sqlite3_reset(d->sel_aor);
  db_rows_free(&rows);
  return s;
}

/* The sq_ functions are this table's entries, the db_ ones their helpers. */
const loc_store_ops_t loc_sqlite_ops = {
  .name = "sqlite",
  .open = sq_open,
  .schema = sq_schema,
  .load = sq_load,
  .tune = sq_tune,
  .commit = sq_commit,
  .read_aor = sq_read_aor,
  .close = sq_close,
};
