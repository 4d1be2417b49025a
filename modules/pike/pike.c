/*
 * pike.c - flood limiting per source address (like Kamailio's pike):
 * pike_check_req() counts each request against its source's sliding
 * window and refuses the source for block_time once it crosses
 * reqs_density; pike.list shows who is blocked. The table itself is in
 * pike_table.c.
 *
 * Locking rule: pike_check_req() runs in every worker at once against the
 * instance's one table, which locks itself (pike_table.h); the sweep timer
 * and pike.list run in worker 0. The rest of the state is fixed at init.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include <trapezoid/json.h>
#include "pike_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct pike_cfg {
  long window, density, block_time, max_sources;
  char *mode;
} pike_cfg_t;

/* What to do with a request from a source over its limit. */
typedef enum { PIKE_MODE_SCRIPT, PIKE_MODE_DROP, PIKE_MODE_503 } pike_mode_t;

typedef struct pike_state {
  pike_table_t table;
  pike_mode_t mode;
  tz_stat_t *st_blocked, *st_dropped, *st_sources;
  tz_timer_t *sweep;
} pike_state_t;

static uint64_t pike_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int pike_mode_parse(const char *s, pike_mode_t *mode)
{
  if (strcmp(s, "script") == 0)
    *mode = PIKE_MODE_SCRIPT;
  else if (strcmp(s, "drop") == 0)
    *mode = PIKE_MODE_DROP;
  else if (strcmp(s, "503") == 0)
    *mode = PIKE_MODE_503;
  else
    return -1;
  return 0;
}

/* Over the limit: the script decides, or the request is dropped, or it
 * gets 503 with the block's remaining time as Retry-After (never an ACK:
 * it cannot be answered). */
static int pike_refuse(tz_msg_t *m, const pike_state_t *st, uint64_t left_ms)
{
  if (st->mode == PIKE_MODE_SCRIPT)
    return -1;
  if (st->mode == PIKE_MODE_503 &&
      tz_msg_sip(m)->sip_request->rq_method != sip_method_ack) {
    char hdr[40];
    snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n",
             (unsigned)((left_ms + 999) / 1000));
    tz_msg_reply(m, 503, "Service Unavailable", hdr);
  }
  return 0;
}

static int pike_check_req(tz_msg_t *m, const tz_call_t *c)
{
  pike_state_t *st = tz_mod_data(c->mod);
  pike_addr_t a;
  if (pike_addr_parse(tz_msg_src_ip(m), &a) < 0)
    return 1;
  uint64_t now = pike_now_ms(), until;
  pike_verdict_t v = pike_table_hit(&st->table, &a, now, &until);
  if (v == PIKE_PASS)
    return 1;
  if (v == PIKE_BLOCK) {
    tz_stat_add(st->st_blocked, 1);
    tz_sip_log(tz_msg_sip(m), TZ_LOG_WARN,
               "pike: blocking %s for %u s: over %u requests in %u s",
           tz_msg_src_ip(m), st->table.block_ms / 1000, st->table.density,
           st->table.window_ms / 1000);
  }
  tz_stat_add(st->st_dropped, 1);
  return pike_refuse(m, st, until - now);
}

static void pike_on_sweep(tz_modinst_t *mod, void *arg)
{
  pike_state_t *st = arg;
  (void)mod;
  pike_table_sweep(&st->table, pike_now_ms());
  tz_stat_set(st->st_sources, (long)pike_table_used(&st->table));
}

/* What pike.list writes each blocked source with. */
typedef struct pike_list {
  tz_jbuf_t *out;
  const pike_table_t *table;
  uint64_t now;
} pike_list_t;

static void pike_list_entry(const pike_entry_t *e, void *arg)
{
  const pike_list_t *l = arg;
  char ip[64];
  pike_addr_format(&e->addr, ip, sizeof ip);
  tz_jw_obj_begin(l->out);
  tz_jw_key(l->out, "source");
  tz_jw_str(l->out, ip);
  tz_jw_key(l->out, "remaining");
  tz_jw_num(l->out, (double)(e->blocked_until - l->now) / 1000.0);
  tz_jw_key(l->out, "rate");
  tz_jw_int(l->out, pike_entry_rate(l->table, e, l->now));
  tz_jw_key(l->out, "dropped");
  tz_jw_int(l->out, (long long)e->dropped);
  tz_jw_obj_end(l->out);
}

/* The blocked sources: [{"source","remaining" (s),"rate","dropped"}]. */
static int pike_rpc_list(tz_modinst_t *mod, const tz_json_t *params,
                         tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params;
  (void)err;
  (void)errlen;
  pike_state_t *st = tz_mod_data(mod);
  pike_list_t l = {out, &st->table, pike_now_ms()};
  tz_jw_arr_begin(out);
  pike_table_each_blocked(&st->table, l.now, pike_list_entry, &l);
  tz_jw_arr_end(out);
  return 0;
}

static uint64_t pike_seed(void)
{
  uint64_t seed;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
    seed = pike_now_ms() ^ ((uint64_t)(uintptr_t)&seed << 16);
  return seed;
}

static void pike_destroy(tz_modinst_t *mod)
{
  pike_state_t *st = tz_mod_data(mod);
  if (!st)
    return;
  if (st->sweep)
    tz_timer_stop(st->sweep);
  pike_table_free(&st->table);
  free(st);
  tz_mod_set_data(mod, NULL);
}

/* Sets up everything but the registrations, which the core undoes if
 * init fails; destroy is not called then, so this frees its own. */
static int pike_state_new(tz_modinst_t *mod, char *err, size_t errlen)
{
  const pike_cfg_t *cfg = tz_mod_cfg(mod);
  pike_state_t *st = calloc(1, sizeof *st);
  pike_mode_t mode;
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (pike_mode_parse(cfg->mode, &mode) < 0) {
    snprintf(err, errlen, "mode must be \"script\", \"drop\" or \"503\", not \"%s\"",
             cfg->mode);
    free(st);
    return -1;
  }
  st->mode = mode;
  if (pike_table_init(&st->table, (size_t)cfg->max_sources,
                      (uint32_t)cfg->window * 1000, (uint32_t)cfg->density,
                      (uint32_t)cfg->block_time * 1000, pike_seed()) < 0) {
    snprintf(err, errlen, "cannot allocate a table for %ld sources",
             cfg->max_sources);
    free(st);
    return -1;
  }
  st->st_blocked = tz_stat_get("pike.blocked", "sources blocked for flooding");
  st->st_dropped = tz_stat_get("pike.dropped",
                               "requests refused from blocked sources");
  st->st_sources = tz_stat_get("pike.sources", "sources being tracked");
  tz_mod_set_data(mod, st);
  return 0;
}

static int pike_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  if (pike_state_new(mod, err, errlen) < 0)
    return -1;
  pike_state_t *st = tz_mod_data(mod);
  st->sweep = tz_timer_start(mod, st->table.window_ms, 1, pike_on_sweep, st);
  if (!st->sweep ||
      tz_rpc_register(mod, "pike.list", pike_rpc_list,
                      "the sources blocked for flooding") < 0) {
    snprintf(err, errlen, "cannot start the sweep timer or register pike.list");
    pike_destroy(mod);
    return -1;
  }
  return 0;
}

static const tz_param_export_t pike_params[] = {
  {.name = "window",
   .type = TZ_PARAM_INT,
   .offset = offsetof(pike_cfg_t, window),
   .int_default = 2,
   .min = 1,
   .max = 3600,
   .doc = "seconds over which requests are counted (a sliding window)"},
  {.name = "reqs_density",
   .type = TZ_PARAM_INT,
   .offset = offsetof(pike_cfg_t, density),
   .int_default = 30,
   .min = 1,
   .max = 10000000,
   .doc = "requests per window a source may send; more blocks it"},
  {.name = "block_time",
   .type = TZ_PARAM_INT,
   .offset = offsetof(pike_cfg_t, block_time),
   .int_default = 60,
   .min = 1,
   .max = 86400,
   .doc = "seconds a source stays blocked (longer while it keeps flooding)"},
  {.name = "max_sources",
   .type = TZ_PARAM_INT,
   .offset = offsetof(pike_cfg_t, max_sources),
   .int_default = 65536,
   .min = 16,
   .max = 1L << 24,
   .doc = "sources tracked at once (rounded up to a power of two; allocated at start)"},
  {.name = "mode",
   .type = TZ_PARAM_STR,
   .offset = offsetof(pike_cfg_t, mode),
   .str_default = "script",
   .doc = "over the limit: \"script\" (return false), \"drop\" (stop, send nothing) "
          "or \"503\" (answer 503 with Retry-After, stop)"},
  {0}
};

static const tz_func_export_t pike_funcs[] = {
  {.name = "pike_check_req",
   .handler = pike_check_req,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "count the request against its source; false (or drop/503, per "
          "mode) if the source is over its limit"},
  {0}
};

const tz_module_t pike_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "pike",
  .version = "1",
  .description = "flood limiting per source address",
  .cfg_size = sizeof(pike_cfg_t),
  .params = pike_params,
  .funcs = pike_funcs,
  .init = pike_init,
  .destroy = pike_destroy,
  .flags = TZ_MOD_WORKERS,
};
