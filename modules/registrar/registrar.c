/*
 * registrar.c - REGISTER processing (RFC 3261 section 10.3) and location
 * lookups for the script: save(), lookup(), registered().
 *
 * The registrar decides; the binding store (the "location" service, see
 * <trapezoid/location.h>) keeps. save() computes the AOR's complete new binding set,
 * hands it to the store, and suspends the request: the 200 OK goes out only
 * once the store reports the change durable.
 *
 * Locking rule: save() runs in every worker; from its lookup of the AOR's
 * bindings until the store has the new set it holds the AOR's lock (one of
 * reg_aor_locks, by hash), so two REGISTERs of one AOR never both start
 * from the same old set and lose one's change. The locks are file-scope,
 * shared by every instance: during a reload two generations' instances
 * save side by side. reg_jobs_lock guards every instance's job list and the
 * jobs' links; it outlives the instances, since a save may complete after
 * its instance is gone. Lock order: an AOR's lock, then reg_jobs_lock or
 * the store's; nothing is taken under reg_jobs_lock. A job is otherwise one
 * thread's at a time: its worker's until the store has it, worker 0's in
 * the store's done callback, then its worker's again to answer.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include <trapezoid/location.h>
#include "reg.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>

static const char *const reg_deps[] = {"location", NULL};

/* One save in flight: the request waits for the store. */
typedef struct reg_job {
  struct reg_job *next, **prevp; /* in reg_state_t.jobs, or prevp NULL */
  tz_suspended_t *req;
  tz_modinst_t *mod;
  unsigned worker; /* the request's: where it is answered */
  int status;      /* the store's verdict, on its way to that worker */
  char *aor;
  char *path; /* echoed in the 200 (RFC 3327) */
} reg_job_t;

static reg_state_t *reg_state(tz_modinst_t *mod) { return tz_mod_data(mod); }

/* ---- locks ---------------------------------------------------------------- */

#define REG_AOR_LOCKS 64
static pthread_mutex_t reg_aor_locks[REG_AOR_LOCKS];
static pthread_once_t reg_aor_locks_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reg_jobs_lock = PTHREAD_MUTEX_INITIALIZER;

static void reg_aor_locks_init(void)
{
  for (size_t i = 0; i < REG_AOR_LOCKS; i++)
    pthread_mutex_init(&reg_aor_locks[i], NULL);
}

static pthread_mutex_t *reg_aor_lock(const char *aor)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)aor; *p; p++)
    h = (h ^ *p) * 16777619u;
  return &reg_aor_locks[h % REG_AOR_LOCKS];
}

/* ---- jobs ----------------------------------------------------------------- */

static reg_job_t *reg_job_new(tz_modinst_t *mod, const reg_change_t *ch)
{
  reg_job_t *job = calloc(1, sizeof *job);
  if (!job || !(job->aor = strdup(ch->aor)) ||
      (ch->path && !(job->path = strdup(ch->path)))) {
    if (job)
      free(job->aor);
    free(job);
    return NULL;
  }
  job->mod = mod;
  job->worker = tz_worker_self();
  return job;
}

static void reg_job_link(reg_state_t *st, reg_job_t *job)
{
  pthread_mutex_lock(&reg_jobs_lock);
  if ((job->next = st->jobs))
    st->jobs->prevp = &job->next;
  job->prevp = &st->jobs;
  st->jobs = job;
  pthread_mutex_unlock(&reg_jobs_lock);
}

/* Takes job off its instance's list; 0 if reg_destroy already had. */
static int reg_job_unlink(reg_job_t *job)
{
  pthread_mutex_lock(&reg_jobs_lock);
  int linked = job->prevp != NULL;
  if (linked && (*job->prevp = job->next))
    job->next->prevp = job->prevp;
  job->prevp = NULL;
  pthread_mutex_unlock(&reg_jobs_lock);
  return linked;
}

static void reg_job_free(reg_job_t *job)
{
  assert(!job->prevp);
  free(job->aor);
  free(job->path);
  free(job);
}

/* ---- save ----------------------------------------------------------------- */

/* In the request's worker: answers the suspended REGISTER with every
 * current binding, or 500 when nothing could be stored. Its instance is
 * alive: the suspended request pins its generation until this answer. */
/* Seconds a UA waits after a REGISTER the store could not keep: longer
 * than the location module's first reconnect attempts. */
#define REG_RETRY_AFTER "5"

static void reg_answer(void *arg)
{
  reg_job_t *job = arg;
  if (job->status == TZ_LOCATION_STALE) {
    /* Another proxy of the farm stored a newer REGISTER of this Call-ID
     * (RFC 3261 10.3), as reg_save.c answers one it sees itself. */
    tz_suspended_reply(job->req, 500, "Stale CSeq", NULL);
  } else if (job->status < 0) {
    /* The store is down or refused (disk full, database unreachable): the
     * UA may try again later, and must not take silence for success. */
    tz_sip_log(tz_suspended_sip(job->req), TZ_LOG_ERR,
               "registrar: bindings of %s not stored", job->aor);
    tz_suspended_reply(job->req, 500, "Bindings Not Stored",
                       "Retry-After: " REG_RETRY_AFTER "\r\n");
  } else {
    reg_reply_bindings(reg_state(job->mod), job->req, NULL, job->aor,
                       job->path);
  }
  reg_job_free(job);
}

/* The store's done callback, in worker 0. The answer goes back to the
 * request's worker, which also spares worker 0 a lookup and a reply for
 * every REGISTER of every worker. */
static void reg_on_saved(void *arg, int status)
{
  reg_job_t *job = arg;
  if (!reg_job_unlink(job)) {
    /* the registrar instance is gone (shutdown): nobody to answer for */
    tz_suspended_drop(job->req);
    reg_job_free(job);
    return;
  }
  job->status = status;
  if (tz_worker_post(job->worker, reg_answer, job) < 0)
    reg_answer(job); /* the core hands the reply over, or drops it when
                        that worker is stopping */
}

/* Suspends the request and hands the new set to the store, whose done
 * callback has it answered. With the AOR's lock held. */
static int reg_store(reg_state_t *st, tz_modinst_t *mod, tz_msg_t *m,
                     const reg_change_t *ch)
{
  reg_job_t *job = reg_job_new(mod, ch);
  if (!job) {
    tz_msg_reply(m, 500, "Out Of Memory", NULL);
    return -1;
  }
  reg_job_link(st, job);
  job->req = tz_msg_suspend(m);
  /* Once save() took it the job is worker 0's: not touched again here. */
  if (job->req && st->loc->save(st->loc_ctx, ch->aor, ch->set, ch->n,
                                reg_on_saved, job) == 0)
    return 1;
  if (job->req)
    tz_suspended_reply(job->req, 500, "Bindings Not Stored", NULL);
  else
    tz_msg_reply(m, 500, "Bindings Not Stored", NULL);
  reg_job_unlink(job);
  reg_job_free(job);
  return -1;
}

/* Nothing to store: a query, or a retransmission. */
static void reg_answer_unchanged(reg_state_t *st, tz_msg_t *m,
                                 const reg_change_t *ch)
{
  /* A retransmission whose original is still being stored: the
   * original's 200 answers it, and must not be beaten by this one. */
  if (tz_msg_sip(m)->sip_contact && st->loc->pending(st->loc_ctx, ch->aor))
    return;
  reg_reply_bindings(st, NULL, m, ch->aor, ch->path);
}

static int reg_save(tz_msg_t *m, const tz_call_t *c)
{
  reg_state_t *st = reg_state(c->mod);
  reg_change_t ch;
  if (reg_check(st, m, &ch) < 0)
    return -1; /* already answered, or a script error */
  pthread_mutex_t *lock = reg_aor_lock(ch.aor);
  pthread_mutex_lock(lock);
  int rc = reg_compute(st, m, &ch);
  if (rc > 0 && ch.changed)
    rc = reg_store(st, c->mod, m, &ch);
  pthread_mutex_unlock(lock);
  if (rc > 0 && !ch.changed)
    reg_answer_unchanged(st, m, &ch);
  return rc;
}

/* ---- lookup ------------------------------------------------------------- */

/* The next hop for a binding: its source address when the UA is behind a
 * NAT, i.e. its Contact names another host than the one the REGISTER came
 * from (a private address). A UA that merely sends from another port than
 * it listens on is reached at its Contact. With a Path, the route set
 * decides instead. */
static const char *reg_binding_dst(const tz_binding_t *b, su_home_t *home)
{
  if (b->path || !b->received)
    return NULL;
  url_t *c = url_make(home, b->contact);
  url_t *r = url_make(home, b->received);
  if (!c || !r || !c->url_host || !r->url_host ||
      strcasecmp(c->url_host, r->url_host) == 0)
    return NULL;
  return b->received;
}

/* RFC 3327: the Path of the binding becomes the request's preloaded
 * route set, ahead of any Route it already has. */
static int reg_preload_path(tz_msg_t *m, const char *path)
{
  msg_t *msg = tz_msg_sofia(m);
  sip_route_t *r = sip_route_make(msg_home(msg), path);
  if (!r)
    return -1;
  return msg_header_insert(msg, (msg_pub_t *)tz_msg_sip(m),
                           (msg_header_t *)r);
}

static int reg_lookup_aor(tz_msg_t *m, const tz_call_t *c, tz_binding_t **out)
{
  reg_state_t *st = reg_state(c->mod);
  char aor[512];
  sip_t *sip = tz_msg_sip(m);
  if (!sip->sip_request ||
      reg_aor_of(st->cfg, sip->sip_request->rq_url, aor, sizeof aor) < 0)
    return -1;
  return st->loc->lookup(st->loc_ctx, aor, tz_msg_home(m), out);
}

static int reg_lookup(tz_msg_t *m, const tz_call_t *c)
{
  tz_binding_t *b;
  int n = reg_lookup_aor(m, c, &b);
  if (n <= 0)
    return -1;
  su_home_t *home = tz_msg_home(m);
  if (tz_msg_set_ruri(m, b[0].contact) < 0) {
    tz_sip_log(tz_msg_sip(m), TZ_LOG_ERR,
               "registrar: stored contact '%s' does not parse", b[0].contact);
    return -1;
  }
  tz_msg_set_dst(m, reg_binding_dst(&b[0], home));
  if (b[0].path && reg_preload_path(m, b[0].path) < 0)
    return -1;
  for (int i = 1; i < n; i++)
    if (tz_msg_add_branch(m, b[i].contact, reg_binding_dst(&b[i], home),
                          b[i].path, b[i].q) < 0)
      break; /* more contacts than branches: the best ones win */
  return 1;
}

static int reg_registered(tz_msg_t *m, const tz_call_t *c)
{
  tz_binding_t *b;
  return reg_lookup_aor(m, c, &b) > 0 ? 1 : -1;
}

/* ---- module glue ------------------------------------------------------- */

static int reg_fix_table(tz_modinst_t *mod, int idx, tz_arg_t *arg, char *err,
                         size_t errlen)
{
  (void)mod;
  (void)idx;
  if (strcmp(arg->s, TZ_LOCATION_SERVICE) != 0) {
    snprintf(err, errlen, "unknown location table '%s' (the location module "
             "provides '" TZ_LOCATION_SERVICE "')", arg->s);
    return -1;
  }
  return 0;
}

static int reg_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  pthread_once(&reg_aor_locks_once, reg_aor_locks_init);
  reg_state_t *st = calloc(1, sizeof *st);
  if (!st)
    return -1;
  st->cfg = tz_mod_cfg(mod);
  st->loc = tz_service_get(TZ_LOCATION_SERVICE, TZ_LOCATION_API_VERSION,
                           &st->loc_ctx);
  if (!st->loc) {
    snprintf(err, errlen, "registrar: no location service (version %d)",
             TZ_LOCATION_API_VERSION);
    free(st);
    return -1;
  }
  if (st->cfg->min_expires > st->cfg->max_expires) {
    snprintf(err, errlen, "registrar: min_expires %ld is above max_expires %ld",
             st->cfg->min_expires, st->cfg->max_expires);
    free(st);
    return -1;
  }
  tz_mod_set_data(mod, st);
  return 0;
}

/* Saves still in the store outlive us: orphan them, the store's done
 * callback then only lets go of the request. */
static void reg_destroy(tz_modinst_t *mod)
{
  reg_state_t *st = tz_mod_data(mod);
  pthread_mutex_lock(&reg_jobs_lock);
  for (reg_job_t *job = st->jobs, *next; job; job = next) {
    next = job->next;
    job->prevp = NULL;
  }
  pthread_mutex_unlock(&reg_jobs_lock);
  free(st);
}

static const tz_param_export_t reg_params[] = {
  {.name = "default_expires",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, default_expires),
   .int_default = 3600,
   .min = 1,
   .max = 31536000,
   .doc = "expires when neither Contact nor Expires gives one"},
  {.name = "min_expires",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, min_expires),
   .int_default = 60,
   .max = 86400,
   .doc = "shorter non-zero expires get 423 Interval Too Brief"},
  {.name = "max_expires",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, max_expires),
   .int_default = 3600,
   .min = 1,
   .max = 31536000,
   .doc = "longer expires are lowered to this"},
  {.name = "max_contacts",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, max_contacts),
   .max = 1000,
   .doc = "bindings per AOR; 0 = no limit"},
  {.name = "max_contacts_reject",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, max_contacts_reject),
   .max = 1,
   .doc = "over max_contacts: 0 = replace the oldest bindings, 1 = 403"},
  {.name = "use_domain",
   .type = TZ_PARAM_INT,
   .offset = offsetof(reg_cfg_t, use_domain),
   .int_default = 1,
   .max = 1,
   .doc = "1 = the AOR key is user@domain; 0 = the user part alone, so one domain "
          "may be reached under several names (its IP, aliases)"},
  {0}
};

/* One constant argument naming the store, checked at load. */
#define REG_TABLE_ARG                                                        \
  .min_args = 1, .max_args = 1, .args = {TZ_ARG_STR}, .const_mask = 1u,      \
  .fixup = reg_fix_table

static const tz_func_export_t reg_funcs[] = {
  {.name = "save",
   .handler = reg_save,
   REG_TABLE_ARG,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "process a REGISTER (RFC 3261 10.3); answers it"},
  {.name = "lookup",
   .handler = reg_lookup,
   REG_TABLE_ARG,
   .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
   .doc = "rewrite the R-URI to the best binding; others become branches"},
  {.name = "registered",
   .handler = reg_registered,
   REG_TABLE_ARG,
   .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
   .doc = "true if the R-URI's AOR has a live binding"},
  {0}
};

const tz_module_t registrar_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "registrar",
  .version = "1",
  .description = "REGISTER processing and location lookups",
  .deps = reg_deps,
  .cfg_size = sizeof(reg_cfg_t),
  .params = reg_params,
  .funcs = reg_funcs,
  .init = reg_init,
  .destroy = reg_destroy,
  .flags = TZ_MOD_WORKERS,
};
