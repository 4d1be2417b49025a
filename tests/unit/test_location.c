/*
 * test_location.c - the location module through the core loader: saves
 * and lookups, ordering, expiry in memory and on disk, group commit,
 * persistence across instances, schema versions, rollback after a failed
 * commit, saves and lookups from several threads at once, that every
 * acknowledged save survives a process crash, and the location.add
 * command.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "lib/log.h"
#include "runtime/command.h"
#include "runtime/loop.h"
#include "runtime/module.h"
#include <trapezoid/json.h>
#include <trapezoid/location.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/su_alloc.h>

static char tmpdir[] = "/tmp/tz-location-XXXXXX";
static char err[512];

typedef struct store {
  tz_modinst_t *mi;
  const tz_location_api_t *api;
  void *ctx;
} store_t;

typedef struct acks {
  int ok, failed;
} acks_t;

static void on_done(void *arg, int status)
{
  acks_t *a = arg;
  if (status == 0)
    a->ok++;
  else
    a->failed++;
}

static char *db_file(const char *name)
{
  static char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  return path;
}

static int set_str(tz_modinst_t *mi, const char *param, const char *v)
{
  tz_val_t val = {TZ_VAL_STR, 0, v, strlen(v)};
  return tz_module_set_param(mi, param, &val, err, sizeof err);
}

static int set_int(tz_modinst_t *mi, const char *param, long v)
{
  tz_val_t val = {TZ_VAL_INT, v, NULL, 0};
  return tz_module_set_param(mi, param, &val, err, sizeof err);
}

/* Loads and initialises an instance on db (NULL: db_path left unset);
 * params are name=value pairs after it, NULL-terminated. Returns 0, or -1
 * with err set. */
static int store_open(store_t *s, const char *db, ...)
{
  memset(s, 0, sizeof *s);
  err[0] = '\0';
  s->mi = tz_module_load("location", LOCATION_MODDIR, err, sizeof err);
  if (!s->mi || (db && set_str(s->mi, "db_path", db) < 0))
    return -1;
  va_list ap;
  va_start(ap, db);
  for (const char *name; (name = va_arg(ap, const char *));) {
    const char *v = va_arg(ap, const char *);
    int rc = (v[0] >= '0' && v[0] <= '9') ? set_int(s->mi, name, atol(v))
                                          : set_str(s->mi, name, v);
    if (rc < 0) {
      va_end(ap);
      return -1;
    }
  }
  va_end(ap);
  if (tz_module_init(s->mi, err, sizeof err) < 0)
    return -1;
  s->api = tz_service_get(TZ_LOCATION_SERVICE, TZ_LOCATION_API_VERSION,
                          &s->ctx);
  return s->api ? 0 : -1;
}

static void store_close(store_t *s)
{
  tz_module_destroy(s->mi);
  s->mi = NULL;
}

static long now_s(void) { return (long)time(NULL); }

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Runs the loop until *count reaches target or max_ms pass. */
static void spin_until(const int *count, int target, unsigned max_ms)
{
  long long end = now_ms() + max_ms;
  while (*count < target && now_ms() < end)
    su_root_step(tz_loop_root(), 10);
}

static void spin_for(unsigned ms)
{
  long long end = now_ms() + ms;
  while (now_ms() < end)
    su_root_step(tz_loop_root(), 10);
}

static tz_binding_t binding(const char *contact, int q, long expires,
                            long last_modified)
{
  tz_binding_t b = {0};
  b.contact = contact;
  b.q = q;
  b.expires = expires;
  b.last_modified = last_modified;
  b.callid = "call-1@host";
  b.cseq = 7;
  return b;
}

static int save_wait(store_t *s, const char *aor, const tz_binding_t *set,
                     size_t n)
{
  acks_t a = {0};
  if (s->api->save(s->ctx, aor, set, n, on_done, &a) < 0)
    return -2;
  spin_until(&a.ok, 1, 5000);
  return a.ok == 1 ? 0 : -1;
}

static int lookup(store_t *s, const char *aor, su_home_t *home,
                  tz_binding_t **out)
{
  return s->api->lookup(s->ctx, aor, home, out);
}

/* One integer from sql on the database file, -1 on error. */
static long sql_int(const char *db, const char *sql)
{
  sqlite3 *h;
  sqlite3_stmt *st;
  long v = -1;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return v;
}

static int sql_exec(const char *db, const char *sql)
{
  sqlite3 *h;
  int rc = sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
  sqlite3_close(h);
  return rc == SQLITE_OK ? 0 : -1;
}

/* ---- tests --------------------------------------------------------------- */

static void test_save_update_remove(void)
{
  store_t s;
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db_file("basic.db"), NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  long t = now_s();

  tz_binding_t set[2] = {binding("sip:a@1.2.3.4", 1000, t + 60, t),
                         binding("sip:a@5.6.7.8", 500, t + 60, t)};
  set[0].received = "sip:9.9.9.9:5060;transport=udp";
  set[0].path = "<sip:edge;lr>";
  set[0].user_agent = "phone/1";
  set[0].socket = "udp:127.0.0.1:5090";
  set[0].instance = "<urn:uuid:1>";
  set[0].reg_id = 2;
  set[0].flags = 3;
  set[0].cflags = 4;
  set[0].methods = "INVITE,BYE";
  acks_t a = {0};
  CU_ASSERT_EQUAL(s.api->save(s.ctx, "alice@example.com", set, 2, on_done, &a),
                  0);
  /* Visible before the commit is acknowledged. */
  CU_ASSERT_EQUAL(lookup(&s, "alice@example.com", home, &out), 2);
  spin_until(&a.ok, 1, 5000);
  CU_ASSERT_EQUAL(a.ok, 1);
  CU_ASSERT_EQUAL(lookup(&s, "alice@example.com", home, &out), 2);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:a@1.2.3.4");
  CU_ASSERT_STRING_EQUAL(out[0].received, "sip:9.9.9.9:5060;transport=udp");
  CU_ASSERT_STRING_EQUAL(out[0].path, "<sip:edge;lr>");
  CU_ASSERT_STRING_EQUAL(out[0].user_agent, "phone/1");
  CU_ASSERT_STRING_EQUAL(out[0].methods, "INVITE,BYE");
  CU_ASSERT_EQUAL(out[0].reg_id, 2);
  CU_ASSERT_EQUAL(out[0].cseq, 7);
  CU_ASSERT_PTR_NULL(out[1].received);
  CU_ASSERT_EQUAL(lookup(&s, "bob@example.com", home, &out), 0);

  unsigned long aors, bindings;
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT_EQUAL(aors, 1);
  CU_ASSERT_EQUAL(bindings, 2);

  /* Replace: the set is the new one, not a merge. */
  tz_binding_t upd = binding("sip:a@10.0.0.1", -1, t + 120, t + 1);
  CU_ASSERT_EQUAL(save_wait(&s, "alice@example.com", &upd, 1), 0);
  CU_ASSERT_EQUAL(lookup(&s, "alice@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:a@10.0.0.1");
  CU_ASSERT_EQUAL(out[0].q, -1);
  CU_ASSERT_EQUAL(
      sql_int(db_file("basic.db"),
              "SELECT count(*) FROM location WHERE username = 'alice' "
              "AND domain = 'example.com' AND contact = 'sip:a@10.0.0.1'"),
      1);
  CU_ASSERT_EQUAL(sql_int(db_file("basic.db"),
                          "SELECT count(*) FROM location"), 1);

  /* n = 0 removes the AOR, in memory and on disk. */
  CU_ASSERT_EQUAL(save_wait(&s, "alice@example.com", NULL, 0), 0);
  CU_ASSERT_EQUAL(lookup(&s, "alice@example.com", home, &out), 0);
  CU_ASSERT_EQUAL(sql_int(db_file("basic.db"),
                          "SELECT count(*) FROM location"), 0);
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT_EQUAL(aors, 0);
  CU_ASSERT_EQUAL(bindings, 0);

  /* Refused outright: no contact, or a count without a set. */
  tz_binding_t bad = binding(NULL, 1000, t + 60, t);
  CU_ASSERT_EQUAL(s.api->save(s.ctx, "x@y", &bad, 1, on_done, &a), -1);
  CU_ASSERT_EQUAL(s.api->save(s.ctx, "x@y", NULL, 1, on_done, &a), -1);

  su_home_unref(home);
  store_close(&s);
}

static void test_order(void)
{
  store_t s;
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db_file("order.db"), NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  long t = now_s();
  tz_binding_t set[] = {
    binding("sip:half", 500, t + 60, t + 50),
    binding("sip:full-old", 1000, t + 60, t + 10),
    binding("sip:unspecified", -1, t + 60, t + 5),
    binding("sip:full-new", 1000, t + 60, t + 20),
    binding("sip:low", 100, t + 60, t + 90),
  };
  CU_ASSERT_EQUAL(save_wait(&s, "o@example.com", set, 5), 0);
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "o@example.com", home, &out), 5);
  const char *want[] = {"sip:full-new", "sip:full-old", "sip:unspecified",
                        "sip:half", "sip:low"};
  for (int i = 0; i < 5; i++)
    CU_ASSERT_STRING_EQUAL(out[i].contact, want[i]);
  su_home_unref(home);
  store_close(&s);
}

static void test_expiry(void)
{
  store_t s;
  const char *db = db_file("expiry.db");
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, "expiry_interval", "1", NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  long t = now_s();

  /* Already expired: hidden at once, without waiting for a sweep. */
  /* "short" lives 3 s: enough for the saves to commit even on a slow
   * (sanitizer) build, short enough to wait for. */
  tz_binding_t set[] = {binding("sip:dead", 1000, t - 5, t),
                        binding("sip:short", 1000, t + 3, t),
                        binding("sip:long", 1000, t + 60, t)};
  CU_ASSERT_EQUAL(save_wait(&s, "e@example.com", set, 3), 0);
  CU_ASSERT_EQUAL(lookup(&s, "e@example.com", home, &out), 2);
  tz_binding_t only_short = binding("sip:gone", 1000, t + 3, t);
  CU_ASSERT_EQUAL(save_wait(&s, "gone@example.com", &only_short, 1), 0);

  /* Once t + 3 has passed, lookups stop returning it before any sweep. */
  while (now_s() <= t + 3)
    su_root_step(tz_loop_root(), 10);
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "e@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:long");
  CU_ASSERT_EQUAL(lookup(&s, "gone@example.com", home, &out), 0);

  /* A sweep (every second) and the writer then drop the rows. */
  long long end = now_ms() + 3000;
  while (sql_int(db, "SELECT count(*) FROM location") != 1 && now_ms() < end)
    spin_for(50);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location"), 1);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location WHERE "
                              "contact = 'sip:long'"), 1);
  unsigned long aors, bindings;
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT_EQUAL(aors, 1);
  CU_ASSERT_EQUAL(bindings, 1);
  su_home_unref(home);
  store_close(&s);
}

/* Sums N of the "location: M saves done in N transaction(s)" debug lines
 * in the file at path; *saves gets the sum of M. */
static long count_transactions(const char *path, long *saves)
{
  FILE *f = fopen(path, "r");
  char line[512];
  long tx = 0;
  *saves = 0;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "location: ");
    long m, n;
    if (p && sscanf(p, "location: %ld saves done in %ld transaction", &m,
                    &n) == 2) {
      *saves += m;
      tx += n;
    }
  }
  fclose(f);
  return tx;
}

/* Runs nsaves saves queued at once with batch_max, and returns how many
 * transactions the writer used, read from its debug log. */
static long batch_run(const char *name, const char *batch_max, int nsaves)
{
  store_t s;
  const char *db = db_file(name);
  if (store_open(&s, db, "batch_max", batch_max, NULL) < 0)
    return -1;
  char logpath[PATH_MAX];
  snprintf(logpath, sizeof logpath, "%s/%s.log", tmpdir, name);
  fflush(stderr);
  int saved = dup(2), logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(logfd, 2);
  int level = tz_log_get_level();
  tz_log_set_level(TZ_LOG_DBG);

  acks_t a = {0};
  long t = now_s();
  for (int i = 0; i < nsaves; i++) {
    char aor[64], contact[64];
    snprintf(aor, sizeof aor, "u%d@example.com", i);
    snprintf(contact, sizeof contact, "sip:u%d@10.1.0.1", i);
    tz_binding_t b = binding(contact, 1000, t + 3600, t);
    CU_ASSERT_EQUAL(s.api->save(s.ctx, aor, &b, 1, on_done, &a), 0);
  }
  spin_until(&a.ok, nsaves, 20000);

  tz_log_set_level(level);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(logfd);
  CU_ASSERT_EQUAL(a.ok, nsaves);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location"), nsaves);
  store_close(&s);
  long logged;
  long tx = count_transactions(logpath, &logged);
  CU_ASSERT_EQUAL(logged, nsaves);
  return tx;
}

static void test_group_commit(void)
{
  long tx = batch_run("batch.db", "1000", 3000);
  CU_ASSERT(tx >= 3);      /* batch_max bounds a transaction */
  CU_ASSERT(tx <= 3000 / 10); /* and many saves share one */
  tx = batch_run("batch-small.db", "100", 1000);
  CU_ASSERT(tx >= 10);
}

static void test_persistence(void)
{
  store_t s;
  const char *db = db_file("persist.db");
  long t = now_s();
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  tz_binding_t set[] = {binding("sip:p1@1.1.1.1", 800, t + 300, t),
                        binding("sip:p2@1.1.1.1", -1, t + 300, t)};
  CU_ASSERT_EQUAL(save_wait(&s, "p@example.com", set, 2), 0);
  tz_binding_t nodomain = binding("sip:local@1.1.1.1", 1000, t + 300, t);
  CU_ASSERT_EQUAL(save_wait(&s, "localuser", &nodomain, 1), 0);
  /* Queued but not yet committed when the module goes: destroy flushes. */
  acks_t a = {0};
  tz_binding_t late = binding("sip:late@1.1.1.1", 1000, t + 300, t);
  CU_ASSERT_EQUAL(s.api->save(s.ctx, "late@example.com", &late, 1, on_done, &a),
                  0);
  store_close(&s);
  CU_ASSERT_EQUAL(a.ok, 1);

  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "p@example.com", home, &out), 2);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:p2@1.1.1.1");
  CU_ASSERT_EQUAL(out[0].q, -1);
  CU_ASSERT_EQUAL(out[1].q, 800);
  CU_ASSERT_EQUAL(out[1].expires, t + 300);
  CU_ASSERT_STRING_EQUAL(out[1].callid, "call-1@host");
  CU_ASSERT_EQUAL(lookup(&s, "localuser", home, &out), 1);
  CU_ASSERT_EQUAL(lookup(&s, "late@example.com", home, &out), 1);
  unsigned long aors, bindings;
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT_EQUAL(aors, 3);
  CU_ASSERT_EQUAL(bindings, 4);
  su_home_unref(home);
  store_close(&s);

  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location WHERE "
                              "username = 'localuser' AND domain IS NULL"), 1);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT table_version FROM version WHERE "
                              "table_name = 'location'"), 2);
}

/* The expiry delete must use the expires index, never scan the table. */
static void test_expiry_uses_index(void)
{
  store_t s;
  const char *db = db_file("plan.db");
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  store_close(&s);
  sqlite3 *h;
  sqlite3_stmt *st;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(
      sqlite3_prepare_v2(h,
                         "EXPLAIN QUERY PLAN DELETE FROM location "
                         "WHERE expires <= 5",
                         -1, &st, NULL),
      SQLITE_OK);
  int uses_index = 0;
  while (sqlite3_step(st) == SQLITE_ROW)
    uses_index |= strstr((const char *)sqlite3_column_text(st, 3),
                         "location_expires_idx") != NULL;
  CU_ASSERT(uses_index);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

static void test_schema_versions(void)
{
  store_t s;
  const char *db = db_file("newer.db");
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  store_close(&s);
  CU_ASSERT_EQUAL(sql_exec(db, "UPDATE version SET table_version = 3 "
                               "WHERE table_name = 'location'"), 0);
  CU_ASSERT_EQUAL(store_open(&s, db, NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "version 3, newer than the version 2"));
  tz_module_destroy(s.mi);

  CU_ASSERT_EQUAL(store_open(&s, db, "sync", "sometimes", NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "sync must be"));
  tz_module_destroy(s.mi);

  CU_ASSERT_EQUAL(store_open(&s, "/nonexistent/dir/x.db", NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open /nonexistent/dir/x.db"));
  tz_module_destroy(s.mi);
}

/* db_url names the store: sqlite:PATH, a plain path and db_path=PATH are
 * one file and so one store. A PostgreSQL URL it cannot reach or read is
 * refused without repeating the URL (it may hold a password), as are an
 * unknown database type and db_path with db_url. */
static void test_db_url(void)
{
  store_t s, p;
  const char *db = db_file("url.db");
  char url[PATH_MAX + 8];
  snprintf(url, sizeof url, "sqlite:%s", db);
  long t = now_s();
  CU_ASSERT_EQUAL_FATAL(store_open(&s, NULL, "db_url", url, NULL), 0);
  tz_binding_t b = binding("sip:u@1.1.1.1", 1000, t + 300, t);
  CU_ASSERT_EQUAL(save_wait(&s, "u@example.com", &b, 1), 0);
  CU_ASSERT_EQUAL_FATAL(store_open(&p, db, NULL), 0);
  CU_ASSERT_PTR_EQUAL(s.ctx, p.ctx);
  store_close(&p);
  store_close(&s);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location"), 1);
  CU_ASSERT_EQUAL_FATAL(store_open(&s, NULL, "db_url", db, NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL(lookup(&s, "u@example.com", home, &out), 1);
  su_home_unref(home);
  store_close(&s);

  /* Nothing listens on port 1: each is refused at once, never opened as
   * a file. tests/sip/farm.sh runs the backend against a real server. */
  const char *pg[] = {"postgresql://tz:secret@127.0.0.1:1/tz",
                      "postgres://127.0.0.1:1/tz",
                      "host=127.0.0.1 port=1 dbname=tz password=secret"};
  for (size_t i = 0; i < sizeof pg / sizeof *pg; i++) {
    CU_ASSERT_EQUAL(store_open(&s, NULL, "db_url", pg[i], NULL), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot connect to PostgreSQL"));
    CU_ASSERT_PTR_NULL(strstr(err, "secret"));
    tz_module_destroy(s.mi);
  }
  /* libpq cannot read it: said without connecting. */
  CU_ASSERT_EQUAL(store_open(&s, NULL, "db_url",
                             "host=127.0.0.1 password=secret bogus=1", NULL),
                  -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "libpq can read"));
  CU_ASSERT_PTR_NULL(strstr(err, "secret"));
  tz_module_destroy(s.mi);
  CU_ASSERT_EQUAL(store_open(&s, NULL, "db_url", "mysql://db/tz", NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown database type \"mysql\""));
  tz_module_destroy(s.mi);
  CU_ASSERT_EQUAL(store_open(&s, db, "db_url", url, NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "db_path and db_url are both set"));
  tz_module_destroy(s.mi);
}

/* The location table as version 1 had it (trapezoid 0.1), with a row. */
static const char v1_schema[] =
    "CREATE TABLE version (table_name TEXT PRIMARY KEY NOT NULL, "
    "table_version INTEGER DEFAULT 0 NOT NULL);"
    "CREATE TABLE location (id INTEGER PRIMARY KEY NOT NULL, "
    "username TEXT DEFAULT '' NOT NULL, domain TEXT DEFAULT NULL, "
    "contact TEXT DEFAULT '' NOT NULL, received TEXT DEFAULT NULL, "
    "path TEXT DEFAULT NULL, expires INTEGER NOT NULL, "
    "q REAL DEFAULT 1.0 NOT NULL, callid TEXT DEFAULT NULL, "
    "cseq INTEGER DEFAULT 1 NOT NULL, last_modified INTEGER DEFAULT 0 NOT NULL, "
    "flags INTEGER DEFAULT 0 NOT NULL, cflags INTEGER DEFAULT 0 NOT NULL, "
    "user_agent TEXT DEFAULT NULL, socket TEXT DEFAULT NULL, "
    "methods TEXT DEFAULT NULL, instance TEXT DEFAULT NULL, "
    "reg_id INTEGER DEFAULT 0 NOT NULL, server_id INTEGER DEFAULT 0 NOT NULL, "
    "connection_id INTEGER DEFAULT 0 NOT NULL);"
    "CREATE INDEX location_expires_idx ON location (expires);"
    "INSERT INTO version VALUES ('location', 1);";

/* A version 1 database is upgraded in place on open: its bindings are
 * kept (no transaction known), new saves record theirs. */
static void test_schema_upgrade(void)
{
  const char *db = db_file("v1.db");
  sqlite3 *h;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
  char *sql = sqlite3_mprintf("%s INSERT INTO location (username, domain, "
                              "contact, expires, callid, cseq) VALUES ('old', "
                              "'example.com', 'sip:old@1.1.1.1', %ld, 'c1', 3);",
                              v1_schema, now_s() + 300);
  CU_ASSERT_EQUAL(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_free(sql);
  sqlite3_close(h);

  store_t s;
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT table_version FROM version WHERE "
                              "table_name = 'location'"), 2);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "old@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:old@1.1.1.1");
  CU_ASSERT_PTR_NULL(out[0].branch);
  tz_binding_t b = binding("sip:new@2.2.2.2", -1, now_s() + 300, now_s());
  b.branch = "z9hG4bK-1 192.0.2.1:5060";
  CU_ASSERT_EQUAL(save_wait(&s, "new@example.com", &b, 1), 0);
  store_close(&s);

  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "new@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].branch, "z9hG4bK-1 192.0.2.1:5060");
  su_home_unref(home);
  store_close(&s);
}

/* A commit that fails (another process holds the write lock) reports -1
 * and puts back what the database holds. */
static void test_failed_commit_restores(void)
{
  store_t s;
  const char *db = db_file("locked.db");
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, "busy_timeout", "50", NULL), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  long t = now_s();
  tz_binding_t old = binding("sip:old@1.1.1.1", 1000, t + 300, t);
  CU_ASSERT_EQUAL(save_wait(&s, "l@example.com", &old, 1), 0);

  sqlite3 *h;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                        SQLITE_OK);
  acks_t a = {0};
  tz_binding_t neu = binding("sip:new@1.1.1.1", 1000, t + 300, t);
  fflush(stderr);
  CU_ASSERT_EQUAL(s.api->save(s.ctx, "l@example.com", &neu, 1, on_done, &a),
                  0);
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "l@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:new@1.1.1.1");
  spin_until(&a.failed, 1, 5000);
  CU_ASSERT_EQUAL(a.failed, 1);
  CU_ASSERT_EQUAL(a.ok, 0);
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "l@example.com", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:old@1.1.1.1");

  sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(h);
  CU_ASSERT_EQUAL(save_wait(&s, "l@example.com", &neu, 1), 0);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location WHERE "
                              "contact = 'sip:new@1.1.1.1'"), 1);
  su_home_unref(home);
  store_close(&s);
}

/* Successive generations on one db_path share one store: one index, one
 * writer, and the timer and fd watch follow whichever instance is newest. */
static void test_shared_across_generations(void)
{
  store_t a, b, c;
  const char *db = db_file("shared.db");
  long t = now_s();
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL_FATAL(store_open(&a, db, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(store_open(&b, db, "batch_max", "10", NULL), 0);
  CU_ASSERT_PTR_EQUAL(a.ctx, b.ctx);
  tz_binding_t x = binding("sip:x@1.1.1.1", 1000, t + 60, t);
  CU_ASSERT_EQUAL(save_wait(&a, "x@example.com", &x, 1), 0);
  CU_ASSERT_EQUAL(lookup(&b, "x@example.com", home, &out), 1);

  store_close(&b); /* the newest goes first: a takes the writer back */
  tz_binding_t y = binding("sip:y@1.1.1.1", 1000, t + 60, t);
  CU_ASSERT_EQUAL(save_wait(&a, "y@example.com", &y, 1), 0);

  CU_ASSERT_EQUAL_FATAL(store_open(&c, db, NULL), 0);
  store_close(&a); /* the usual order: the old generation retires */
  CU_ASSERT_EQUAL(save_wait(&c, "x@example.com", NULL, 0), 0);
  CU_ASSERT_EQUAL(lookup(&c, "y@example.com", home, &out), 1);
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location"), 1);
  store_close(&c);
  su_home_unref(home);
}

/* ---- workers ----------------------------------------------------------------- */

/* Threads stand in for workers: they save, look up, ask pending, count and
 * list at once on a few shared AORs, while this thread (worker 0) runs the
 * completions. Each save writes a set whose bindings all carry one tag, so
 * a torn read shows as mixed tags; and whenever an AOR has no save in
 * flight, memory and disk must hold the same set, which they would not if
 * the writer committed an AOR's saves in another order than memory took
 * them. CUnit is not thread-safe: the threads only count what went wrong. */
#define MT_THREADS 4
#define MT_SAVES 150 /* per thread */
#define MT_AORS 3
#define MT_SET 3

typedef struct mt_aor {
  store_t *s;
  const char *db;
  char name[32];
  atomic_int *acked; /* saves acknowledged */
  atomic_int *bad;   /* inconsistencies seen */
} mt_aor_t;

typedef struct mt_thread {
  unsigned id;
  mt_aor_t *aors;
} mt_thread_t;

/* 0 if b[0..n-1] is one save's set: MT_SET bindings of one Call-ID. */
static int mt_check_set(const tz_binding_t *b, int n)
{
  if (n == 0)
    return 0;
  if (n != MT_SET)
    return -1;
  for (int i = 1; i < n; i++)
    if (strcmp(b[i].callid, b[0].callid) != 0)
      return -1;
  return 0;
}

/* What memory holds for aor as "TAG/COUNT/1", "" when nothing. */
static void mt_mem_tag(store_t *s, const char *aor, char *tag, size_t len)
{
  su_home_t home[1];
  tz_binding_t *out = NULL;
  su_home_init(home);
  int n = lookup(s, aor, home, &out);
  tag[0] = '\0';
  if (n > 0)
    snprintf(tag, len, "%s/%d/%d", out[0].callid, n,
             mt_check_set(out, n) == 0);
  su_home_deinit(home);
}

/* The same of what the database holds for aor. */
static void mt_db_tag(const char *db, const char *aor, char *tag, size_t len)
{
  char user[32];
  snprintf(user, sizeof user, "%.*s", (int)(strchr(aor, '@') - aor), aor);
  char *sql = sqlite3_mprintf("SELECT count(*), min(callid) = max(callid), "
                              "min(callid) FROM location WHERE username = %Q",
                              user);
  sqlite3 *h;
  sqlite3_stmt *st;
  tag[0] = '\0';
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
      snprintf(tag, len, "%s/%d/%d", sqlite3_column_text(st, 2),
               sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  sqlite3_free(sql);
}

/* -1 if memory and disk differ while no save of a->name is in flight.
 * Pending is asked before and after: only this thread (worker 0) brings it
 * down, so 0 both times means no save came in between. */
static int mt_check_quiet(const mt_aor_t *a)
{
  char mem[64], disk[64];
  if (a->s->api->pending(a->s->ctx, a->name))
    return 0;
  mt_mem_tag(a->s, a->name, mem, sizeof mem);
  mt_db_tag(a->db, a->name, disk, sizeof disk);
  return a->s->api->pending(a->s->ctx, a->name) || !strcmp(mem, disk) ? 0 : -1;
}

static void mt_on_done(void *arg, int status)
{
  mt_aor_t *a = arg;
  if (status == 0)
    atomic_fetch_add(a->acked, 1);
  if (status < 0 || mt_check_quiet(a) < 0)
    atomic_fetch_add(a->bad, 1);
}

static void mt_each_cb(void *arg, const char *aor, const tz_binding_t *b,
                       int n)
{
  (void)aor;
  if (mt_check_set(b, n) < 0)
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void mt_save_one(mt_thread_t *t, unsigned i, mt_aor_t *a)
{
  char tag[32], contact[MT_SET][64];
  tz_binding_t set[MT_SET];
  long now = now_s();
  snprintf(tag, sizeof tag, "t%u-%u", t->id, i);
  for (int k = 0; k < MT_SET; k++) {
    snprintf(contact[k], sizeof contact[k], "sip:%s-%d@10.3.0.1", tag, k);
    set[k] = binding(contact[k], 1000 - 100 * k, now + 600, now);
    set[k].callid = tag;
  }
  /* Now and then the AOR goes away altogether. */
  size_t n = i % 7 == 6 ? 0 : MT_SET;
  if (a->s->api->save(a->s->ctx, a->name, set, n, mt_on_done, a) < 0)
    atomic_fetch_add(a->bad, 1);
}

static void *mt_thread(void *arg)
{
  mt_thread_t *t = arg;
  store_t *s = t->aors[0].s;
  atomic_int *bad = t->aors[0].bad;
  su_home_t *home = su_home_new(sizeof *home);
  for (unsigned i = 0; i < MT_SAVES; i++) {
    mt_save_one(t, i, &t->aors[(t->id + i) % MT_AORS]);
    tz_binding_t *out = NULL;
    int n = lookup(s, t->aors[(t->id * 7 + i) % MT_AORS].name, home, &out);
    if (n < 0 || mt_check_set(out, n) < 0)
      atomic_fetch_add(bad, 1);
    /* A pause, so AORs often have no save in flight and mt_check_quiet
     * compares: flat out, pending never drops to 0 before the end. */
    nanosleep(&(struct timespec){0, 200000}, NULL);
    if (i % 50 == t->id) {
      unsigned long aors, bindings;
      s->api->count(s->ctx, &aors, &bindings);
      s->api->each(s->ctx, mt_each_cb, bad);
    }
  }
  su_home_unref(home);
  return NULL;
}

static void test_concurrent_workers(void)
{
  store_t s;
  const char *db = db_file("threads.db");
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, "sync", "normal", NULL), 0);
  atomic_int bad = 0, acked = 0;
  mt_aor_t aors[MT_AORS];
  for (unsigned a = 0; a < MT_AORS; a++) {
    aors[a] = (mt_aor_t){&s, db, "", &acked, &bad};
    snprintf(aors[a].name, sizeof aors[a].name, "mt%u@example.com", a);
  }
  mt_thread_t ctx[MT_THREADS];
  pthread_t th[MT_THREADS];
  for (unsigned i = 0; i < MT_THREADS; i++) {
    ctx[i] = (mt_thread_t){i, aors};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, mt_thread, &ctx[i]), 0);
  }
  int total = MT_THREADS * MT_SAVES;
  long long end = now_ms() + 30000;
  while (atomic_load(&acked) < total && now_ms() < end)
    su_root_step(tz_loop_root(), 10);
  for (unsigned i = 0; i < MT_THREADS; i++)
    pthread_join(th[i], NULL);
  CU_ASSERT_EQUAL(atomic_load(&acked), total);
  CU_ASSERT_EQUAL(atomic_load(&bad), 0);
  for (unsigned a = 0; a < MT_AORS; a++) {
    CU_ASSERT_EQUAL(mt_check_quiet(&aors[a]), 0);
    CU_ASSERT_EQUAL(s.api->pending(s.ctx, aors[a].name), 0);
  }
  store_close(&s);
}

/* ---- crash safety ---------------------------------------------------------- */

#define CRASH_SAVES 5000
#define CRASH_AFTER_ACKS 1000

static int crash_ack_fd;
static int crash_acked;

static void crash_on_done(void *arg, int status)
{
  int id = (int)(long)arg;
  if (status == 0 && write(crash_ack_fd, &id, sizeof id) == sizeof id)
    crash_acked++;
}

/* The child: saves in a loop and dies with saves still queued. Runs in a
 * fresh exec of this program so it has its own event loop. */
static int crash_child(const char *db, int fd)
{
  store_t s;
  crash_ack_fd = fd;
  if (tz_loop_init() || tz_module_system_init() ||
      store_open(&s, db, "sync", "normal", NULL) < 0) {
    fprintf(stderr, "crash child: %s\n", err);
    return 1;
  }
  long t = now_s();
  for (int i = 0; i < CRASH_SAVES || crash_acked < CRASH_AFTER_ACKS; i++) {
    if (i < CRASH_SAVES) {
      char aor[64], contact[64];
      snprintf(aor, sizeof aor, "crash%d@example.com", i);
      snprintf(contact, sizeof contact, "sip:crash%d@10.2.0.1", i);
      tz_binding_t b = binding(contact, 1000, t + 3600, t);
      if (s.api->save(s.ctx, aor, &b, 1, crash_on_done, (void *)(long)i) < 0)
        return 1;
    }
    if (i % 50 == 0 || i >= CRASH_SAVES)
      su_root_step(tz_loop_root(), i >= CRASH_SAVES ? 10 : 0);
    if (crash_acked >= CRASH_AFTER_ACKS)
      _exit(0); /* no destroy, no flush: a crash as far as sqlite knows */
  }
  return 1;
}

static void test_crash_safety(void)
{
  const char *db = db_file("crash.db");
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  CU_ASSERT_FATAL(len > 0);
  self[len] = '\0';
  int p[2];
  CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    execl(self, self, "--crash-child", db, fd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  static char acked[CRASH_SAVES];
  int id, nacked = 0;
  while (read(p[0], &id, sizeof id) == sizeof id)
    if (id >= 0 && id < CRASH_SAVES && !acked[id]) {
      acked[id] = 1;
      nacked++;
    }
  close(p[0]);
  int status;
  CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CU_ASSERT(nacked >= CRASH_AFTER_ACKS);

  sqlite3 *h;
  sqlite3_stmt *st;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(
      sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL),
      SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
  CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  CU_ASSERT_EQUAL_FATAL(
      sqlite3_prepare_v2(h, "SELECT username FROM location", -1, &st, NULL),
      SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int n;
    if (sscanf((const char *)sqlite3_column_text(st, 0), "crash%d", &n) == 1 &&
        n >= 0 && n < CRASH_SAVES && acked[n] == 1) {
      acked[n] = 2;
      rows++;
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  CU_ASSERT_EQUAL(rows, nacked); /* every acknowledged save is on disk */

  /* And a new instance serves them. */
  store_t s;
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  unsigned long aors, bindings;
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT(aors >= (unsigned long)nacked);
  store_close(&s);
}

/* ---- location.add -------------------------------------------------------- */

/* Runs control command method with params (JSON text) as the control layer
 * would; returns its code, its result text in result when it is 0. */
static int ctl(const char *method, const char *params, char *result,
               size_t len)
{
  const tz_command_t *c = tz_command_find(method);
  tz_json_t *p = tz_json_parse(params, strlen(params), err, sizeof err);
  if (!c || !p) {
    tz_json_free(p);
    return 1;
  }
  tz_jbuf_t out;
  tz_jbuf_init(&out);
  err[0] = '\0';
  int code = tz_command_call(c, p, &out, err, sizeof err);
  snprintf(result, len, "%s", code || out.err ? "" : out.s);
  tz_jbuf_free(&out);
  tz_json_free(p);
  return code;
}

/* Runs the loop until no save of aor is in flight. */
static void settle(store_t *s, const char *aor)
{
  long long end = now_ms() + 5000;
  while (s->api->pending(s->ctx, aor) && now_ms() < end)
    su_root_step(tz_loop_root(), 10);
}

/* A URI AOR takes the registrar's key; the binding is in memory at once
 * with what was asked, and in the database once committed. */
static void test_ctl_add(void)
{
  store_t s;
  const char *db = db_file("ctladd.db");
  char r[1024];
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  long t = now_s();
  const char *add = "{\"aor\":\"sip:alice@Example.TEST\","
                    "\"contact\":\"<sip:alice@192.0.2.7:5062>\","
                    "\"expires\":600,\"q\":0.5,"
                    "\"received\":\"sip:192.0.2.7:5062;transport=udp\","
                    "\"path\":\"<sip:edge.example.test;lr>\"}";
  CU_ASSERT_EQUAL_FATAL(ctl("location.add", add, r, sizeof r), 0);
  CU_ASSERT_STRING_EQUAL(r, "{\"aor\":\"alice@example.test\",\"contact\":"
                            "\"sip:alice@192.0.2.7:5062\",\"replaced\":false,"
                            "\"durable\":false}");
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "alice@example.test", home, &out), 1);
  CU_ASSERT_STRING_EQUAL(out[0].contact, "sip:alice@192.0.2.7:5062");
  CU_ASSERT_STRING_EQUAL(out[0].received, "sip:192.0.2.7:5062;transport=udp");
  CU_ASSERT_STRING_EQUAL(out[0].path, "<sip:edge.example.test;lr>");
  CU_ASSERT_STRING_EQUAL(out[0].callid, "tzctl-add");
  CU_ASSERT_EQUAL(out[0].cseq, 1);
  CU_ASSERT_EQUAL(out[0].q, 500);
  CU_ASSERT(out[0].expires >= t + 600 && out[0].expires <= now_s() + 600);
  settle(&s, "alice@example.test");
  CU_ASSERT_EQUAL(sql_int(db, "SELECT count(*) FROM location WHERE "
                              "username = 'alice' AND domain = "
                              "'example.test' AND q = 0.5"), 1);
  CU_ASSERT_EQUAL(ctl("location.show", "{\"aor\":\"alice@example.test\"}", r,
                      sizeof r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"pending\":0"));
  su_home_unref(home);
  store_close(&s);
}

/* The same contact URI (compared as the registrar compares Contacts) is
 * replaced with a higher CSeq; another one is added; both survive a
 * restart. A key that is no URI is taken as it is. */
static void test_ctl_add_replace(void)
{
  store_t s;
  const char *db = db_file("ctlreplace.db");
  char r[1024];
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  const char *first = "{\"aor\":\"sip:bob@example.test\",\"contact\":"
                      "\"sip:bob@192.0.2.8\",\"q\":1}";
  CU_ASSERT_EQUAL(ctl("location.add", first, r, sizeof r), 0);
  CU_ASSERT_EQUAL(ctl("location.add", "{\"aor\":\"sip:bob@example.test\","
                      "\"contact\":\"sip:bob@192.0.2.8:5070\"}", r, sizeof r),
                  0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"replaced\":false"));
  CU_ASSERT_EQUAL(ctl("location.add", "{\"aor\":\"sip:bob@example.test\","
                      "\"contact\":\"<sip:bob@192.0.2.8>\",\"expires\":60}",
                      r, sizeof r), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"replaced\":true"));
  CU_ASSERT_EQUAL(ctl("location.add", "{\"aor\":\"carol\",\"contact\":"
                      "\"sip:carol@192.0.2.9\"}", r, sizeof r), 0);
  su_home_t *home = su_home_new(sizeof *home);
  tz_binding_t *out;
  CU_ASSERT_EQUAL_FATAL(lookup(&s, "bob@example.test", home, &out), 2);
  int i = strcmp(out[0].contact, "sip:bob@192.0.2.8") != 0;
  CU_ASSERT_STRING_EQUAL(out[i].contact, "sip:bob@192.0.2.8");
  CU_ASSERT_EQUAL(out[i].cseq, 2);
  CU_ASSERT_EQUAL(out[i].q, -1);
  CU_ASSERT(out[i].expires <= now_s() + 60);
  CU_ASSERT_EQUAL(lookup(&s, "carol", home, &out), 1);
  CU_ASSERT(out[0].expires >= now_s() + 3599);
  store_close(&s);

  CU_ASSERT_EQUAL_FATAL(store_open(&s, db, NULL), 0);
  CU_ASSERT_EQUAL(lookup(&s, "bob@example.test", home, &out), 2);
  CU_ASSERT_EQUAL(lookup(&s, "carol", home, &out), 1);
  su_home_unref(home);
  store_close(&s);
}

/* Bad params: -32602 naming the parameter, and nothing stored. */
static void test_ctl_add_invalid(void)
{
  static const struct {
    const char *params, *names;
  } bad[] = {
    {"{\"contact\":\"sip:a@192.0.2.1\"}", "'aor'"},
    {"{\"aor\":\"\",\"contact\":\"sip:a@192.0.2.1\"}", "'aor'"},
    {"{\"aor\":\"sip:\",\"contact\":\"sip:a@192.0.2.1\"}", "'aor'"},
    {"{\"aor\":7,\"contact\":\"sip:a@192.0.2.1\"}", "'aor'"},
    {"{\"aor\":\"sip:a@example.test\"}", "'contact'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"tel:+15551234\"}",
     "'contact'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"expires\":0}", "'expires'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"expires\":\"60\"}", "'expires'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"q\":1.5}", "'q'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"received\":\"192.0.2.1\"}", "'received'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"path\":5}", "'path'"},
    {"{\"aor\":\"sip:a@example.test\",\"contact\":\"sip:a@192.0.2.1\","
     "\"path\":\"<sip:edge\"}", "'path'"},
  };
  store_t s;
  char r[1024];
  CU_ASSERT_EQUAL_FATAL(store_open(&s, db_file("ctlbad.db"), NULL), 0);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CU_ASSERT_EQUAL(ctl("location.add", bad[i].params, r, sizeof r), -32602);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].names));
  }
  unsigned long aors, bindings;
  s.api->count(s.ctx, &aors, &bindings);
  CU_ASSERT_EQUAL(aors, 0);
  store_close(&s);
}

/* ---- runner ------------------------------------------------------------------ */

static int suite_setup(void)
{
  if (!mkdtemp(tmpdir))
    return -1;
  return tz_loop_init() || tz_module_system_init();
}

static int suite_teardown(void)
{
  tz_module_system_deinit();
  tz_loop_deinit();
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const tz_unit_test_t tests[] = {
  {"save, update, remove", test_save_update_remove},
  {"order by q then recency", test_order},
  {"expiry in memory and on disk", test_expiry},
  {"group commit", test_group_commit},
  {"persistence across instances", test_persistence},
  {"expiry delete uses the index", test_expiry_uses_index},
  {"schema versions and bad params", test_schema_versions},
  {"db_url: sqlite, PostgreSQL refused for now", test_db_url},
  {"a version 1 database is upgraded in place", test_schema_upgrade},
  {"failed commit restores the db's set", test_failed_commit_restores},
  {"one store shared across generations", test_shared_across_generations},
  {"saves and lookups from several threads", test_concurrent_workers},
  {"acknowledged saves survive a crash", test_crash_safety},
  {"location.add: lookup finds it, durable once committed", test_ctl_add},
  {"location.add replaces the same contact", test_ctl_add_replace},
  {"location.add: invalid params", test_ctl_add_invalid},
  {NULL, NULL}
};

static const tz_unit_suite_t suites[] = {
  {"location", tests, suite_setup, suite_teardown},
  {NULL, NULL, NULL, NULL}
};

int main(int argc, char **argv)
{
  if (argc == 4 && strcmp(argv[1], "--crash-child") == 0)
    return crash_child(argv[2], atoi(argv[3]));
  return tz_unit_main(suites);
}
