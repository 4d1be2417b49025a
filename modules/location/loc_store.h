/*
 * loc_store.h - what the location module asks of a durable store (a
 * backend): open it, check its schema, load it at startup, commit a batch
 * of saves in one transaction, read one AOR back, close it. Queueing,
 * batching, the writer thread and the handoff to worker 0 are the same for
 * every backend and live in loc_db.c; sqlite (loc_sqlite.c) is the first
 * backend, PostgreSQL the second.
 *
 * Locking rule: a backend takes no lock, because one thread at a time owns
 * it: worker 0 from open through schema and load, the writer thread from
 * loc_db_start until loc_db_stop has joined it, worker 0 again for close.
 * sqlite (loc_sqlite.c) keeps one node's bindings; PostgreSQL (loc_pg.c)
 * a farm's, which is why commit may merge and news exists.
 * So a backend may block (fsync, a network round trip): after startup it
 * only ever blocks the writer, never an event loop.
 */
#ifndef LOC_STORE_H
#define LOC_STORE_H

#include "loc.h"

typedef struct loc_store_ops loc_store_ops_t;
#define LOC_UNREACHABLE (-2) /* commit's failure without a database */
struct loc_sink;

/* One open store. A backend puts this first in its own struct and casts
 * back, so the writer holds one pointer whatever the backend. */
typedef struct loc_backend {
  const loc_store_ops_t *ops;
} loc_backend_t;

/* Messages: `err` is a whole line for the log ("location: ..."); `why` is
 * only the cause, the caller says what failed. */
struct loc_store_ops {
  const char *name; /* "sqlite" */
  /* Opens target (for sqlite a file path) with the first settings. NULL,
   * with err set and nothing left open, on failure. */
  loc_backend_t *(*open)(const char *target, const loc_tune_t *tune,
                         char *err, size_t errlen);
  /* Creates the schema in a new store, upgrades an older one and refuses
   * a newer one, then readies what the writer will run. */
  int (*schema)(loc_backend_t *b, char *err, size_t errlen);
  /* Startup: deletes the rows expired by now, then hands each AOR's rows
   * to add. */
  int (*load)(loc_backend_t *b, long now, loc_load_f add, void *arg,
              char *why, size_t len);
  /* New settings, between two transactions. On failure the old ones stay,
   * which still work, so the writer goes on. */
  int (*tune)(loc_backend_t *b, const loc_tune_t *tune);
  /* One transaction: each job's set replaces its AOR's rows (`prev`, the
   * set it replaced in memory, tells a shared store which contacts this
   * node removed), in list order, then the rows with expires <=
   * expire_before go (0: none asked); jobs may be NULL. On success every
   * job has `applied` set: 1 when the database now holds its set, 0 when
   * it kept what it had (a backend that orders saves by CSeq in the
   * database, RFC 3261 10.3); a shared store also sets `restored` to the
   * AOR's rows afterwards, other nodes' contacts included. On failure
   * nothing of the batch is left in the database and no job has
   * `restored`; -1, or LOC_UNREACHABLE when the database cannot be
   * reached at all (nothing to read back either). */
  int (*commit)(loc_backend_t *b, loc_job_t *jobs, long expire_before,
                char *why, size_t len);
  /* What the database holds for job's AOR, so memory can follow it; NULL
   * when it cannot tell (the read failed, out of memory). */
  loc_set_t *(*read_aor)(loc_backend_t *b, const loc_job_t *job);
  void (*close)(loc_backend_t *b);

  /* Optional, for a store other processes write too (NULL for sqlite).
   * watch: the descriptor the writer waits on besides its work (-1 for
   * none now) and *timeout_ms until the backend wants to be called anyway
   * (-1: never), say to reconnect. news: called after each wake-up and
   * each transaction; hands what the database said since (AORs other
   * nodes changed, a full reload after a reconnect) to the sink, and
   * reconnects when it is time. */
  int (*watch)(loc_backend_t *b, int *timeout_ms);
  void (*news)(loc_backend_t *b, const struct loc_sink *sink);
};

/* Where a backend's news goes: loc_db.c queues it for worker 0. */
typedef struct loc_sink {
  void *arg;
  /* Takes over job (REFRESH or RESYNC). */
  void (*post)(void *arg, loc_job_t *job);
  void (*link)(void *arg, const loc_link_t *link);
} loc_sink_t;

extern const loc_store_ops_t loc_sqlite_ops;
extern const loc_store_ops_t loc_pg_ops;

/* Whether libpq can read a db_url, without connecting (trapezoid -c). */
int loc_pg_check_url(const char *url, char *err, size_t errlen);

#endif
