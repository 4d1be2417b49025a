/*
 * location.c - the location module: its descriptor and parameters, and the
 * glue that makes the memory index (loc_index.c) and the writer (loc_db.c,
 * over the sqlite backend of loc_sqlite.c) one binding store behind
 * tz_location_api_t.
 *
 * Lookups and saves run in every worker and never wait for the disk: a
 * save changes memory at once and queues a job; the writer thread commits
 * jobs in batches, and worker 0 runs their done callbacks when it hears
 * back through the writer's pipe.
 *
 * Locking rule: a store's index is split into LOC_STRIPES stripes by AOR
 * hash, each an index of its own under its own rwlock. Lookups, pending and
 * each hold a stripe shared; saves, completions and sweeps exclusive. One
 * stripe at a time, never two. A save queues its job before it lets go of
 * the stripe (lock order: stripe, then the writer's mu), so the writer
 * commits an AOR's saves in the order memory took them. Callbacks (done,
 * each's cb) run with no lock held. The rest of a store (its holders, the
 * timer and the watch) and loc_stores belong to worker 0; closing is set
 * there once no other worker can reach the store.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc_store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/su_alloc.h>

typedef struct loc_cfg {
  char *db_path; /* NULL when not set, so that db_url may be */
  char *db_url;
  char *sync;
  long batch_max;
  long expiry_interval;
  long busy_timeout;
} loc_cfg_t;

/* One module instance's hold on a store. */
typedef struct loc_inst {
  struct loc_inst *next; /* the store's holders, newest first */
  struct loc_store *store;
  tz_modinst_t *mod;
  loc_tune_t tune;    /* its parameters, in force while it is the newest */
  unsigned sweep_ms;
} loc_inst_t;

/* Enough stripes that workers rarely meet on one (TZ_MAX_WORKERS is 64). */
#define LOC_STRIPE_BITS 6
#define LOC_STRIPES (1u << LOC_STRIPE_BITS)

/* One stripe of a store's index: the AORs whose hash has these top bits. */
typedef struct loc_stripe {
  pthread_rwlock_t lock;
  loc_index_t ix;
  uint64_t seq; /* numbers saves, so a late failure cannot undo a newer one */
} loc_stripe_t;

typedef struct loc_store {
  struct loc_store *next; /* in loc_stores */
  char *path;
  loc_inst_t *insts;      /* the newest owns the timer and the fd watch */
  loc_stripe_t stripes[LOC_STRIPES];
  size_t nstripes;        /* initialised: LOC_STRIPES once open */
  loc_db_t db;
  int closing;
  tz_timer_t *sweep_timer;
  tz_fdwatch_t *watch;
} loc_store_t;

/* Open stores by db_path. A reload builds new instances beside the old
 * ones; sharing the store keeps one writer per file and one index, where a
 * second copy loaded from disk would miss the old one's last saves. */
static loc_store_t *loc_stores;

/* The store for messages: a URL may hold a password. */
static const char *store_where(const loc_store_t *s)
{
  return s->db.be && s->db.be->ops == &loc_pg_ops ? "PostgreSQL" : s->path;
}

/* ---- stripes --------------------------------------------------------------- */

static loc_stripe_t *store_stripe(loc_store_t *s, const char *aor)
{
  return &s->stripes[loc_index_hash(aor) >> (32 - LOC_STRIPE_BITS)];
}

static int store_stripe_init(loc_stripe_t *st)
{
  if (pthread_rwlock_init(&st->lock, NULL) != 0)
    return -1;
  if (loc_index_init(&st->ix) < 0) {
    pthread_rwlock_destroy(&st->lock);
    return -1;
  }
  return 0;
}

static int store_stripes_init(loc_store_t *s)
{
  for (; s->nstripes < LOC_STRIPES; s->nstripes++)
    if (store_stripe_init(&s->stripes[s->nstripes]) < 0)
      return -1;
  return 0;
}

static void store_stripes_free(loc_store_t *s)
{
  for (size_t i = 0; i < s->nstripes; i++) {
    loc_index_free(&s->stripes[i].ix);
    pthread_rwlock_destroy(&s->stripes[i].lock);
  }
  s->nstripes = 0;
}

/* AORs with a live binding and bindings, summed over the stripes. */
static void store_totals(loc_store_t *s, unsigned long *aors,
                         unsigned long *bindings)
{
  *aors = *bindings = 0;
  for (size_t i = 0; i < LOC_STRIPES; i++) {
    loc_stripe_t *st = &s->stripes[i];
    pthread_rwlock_rdlock(&st->lock);
    *aors += st->ix.live_aors;
    *bindings += st->ix.bindings;
    pthread_rwlock_unlock(&st->lock);
  }
}

/* Worker 0 only (init, completions, the sweep timer), so the gauges have
 * one writer and never go back to an older value. */
static void store_gauges(loc_store_t *s)
{
  unsigned long aors, bindings;
  loc_link_t link;
  store_totals(s, &aors, &bindings);
  loc_gauges_set(aors, bindings);
  loc_db_link(&s->db, &link);
  loc_link_gauges_set(&link);
}

/* ---- completions ---------------------------------------------------------- */

/* Lets the AOR of a finished save go, or puts the database's set in
 * memory (a rollback, or a commit that merged other nodes' contacts).
 * With the stripe held exclusively. */
static void store_settle(loc_stripe_t *st, loc_job_t *j)
{
  /* The AOR is still indexed: its pending count kept it there. */
  loc_aor_t *a = loc_index_find(&st->ix, j->key);
  assert(a && a->pending > 0);
  a->pending--;
  /* db = truth when it did not take the set as is, unless a newer save
   * replaced the set meanwhile. */
  if (j->restored && a->seq == j->seq) {
    loc_index_assign(&st->ix, a, j->restored);
    j->restored = NULL;
  }
  loc_index_drop_idle(&st->ix, a);
}

/* Another node changed the AOR: the database's set replaces memory's,
 * unless a save of ours is pending (its commit returns the merged set).
 * With the stripe held exclusively. */
static void store_refresh(loc_stripe_t *st, loc_job_t *j)
{
  loc_aor_t *a = loc_index_get(&st->ix, j->key);
  if (!a)
    return; /* out of memory: the next change or resync brings it */
  if (j->sync_gen)
    a->synced = j->sync_gen;
  if (a->pending == 0) {
    loc_index_assign(&st->ix, a, j->restored);
    j->restored = NULL;
  }
  loc_index_drop_idle(&st->ix, a);
}

/* A reload after a reconnect ended: AORs it did not find went while this
 * node could not hear about it, unless a save of ours is pending. */
static void store_resync_stripe(loc_stripe_t *st, unsigned gen,
                                loc_set_t *empty)
{
  for (size_t i = 0; i < st->ix.nbuckets; i++)
    for (loc_aor_t *a = st->ix.buckets[i], *next; a; a = next) {
      next = a->next;
      if (a->synced == gen || a->pending > 0 || a->set->n == 0)
        continue;
      loc_index_assign(&st->ix, a, loc_set_hold(empty));
      loc_index_drop_idle(&st->ix, a);
    }
}

static void store_resync(loc_store_t *s, unsigned gen)
{
  loc_set_t *empty = loc_set_new(NULL, 0); /* shared: sets are immutable */
  for (size_t i = 0; empty && i < LOC_STRIPES; i++) {
    loc_stripe_t *st = &s->stripes[i];
    pthread_rwlock_wrlock(&st->lock);
    store_resync_stripe(st, gen, empty);
    pthread_rwlock_unlock(&st->lock);
  }
  loc_set_release(empty);
}

static void store_news(loc_store_t *s, loc_job_t *j)
{
  if (j->kind == LOC_JOB_RESYNC) {
    store_resync(s, j->sync_gen);
  } else {
    loc_stripe_t *st = store_stripe(s, j->key);
    pthread_rwlock_wrlock(&st->lock);
    store_refresh(st, j);
    pthread_rwlock_unlock(&st->lock);
  }
  loc_job_free(j);
}

static void store_finish_job(loc_store_t *s, loc_job_t *j)
{
  if (j->kind != LOC_JOB_SAVE) {
    store_news(s, j);
    return;
  }
  loc_stripe_t *st = store_stripe(s, j->key);
  pthread_rwlock_wrlock(&st->lock);
  store_settle(st, j);
  pthread_rwlock_unlock(&st->lock);
  tz_location_done_f done = j->done;
  void *arg = j->arg;
  int status = j->status;
  loc_job_free(j);
  if (done)
    done(arg, status);
}

static void store_complete(loc_store_t *s)
{
  loc_done_t d;
  loc_db_take_done(&s->db, &d);
  size_t njobs = 0, nsaves = 0;
  for (loc_job_t *j = d.jobs; j; j = j->next, njobs++)
    nsaves += j->kind == LOC_JOB_SAVE;
  if (d.failures)
    tz_log(TZ_LOG_ERR,
           "location: %lu transaction(s) rolled back, their saves failed: %s",
           d.failures, d.err);
  if (njobs && tz_log_enabled(TZ_LOG_DBG))
    tz_log(TZ_LOG_DBG, "location: %zu saves done in %lu transaction(s), "
           "%zu AORs changed by other nodes", nsaves,
           d.commits + d.failures, njobs - nsaves);
  /* A done callback may save again, so nothing of d is used after it. */
  for (loc_job_t *j = d.jobs, *next; j; j = next) {
    next = j->next;
    store_finish_job(s, j);
  }
  if (njobs)
    store_gauges(s);
  else
    loc_link_gauges_set(&d.link);
}

static void store_on_notify(tz_modinst_t *mod, int fd, unsigned revents,
                            void *arg)
{
  (void)mod;
  (void)fd;
  (void)revents;
  store_complete(arg);
}

/* ---- expiry ------------------------------------------------------------------ */

/* Drops what has expired, a stripe at a time, and has the writer delete
 * its rows. Any worker (count) may sweep. */
static void store_sweep(loc_store_t *s)
{
  long now = (long)time(NULL);
  size_t removed = 0;
  for (size_t i = 0; i < LOC_STRIPES; i++) {
    loc_stripe_t *st = &s->stripes[i];
    pthread_rwlock_wrlock(&st->lock);
    removed += loc_index_sweep(&st->ix, now);
    pthread_rwlock_unlock(&st->lock);
  }
  if (removed > 0)
    loc_db_request_expiry(&s->db, now);
}

static void store_on_sweep_timer(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  store_sweep(arg);
  store_gauges(arg); /* saves in other workers changed them meanwhile */
}

/* ---- the service ---------------------------------------------------------------- */

static int store_lookup(void *ctx, const char *aor, su_home_t *home,
                        tz_binding_t **out)
{
  if (!aor || !home || !out)
    return -1;
  loc_stripe_t *st = store_stripe(ctx, aor);
  pthread_rwlock_rdlock(&st->lock);
  int n = loc_index_lookup(&st->ix, aor, (long)time(NULL), home, out);
  pthread_rwlock_unlock(&st->lock);
  return n;
}

static int store_valid_set(const tz_binding_t *set, size_t n)
{
  if (n > 0 && !set)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!set[i].contact)
      return 0;
  return 1;
}

/* Makes job's set the AOR's and queues job, with st held exclusively. */
static int store_apply(loc_store_t *s, loc_stripe_t *st, loc_job_t *job)
{
  loc_aor_t *a = loc_index_get(&st->ix, job->key);
  if (!a)
    return -1;
  job->seq = a->seq = ++st->seq;
  a->pending++;
  job->prev = loc_set_hold(a->set);
  loc_index_assign(&st->ix, a, loc_set_hold(job->set));
  /* Still under the lock: the writer commits an AOR's saves in the order
   * their sets went in, so the last one in memory is the last on disk. */
  loc_db_submit(&s->db, job);
  return 0;
}

static int store_save(void *ctx, const char *aor, const tz_binding_t *set,
                      size_t n, tz_location_done_f done, void *arg)
{
  loc_store_t *s = ctx;
  if (s->closing || !aor || !store_valid_set(set, n))
    return -1;
  /* Copying and sorting is the costly part: done before taking the lock. */
  loc_set_t *ns = loc_set_new(set, n);
  loc_job_t *job = ns ? loc_job_new(aor, ns, done, arg) : NULL;
  if (!job) {
    loc_set_release(ns);
    return -1;
  }
  loc_stripe_t *st = store_stripe(s, aor);
  pthread_rwlock_wrlock(&st->lock);
  int rc = store_apply(s, st, job);
  pthread_rwlock_unlock(&st->lock);
  if (rc < 0)
    loc_job_free(job); /* never queued: nobody else saw it */
  return rc;
}

/* One AOR's live bindings, copied out of its stripe. */
typedef struct loc_copy {
  const char *aor;
  tz_binding_t *b;
  int n;
} loc_copy_t;

/* Copies the live AORs of st into home: *out gets them, the return value
 * their count. */
static size_t store_copy_stripe(loc_stripe_t *st, long now, su_home_t *home,
                                loc_copy_t **out)
{
  pthread_rwlock_rdlock(&st->lock);
  loc_copy_t *c = su_alloc(home, (st->ix.naors + 1) * sizeof *c);
  size_t k = 0;
  for (size_t i = 0; c && i < st->ix.nbuckets; i++)
    for (const loc_aor_t *a = st->ix.buckets[i]; a; a = a->next) {
      c[k].n = loc_index_lookup(&st->ix, a->key, now, home, &c[k].b);
      c[k].aor = su_strdup(home, a->key);
      if (c[k].n > 0 && c[k].aor)
        k++;
    }
  pthread_rwlock_unlock(&st->lock);
  *out = c;
  return k;
}

/* cb gets copies and no lock is held meanwhile: writing a long listing
 * for tzctl stalls no save, and cb may even call the store. */
static void store_each(void *ctx,
                       void (*cb)(void *arg, const char *aor,
                                  const tz_binding_t *b, int n),
                       void *arg)
{
  loc_store_t *s = ctx;
  long now = (long)time(NULL);
  for (size_t i = 0; i < LOC_STRIPES; i++) {
    su_home_t home[1];
    loc_copy_t *c;
    su_home_init(home);
    size_t n = store_copy_stripe(&s->stripes[i], now, home, &c);
    for (size_t k = 0; k < n; k++)
      cb(arg, c[k].aor, c[k].b, c[k].n);
    su_home_deinit(home);
  }
}

static unsigned store_pending(void *ctx, const char *aor)
{
  if (!aor)
    return 0;
  loc_stripe_t *st = store_stripe(ctx, aor);
  pthread_rwlock_rdlock(&st->lock);
  const loc_aor_t *a = loc_index_find(&st->ix, aor);
  unsigned n = a ? a->pending : 0;
  pthread_rwlock_unlock(&st->lock);
  return n;
}

static void store_count(void *ctx, unsigned long *aors,
                        unsigned long *bindings)
{
  unsigned long a, b;
  store_sweep(ctx); /* cheap: visits only what expired */
  store_totals(ctx, &a, &b);
  if (aors)
    *aors = a;
  if (bindings)
    *bindings = b;
}

const tz_location_api_t loc_store_api = {
  .lookup = store_lookup,
  .save = store_save,
  .pending = store_pending,
  .each = store_each,
  .count = store_count,
};

/* ---- where the bindings live ---------------------------------------------------- */

#define LOC_DEFAULT_PATH TZ_STATEDIR "/location.db"

/* libpq's connection keywords (the common ones): a db_url that opens with
 * one and '=' is a libpq key=value string, never a file name. libpq
 * itself checks the whole string when the backend opens it. */
static const char *const store_pq_keywords[] = {
  "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
  "service", "sslmode", "connect_timeout", "application_name", "options",
  "target_session_attrs", NULL,
};

static int store_is_pq_keywords(const char *url)
{
  url += strspn(url, " \t");
  size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz_");
  if (n == 0 || url[n + strspn(url + n, " \t")] != '=')
    return 0;
  for (const char *const *k = store_pq_keywords; *k; k++)
    if (strlen(*k) == n && strncmp(url, *k, n) == 0)
      return 1;
  return 0;
}

/* What libpq would take: its two URI schemes or a key=value string. */
static int store_is_postgres(const char *url)
{
  return strncmp(url, "postgresql://", 13) == 0 ||
         strncmp(url, "postgres://", 11) == 0 || store_is_pq_keywords(url);
}

/* The length of url's scheme when it opens with "SCHEME://", else 0. */
static size_t store_scheme_len(const char *url)
{
  size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
  return n > 0 && strncmp(url + n, "://", 3) == 0 ? n : 0;
}

/* db_url: sqlite:PATH or a plain path, or what libpq takes. */
static int store_parse_url(const char *url, const loc_store_ops_t **ops,
                           const char **target, char *err, size_t errlen)
{
  if (strncmp(url, "sqlite:", 7) == 0) {
    *target = url + 7;
    return 0;
  }
  if (store_is_postgres(url)) {
    *ops = &loc_pg_ops;
    *target = url;
    return 0;
  }
  /* The message does not repeat the URL: it may hold a password. */
  size_t n = store_scheme_len(url);
  if (n > 0) {
    snprintf(err, errlen, "location: db_url: unknown database type "
             "\"%.*s\"; use sqlite:PATH or a file path", (int)n, url);
    return -1;
  }
  *target = url;
  return 0;
}

/* The backend and where it keeps the bindings: db_url, else db_path (the
 * older spelling of db_url=sqlite:PATH), else the default file. */
static int store_target_of(const loc_cfg_t *cfg, const loc_store_ops_t **ops,
                           const char **target, char *err, size_t errlen)
{
  *ops = &loc_sqlite_ops;
  *target = cfg->db_path ? cfg->db_path : LOC_DEFAULT_PATH;
  if (!cfg->db_url)
    return 0;
  if (cfg->db_path) {
    snprintf(err, errlen, "location: db_path and db_url are both set; keep "
             "one (db_path=PATH is db_url=sqlite:PATH)");
    return -1;
  }
  return store_parse_url(cfg->db_url, ops, target, err, errlen);
}

/* ---- module life ------------------------------------------------------------------- */

static int store_tune_of(const loc_cfg_t *cfg, loc_tune_t *tune, char *err,
                         size_t errlen)
{
  const char *v = cfg->sync ? cfg->sync : "";
  if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0) {
    snprintf(err, errlen,
             "location: sync must be \"full\" or \"normal\", not \"%s\"", v);
    return -1;
  }
  tune->sync_full = v[0] == 'f';
  tune->batch_max = (size_t)cfg->batch_max;
  tune->busy_ms = (int)cfg->busy_timeout;
  return 0;
}

/* Undoes whatever store_open got to; the last done callbacks run here. */
static void store_close(loc_store_t *s)
{
  s->closing = 1;
  loc_db_stop(&s->db);
  if (loc_db_notify_fd(&s->db) >= 0)
    store_complete(s);
  if (s->sweep_timer)
    tz_timer_stop(s->sweep_timer);
  if (s->watch)
    tz_fd_unwatch(s->watch);
  loc_db_close(&s->db);
  store_stripes_free(s);
  free(s->path);
  free(s);
}

/* loc_load_f: the startup load's AORs into their stripes. */
static int store_load_aor(void *arg, const char *key, loc_set_t *set)
{
  loc_stripe_t *st = store_stripe(arg, key);
  pthread_rwlock_wrlock(&st->lock);
  loc_aor_t *a = loc_index_get(&st->ix, key);
  if (a)
    loc_index_assign(&st->ix, a, set);
  pthread_rwlock_unlock(&st->lock);
  if (!a)
    loc_set_release(set);
  return a ? 0 : -1;
}

static loc_store_t *store_open(const loc_store_ops_t *ops, const char *path,
                               const loc_tune_t *tune, char *err,
                               size_t errlen)
{
  loc_store_t *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path)) || store_stripes_init(s) < 0) {
    if (s) {
      store_stripes_free(s);
      free(s->path);
    }
    free(s);
    snprintf(err, errlen, "location: out of memory");
    return NULL;
  }
  if (loc_db_open(&s->db, ops, path, tune, err, errlen) < 0 ||
      loc_db_load(&s->db, (long)time(NULL), store_load_aor, s, err,
                  errlen) < 0) {
    store_close(s);
    return NULL;
  }
  if (loc_db_start(&s->db) < 0) {
    snprintf(err, errlen, "location: cannot start the writer thread");
    store_close(s);
    return NULL;
  }
  unsigned long aors, bindings;
  store_totals(s, &aors, &bindings);
  tz_log(TZ_LOG_INFO, "location: %lu bindings of %lu AORs loaded from %s",
         bindings, aors, store_where(s));
  return s;
}

/* Moves the timer and the fd watch to inst, whose parameters now rule. */
static int store_adopt(loc_store_t *s, const loc_inst_t *inst)
{
  loc_db_tune(&s->db, &inst->tune);
  if (s->sweep_timer)
    tz_timer_stop(s->sweep_timer);
  if (s->watch)
    tz_fd_unwatch(s->watch);
  s->watch = tz_fd_watch(inst->mod, loc_db_notify_fd(&s->db), TZ_FD_IN,
                         store_on_notify, s);
  s->sweep_timer = tz_timer_start(inst->mod, inst->sweep_ms, 1,
                                  store_on_sweep_timer, s);
  return s->watch && s->sweep_timer ? 0 : -1;
}

static void store_leave(loc_inst_t *inst)
{
  loc_store_t *s = inst->store;
  int was_owner = s->insts == inst;
  for (loc_inst_t **pp = &s->insts; *pp; pp = &(*pp)->next)
    if (*pp == inst) {
      *pp = inst->next;
      break;
    }
  free(inst);
  if (!s->insts) {
    for (loc_store_t **pp = &loc_stores; *pp; pp = &(*pp)->next)
      if (*pp == s) {
        *pp = s->next;
        break;
      }
    store_close(s);
  } else if (was_owner && store_adopt(s, s->insts) < 0) {
    tz_log(TZ_LOG_ERR, "location: %s: cannot move the writer's timer and "
           "watch; saves will not be acknowledged", store_where(s));
  }
}

static loc_store_t *store_find(const loc_store_ops_t *ops, const char *path)
{
  for (loc_store_t *s = loc_stores; s; s = s->next)
    if (s->db.be->ops == ops && strcmp(s->path, path) == 0)
      return s;
  return NULL;
}

static int location_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  const loc_cfg_t *cfg = tz_mod_cfg(mod);
  loc_inst_t *inst = calloc(1, sizeof *inst);
  if (!inst) {
    snprintf(err, errlen, "location: out of memory");
    return -1;
  }
  inst->mod = mod;
  inst->sweep_ms = (unsigned)cfg->expiry_interval * 1000;
  const loc_store_ops_t *ops;
  const char *target;
  loc_store_t *s = NULL;
  if (store_tune_of(cfg, &inst->tune, err, errlen) < 0 ||
      store_target_of(cfg, &ops, &target, err, errlen) < 0 ||
      (!(s = store_find(ops, target)) &&
       !(s = store_open(ops, target, &inst->tune, err, errlen)))) {
    free(inst);
    return -1;
  }
  if (!s->insts) {
    s->next = loc_stores;
    loc_stores = s;
  }
  inst->store = s;
  inst->next = s->insts;
  s->insts = inst;
  if (store_adopt(s, inst) < 0 ||
      tz_service_register(mod, TZ_LOCATION_SERVICE, TZ_LOCATION_API_VERSION,
                          &loc_store_api, s) < 0 ||
      loc_ctl_register(mod) < 0) {
    store_leave(inst);
    snprintf(err, errlen, "location: cannot register with the event loop");
    return -1;
  }
  tz_mod_set_data(mod, inst);
  store_gauges(s);
  return 0;
}

void *loc_instance_store(tz_modinst_t *mod)
{
  const loc_inst_t *inst = tz_mod_data(mod);
  return inst->store;
}

/* The parameters alone, nothing opened: what trapezoid -c can say. */
static int location_check(tz_modinst_t *mod, char *err, size_t errlen)
{
  const loc_cfg_t *cfg = tz_mod_cfg(mod);
  loc_tune_t tune;
  const loc_store_ops_t *ops;
  const char *target;
  if (store_tune_of(cfg, &tune, err, errlen) < 0 ||
      store_target_of(cfg, &ops, &target, err, errlen) < 0)
    return -1;
  return ops == &loc_pg_ops ? loc_pg_check_url(target, err, errlen) : 0;
}

static void location_destroy(tz_modinst_t *mod)
{
  store_leave(tz_mod_data(mod));
  tz_mod_set_data(mod, NULL);
}

static const tz_param_export_t location_params[] = {
  /* No default in the table: unset must be told from set, for db_url. */
  {.name = "db_path",
   .type = TZ_PARAM_STR,
   .offset = offsetof(loc_cfg_t, db_path),
   .doc = "sqlite database file of the bindings (unset: " LOC_DEFAULT_PATH
          "); the same as db_url=sqlite:PATH"},
  {.name = "db_url",
   .type = TZ_PARAM_STR,
   .offset = offsetof(loc_cfg_t, db_url),
   .secret = 1,
   .doc = "where the bindings live, instead of db_path: sqlite:PATH, a "
          "file path, or a PostgreSQL URL or libpq key=value string (a farm "
          "of nodes sharing one store)"},
  {.name = "sync",
   .type = TZ_PARAM_STR,
   .offset = offsetof(loc_cfg_t, sync),
   .str_default = "full",
   .doc = "\"full\": each commit survives power loss; \"normal\": a process crash"},
  {.name = "batch_max",
   .type = TZ_PARAM_INT,
   .offset = offsetof(loc_cfg_t, batch_max),
   .int_default = 1000,
   .min = 1,
   .max = 100000,
   .doc = "most saves committed in one sqlite transaction"},
  {.name = "expiry_interval",
   .type = TZ_PARAM_INT,
   .offset = offsetof(loc_cfg_t, expiry_interval),
   .int_default = 10,
   .min = 1,
   .max = 3600,
   .doc = "seconds between sweeps of expired bindings"},
  {.name = "busy_timeout",
   .type = TZ_PARAM_INT,
   .offset = offsetof(loc_cfg_t, busy_timeout),
   .int_default = 5000,
   .max = 600000,
   .doc = "milliseconds a commit waits for another process's lock before failing"},
  {0}
};

const tz_module_t location_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "location",
  .version = "1",
  .description = "binding store: memory index, durable in sqlite or PostgreSQL",
  .cfg_size = sizeof(loc_cfg_t),
  .params = location_params,
  .check = location_check,
  .init = location_init,
  .destroy = location_destroy,
  .flags = TZ_MOD_WORKERS,
};
