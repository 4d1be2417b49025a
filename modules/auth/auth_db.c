/*
 * auth_db.c - the subscriber credentials: the sqlite table of
 * db/sqlite/subscriber.sql (created on a new database, version-checked on
 * an old one) and the in-memory hash the event loop reads.
 */
#define _DEFAULT_SOURCE
#include "auth.h"
#include "subscriber_sql.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the memory copy ----------------------------------------------------- */

static size_t subs_hash(const char *username, const char *domain)
{
  size_t h = 2166136261u; /* FNV-1a */
  for (const char *p = username; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ '@') * 16777619u;
  for (const char *p = domain; *p; p++)
    h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 16777619u;
  return h;
}

int auth_subs_init(auth_subs_t *s)
{
  s->count = 0;
  s->nbuckets = 64;
  s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
  return s->buckets ? 0 : -1;
}

static void subs_entry_clear(auth_sub_t *sub)
{
  free(sub->username);
  free(sub->domain);
  free(sub->password);
  for (int i = 0; i < AUTH_NALGS; i++)
    free(sub->ha1[i]);
  memset(sub, 0, sizeof *sub);
}

void auth_subs_free(auth_subs_t *s)
{
  for (size_t i = 0; i < s->nbuckets; i++)
    for (auth_sub_t *e = s->buckets[i], *next; e; e = next) {
      next = e->next;
      subs_entry_clear(e);
      free(e);
    }
  free(s->buckets);
  memset(s, 0, sizeof *s);
}

static auth_sub_t **subs_slot(const auth_subs_t *s, const char *username,
                              const char *domain)
{
  auth_sub_t **pp = &s->buckets[subs_hash(username, domain) % s->nbuckets];
  for (; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->username, username) == 0 &&
        strcasecmp((*pp)->domain, domain) == 0)
      break;
  return pp;
}

const auth_sub_t *auth_subs_find(const auth_subs_t *s, const char *username,
                                 const char *domain)
{
  return *subs_slot(s, username, domain);
}

/* Doubles the bucket array; on no memory the chains just get longer. */
static void subs_grow(auth_subs_t *s)
{
  size_t n = s->nbuckets * 2;
  auth_sub_t **b = calloc(n, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < s->nbuckets; i++)
    for (auth_sub_t *e = s->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t k = subs_hash(e->username, e->domain) % n;
      e->next = b[k];
      b[k] = e;
    }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = n;
}

static char *subs_strdup_lower(const char *s, int lower)
{
  char *d = strdup(s ? s : "");
  for (char *p = d; lower && p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return d;
}

int auth_subs_put(auth_subs_t *s, const auth_sub_t *sub)
{
  auth_sub_t *e = calloc(1, sizeof *e);
  if (!e)
    return -1;
  e->username = subs_strdup_lower(sub->username, 0);
  e->domain = subs_strdup_lower(sub->domain, 1);
  e->password = subs_strdup_lower(sub->password, 0);
  int ok = e->username && e->domain && e->password;
  for (int i = 0; i < AUTH_NALGS; i++)
    ok = (e->ha1[i] = subs_strdup_lower(sub->ha1[i], 1)) && ok;
  if (!ok) {
    subs_entry_clear(e);
    free(e);
    return -1;
  }
  auth_subs_remove(s, e->username, e->domain);
  if (s->count >= s->nbuckets)
    subs_grow(s);
  auth_sub_t **head = &s->buckets[subs_hash(e->username, e->domain) %
                                  s->nbuckets];
  e->next = *head;
  *head = e;
  s->count++;
  return 0;
}

int auth_subs_remove(auth_subs_t *s, const char *username, const char *domain)
{
  auth_sub_t **pp = subs_slot(s, username, domain), *e = *pp;
  if (!e)
    return 0;
  *pp = e->next;
  subs_entry_clear(e);
  free(e);
  s->count--;
  return 1;
}

/* ---- sqlite ----------------------------------------------------------------- */

static int db_fail(sqlite3 *db, const char *path, const char *what,
                   char *err, size_t errlen)
{
  snprintf(err, errlen, "auth: %s %s: %s", what, path,
           db ? sqlite3_errmsg(db) : "out of memory");
  return -1;
}

/* The subscriber table's version, 0 if the database has none. */
static int db_version(sqlite3 *db, long *v)
{
  sqlite3_stmt *st;
  *v = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT table_version FROM version "
                         "WHERE table_name = 'subscriber'",
                         -1, &st, NULL) != SQLITE_OK)
    return 0; /* no version table: a new database */
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *v = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Opens path, creating the schema on a new database; refuses a version
 * this module does not know. */
static sqlite3 *db_open(const char *path, char *err, size_t errlen)
{
  sqlite3 *db = NULL;
  long v;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK) {
    db_fail(db, path, "cannot open", err, errlen);
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 2000);
  if (db_version(db, &v) < 0 ||
      (v == 0 && (sqlite3_exec(db, AUTH_SCHEMA_SQL, NULL, NULL, NULL) !=
                      SQLITE_OK ||
                  db_version(db, &v) < 0))) {
    db_fail(db, path, "schema of", err, errlen);
    sqlite3_close(db);
    return NULL;
  }
  if (v != AUTH_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "auth: %s has subscriber table version %ld; this module knows "
             "version %d only",
             path, v, AUTH_SCHEMA_VERSION);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static const char *db_text(sqlite3_stmt *st, int col)
{
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? (const char *)t : "";
}

int auth_db_load(const char *path, auth_subs_t *subs, char *err,
                 size_t errlen)
{
  sqlite3 *db = db_open(path, err, errlen);
  sqlite3_stmt *st = NULL;
  if (!db)
    return -1;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT username, domain, password, ha1, "
                              "ha1_sha256 FROM subscriber",
                              -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    auth_sub_t sub = {NULL, (char *)db_text(st, 0), (char *)db_text(st, 1),
                      (char *)db_text(st, 2),
                      {(char *)db_text(st, 3), (char *)db_text(st, 4)}};
    if (auth_subs_put(subs, &sub) < 0) {
      snprintf(err, errlen, "auth: out of memory loading %s", path);
      rc = SQLITE_NOMEM;
      break;
    }
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
    db_fail(db, path, "cannot read subscribers from", err, errlen);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs sql with the text parameters; *changes gets the rows changed. */
static int db_run(const char *path, const char *sql, const char *const *args,
                  int nargs, int *changes, char *err, size_t errlen)
{
  sqlite3 *db = db_open(path, err, errlen);
  sqlite3_stmt *st = NULL;
  if (!db)
    return -1;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < nargs; i++)
    rc = sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    db_fail(db, path, "cannot write", err, errlen);
  else if (changes)
    *changes = sqlite3_changes(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc == SQLITE_DONE ? 0 : -1;
}

int auth_newsub_make(auth_newsub_t *n, const char *username,
                     const char *domain, const char *password)
{
  char user_at[512];
  size_t dlen = strlen(domain);
  if (dlen >= sizeof n->domain ||
      (size_t)snprintf(user_at, sizeof user_at, "%s@%s", username, domain) >=
          sizeof user_at)
    return -1;
  for (size_t i = 0; i <= dlen; i++)
    n->domain[i] = (char)tolower((unsigned char)domain[i]);
  for (int i = 0; i < AUTH_NALGS; i++)
    auth_calc_ha1((auth_alg_t)i, username, n->domain, password, n->ha1[i]);
  auth_calc_ha1(AUTH_ALG_MD5, user_at, n->domain, password, n->ha1b);
  n->sub = (auth_sub_t){NULL, (char *)username, n->domain, (char *)password,
                        {n->ha1[AUTH_ALG_MD5], n->ha1[AUTH_ALG_SHA256]}};
  return 0;
}

int auth_db_add(const char *path, const auth_newsub_t *n, char *err,
                size_t errlen)
{
  const char *args[] = {n->sub.username, n->domain, n->sub.password,
                        n->ha1[AUTH_ALG_MD5], n->ha1b,
                        n->ha1[AUTH_ALG_SHA256]};
  return db_run(path,
                "INSERT OR REPLACE INTO subscriber (username, domain, "
                "password, ha1, ha1b, ha1_sha256) VALUES (?, ?, ?, ?, ?, ?)",
                args, 6, NULL, err, errlen);
}

int auth_db_remove(const char *path, const char *username,
                   const char *domain, int *removed, char *err,
                   size_t errlen)
{
  const char *args[] = {username, domain};
  return db_run(path,
                "DELETE FROM subscriber WHERE username = ? "
                "AND domain = ? COLLATE NOCASE",
                args, 2, removed, err, errlen);
}
