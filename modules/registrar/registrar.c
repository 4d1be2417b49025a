/*
 * registrar.c - REGISTER processing (RFC 3261 section 10.3) and location
 * lookups for the script: save(), lookup(), registered().
 *
 * The registrar decides; the binding store (the "location" service, see
 * <trapezoid/location.h>) keeps. save() computes the AOR's complete new binding set,
 * hands it to the store, and suspends the request: the 200 OK goes out only
 * once the store reports the change durable.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include <trapezoid/location.h>
#include "reg.h"

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
  struct reg_job *next, **prevp; /* in reg_state_t.jobs; prevp NULL: orphan */
  tz_suspended_t *req;
  tz_modinst_t *mod;
  char *aor;
  char *path; /* echoed in the 200 (RFC 3327) */
} reg_job_t;

static reg_state_t *reg_state(tz_modinst_t *mod) { return tz_mod_data(mod); }

static void reg_job_free(reg_job_t *job)
{
  if (job->prevp && (*job->prevp = job->next))
    job->next->prevp = job->prevp;
  free(job->aor);
  free(job->path);
  free(job);
}

/* After the store committed (or failed): answer the suspended REGISTER
 * with every current binding, or 500 when nothing could be stored. */
static void reg_on_saved(void *arg, int status)
{
  reg_job_t *job = arg;
  if (!job->prevp) {
    /* the registrar instance is gone (shutdown): nobody to answer for */
    tz_suspended_drop(job->req);
  } else if (status < 0) {
    tz_log(TZ_LOG_ERR, "registrar: bindings of %s not stored", job->aor);
    tz_suspended_reply(job->req, 500, "Bindings Not Stored", NULL);
  } else {
    reg_reply_bindings(reg_state(job->mod), job->req, NULL, job->aor,
                       job->path);
  }
  reg_job_free(job);
}

static int reg_save(tz_msg_t *m, const tz_call_t *c)
{
  reg_state_t *st = reg_state(c->mod);
  reg_change_t ch;
  int rc = reg_compute(st, m, &ch);
  if (rc <= 0)
    return rc; /* already answered (error or query) or script error */
  if (!ch.changed) {
    /* A retransmission whose original is still being stored: the
     * original's 200 answers it, and must not be beaten by this one. */
    if (tz_msg_sip(m)->sip_contact && st->loc->pending(st->loc_ctx, ch.aor))
      return 1;
    reg_reply_bindings(st, NULL, m, ch.aor, ch.path);
    return 1;
  }
  reg_job_t *job = calloc(1, sizeof *job);
  if (!job || !(job->aor = strdup(ch.aor)) ||
      (ch.path && !(job->path = strdup(ch.path)))) {
    if (job)
      reg_job_free(job);
    tz_msg_reply(m, 500, "Out Of Memory", NULL);
    return -1;
  }
  job->mod = c->mod;
  if ((job->next = st->jobs))
    st->jobs->prevp = &job->next;
  job->prevp = &st->jobs;
  st->jobs = job;
  job->req = tz_msg_suspend(m);
  if (!job->req ||
      st->loc->save(st->loc_ctx, ch.aor, ch.set, ch.n, reg_on_saved, job) < 0) {
    if (job->req)
      tz_suspended_reply(job->req, 500, "Bindings Not Stored", NULL);
    else
      tz_msg_reply(m, 500, "Bindings Not Stored", NULL);
    reg_job_free(job);
    return -1;
  }
  return 1;
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
    tz_log(TZ_LOG_ERR, "registrar: stored contact '%s' does not parse",
           b[0].contact);
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
  for (reg_job_t *job = st->jobs, *next; job; job = next) {
    next = job->next;
    job->prevp = NULL;
    job->mod = NULL;
  }
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
};
