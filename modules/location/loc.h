/*
 * loc.h - internals of the location module shared by its parts: binding
 * sets and the memory index (loc_index.c, no locks of its own: location.c
 * holds a stripe's lock around each call), the writer thread that makes
 * saves durable through a backend (loc_db.c; the backend interface is
 * loc_store.h, sqlite in loc_sqlite.c), and the module glue (location.c).
 */
#ifndef LOC_H
#define LOC_H

#include <trapezoid/location.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- binding sets (loc_index.c) ------------------------------------------ */

/* An AOR's bindings, best first, in one allocation with their strings.
 * Immutable once built, so the index and the writer's jobs share it. refs
 * is atomic: a save in any worker drops the index's reference while worker
 * 0 drops a finished job's. */
typedef struct loc_set {
  atomic_uint refs;
  size_t n;
  long min_expires; /* earliest expiry; LONG_MAX when n == 0 */
  tz_binding_t b[];
} loc_set_t;

/* Copies and sorts b[0..n-1]; NULL when out of memory. */
loc_set_t *loc_set_new(const tz_binding_t *b, size_t n);
loc_set_t *loc_set_hold(loc_set_t *s);
void loc_set_release(loc_set_t *s);

/* ---- memory index (loc_index.c) ------------------------------------------- */

typedef struct loc_aor {
  struct loc_aor *next; /* hash chain */
  uint32_t hash;
  size_t heap_pos;      /* in loc_index_t.heap, or LOC_NOT_IN_HEAP */
  loc_set_t *set;       /* never NULL */
  uint64_t seq;         /* of the last save applied to set */
  unsigned pending;     /* saves not yet acknowledged by the writer */
  unsigned synced;      /* the last full resync that found it in the db */
  char key[];
} loc_aor_t;

#define LOC_NOT_IN_HEAP SIZE_MAX

/* AOR -> binding set, plus a min-heap of AORs keyed by their earliest
 * expiry so a sweep only visits what has expired. Not thread-safe: the
 * functions taking a const index only read it, so readers may share it. */
typedef struct loc_index {
  loc_aor_t **buckets;
  size_t nbuckets, naors;
  loc_aor_t **heap;
  size_t heap_len, heap_cap;
  unsigned long live_aors, bindings; /* AORs with n > 0, sum of n */
} loc_index_t;

/* FNV-1a of key: its low bits pick the bucket, location.c's stripe the
 * high ones. */
uint32_t loc_index_hash(const char *key);
int loc_index_init(loc_index_t *ix);
void loc_index_free(loc_index_t *ix);
loc_aor_t *loc_index_find(const loc_index_t *ix, const char *key);
/* Finds or adds key (with an empty set); NULL when out of memory. */
loc_aor_t *loc_index_get(loc_index_t *ix, const char *key);
/* Takes over one reference to set and drops the AOR's old one. */
void loc_index_assign(loc_index_t *ix, loc_aor_t *aor, loc_set_t *set);
/* Frees aor if it has no bindings and no save in flight. */
void loc_index_drop_idle(loc_index_t *ix, loc_aor_t *aor);
/* Removes bindings with expires <= now; returns how many went. */
size_t loc_index_sweep(loc_index_t *ix, long now);
/* Copies the live bindings of aor into home, best first. */
int loc_index_lookup(const loc_index_t *ix, const char *key, long now,
                     su_home_t *home, tz_binding_t **out);

/* ---- durable store and writer thread (loc_db.c) --------------------------- */

typedef enum loc_job_kind {
  LOC_JOB_SAVE,    /* a save on its way to the database */
  LOC_JOB_REFRESH, /* the writer read an AOR another node changed */
  LOC_JOB_RESYNC,  /* the writer reloaded every AOR (after a reconnect):
                      AORs the reload did not find are gone */
} loc_job_kind_t;

/* One save on its way to disk, or news from the database for worker 0.
 * `restored` is what memory should hold afterwards when it is not `set`:
 * the database's rows after a commit that merged other nodes' contacts or
 * did not take the set, read back after a rollback, or `prev` again when
 * even that read failed. */
typedef struct loc_job {
  struct loc_job *next;
  loc_job_kind_t kind;
  loc_set_t *set;      /* SAVE: the new set */
  loc_set_t *prev;     /* SAVE: the set it replaced in memory */
  loc_set_t *restored;
  uint64_t seq;
  unsigned sync_gen;   /* REFRESH, RESYNC: the reload it belongs to, or 0 */
  int status;  /* 0 committed, -1 rolled back, TZ_LOCATION_STALE */
  int applied; /* set by a commit: 0 when the database kept what it had */
  tz_location_done_f done;
  void *arg;
  size_t userlen; /* key[0..userlen) is the user; the domain follows '@' */
  char key[];
} loc_job_t;

/* The database connection as the writer last saw it (a backend without
 * one, sqlite, is always connected). */
typedef struct loc_link {
  int connected;
  unsigned long reconnects; /* since start */
} loc_link_t;

/* What the writer finished since worker 0 last asked. */
typedef struct loc_done {
  loc_job_t *jobs; /* oldest first */
  unsigned long commits, failures; /* transactions */
  char err[256];   /* why the last failed one failed */
  loc_link_t link;
} loc_done_t;

/* Settings the writer can take over while it runs. */
typedef struct loc_tune {
  size_t batch_max; /* most jobs per transaction */
  int sync_full;    /* PRAGMA synchronous=FULL, else NORMAL */
  int busy_ms;      /* sqlite busy timeout */
} loc_tune_t;

struct loc_backend;   /* loc_store.h */
struct loc_store_ops;

typedef struct loc_db {
  struct loc_backend *be; /* NULL until open; see loc_store.h for its owner */
  pthread_mutex_t mu;
  pthread_t thread;
  int running;
  int stopping;
  int sleeping;         /* the writer waits in poll(): write to wake[1] */
  int wake[2];          /* anyone -> writer: "there is work" */
  loc_tune_t tune;
  int retune;           /* tune changed since the writer applied it */
  loc_job_t *queue, **queue_tail;
  long expire_before;   /* rows with expires <= this go; 0 = none asked */
  loc_done_t done;
  loc_job_t **done_tail;
  int notify[2];        /* writer -> worker 0: "jobs are done" */
} loc_db_t;

/* Length of the user part of an AOR key: up to its last '@', else all. */
size_t loc_aor_userlen(const char *aor);
loc_job_t *loc_job_new(const char *aor, loc_set_t *set,
                       tz_location_done_f done, void *arg);
/* A REFRESH or RESYNC job for worker 0 (aor "" for RESYNC). */
loc_job_t *loc_job_news(loc_job_kind_t kind, const char *aor,
                        loc_set_t *restored, unsigned sync_gen);
void loc_job_free(loc_job_t *job);

/* Opens target with the backend ops (creating or checking the schema).
 * Leaves d closable with loc_db_close() on failure too. */
int loc_db_open(loc_db_t *d, const struct loc_store_ops *ops,
                const char *target, const loc_tune_t *tune, char *err,
                size_t errlen);
/* Takes over set as key's bindings; 0, or -1 (set released) when out of
 * memory. */
typedef int (*loc_load_f)(void *arg, const char *key, loc_set_t *set);
/* Deletes expired rows and hands each AOR's rows to add (startup only). */
int loc_db_load(loc_db_t *d, long now, loc_load_f add, void *arg, char *err,
                size_t errlen);
int loc_db_start(loc_db_t *d);
/* New settings, in force from the writer's next transaction. */
void loc_db_tune(loc_db_t *d, const loc_tune_t *tune);
int loc_db_notify_fd(const loc_db_t *d);
void loc_db_submit(loc_db_t *d, loc_job_t *job);
void loc_db_request_expiry(loc_db_t *d, long now);
/* Moves what the writer finished into *out (jobs NULL if nothing). */
void loc_db_take_done(loc_db_t *d, loc_done_t *out);
/* The connection as the writer last reported it. */
void loc_db_link(loc_db_t *d, loc_link_t *out);
/* Lets the writer commit everything queued, then joins it. */
void loc_db_stop(loc_db_t *d);
void loc_db_close(loc_db_t *d);

/* ---- the service and its control commands (location.c, loc_ctl.c) ---------- */

extern const tz_location_api_t loc_store_api;
/* The store (the service's ctx) behind an initialised instance. */
void *loc_instance_store(tz_modinst_t *mod);
/* Registers location.show, location.remove and location.count. */
int loc_ctl_register(tz_modinst_t *mod);
/* The location.aors and location.bindings gauges. Worker 0 only. */
void loc_gauges_set(unsigned long aors, unsigned long bindings);
/* location.db.connected and location.db.reconnects. Worker 0 only. */
void loc_link_gauges_set(const loc_link_t *link);

#endif
