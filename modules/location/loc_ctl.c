/*
 * loc_ctl.c - the location module's control commands (location.show,
 * location.remove, location.count for tzctl) and its gauges
 * (location.aors, location.bindings), over the store behind the service
 * this instance registered.
 *
 * Locking rule: commands run in worker 0 and reach the index only through
 * loc_store_api, which takes the store's locks; the gauges are set in
 * worker 0 alone, so their lazily made counters need none.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <trapezoid/json.h>

enum { CTL_INVALID_PARAMS = -32602, CTL_INTERNAL = -32603 };

static void ctl_write_binding(tz_jbuf_t *out, const tz_binding_t *b, long now)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "contact");
  tz_jw_str(out, b->contact);
  tz_jw_key(out, "expires");
  tz_jw_int(out, b->expires - now);
  tz_jw_key(out, "q");
  if (b->q < 0)
    tz_jw_null(out);
  else
    tz_jw_num(out, b->q / 1000.0);
  const struct {
    const char *key, *value;
  } text[] = {{"received", b->received}, {"path", b->path},
              {"user_agent", b->user_agent}, {"callid", b->callid}};
  for (size_t i = 0; i < sizeof text / sizeof *text; i++) {
    tz_jw_key(out, text[i].key);
    tz_jw_str(out, text[i].value);
  }
  tz_jw_key(out, "cseq");
  tz_jw_int(out, (long long)b->cseq);
  tz_jw_obj_end(out);
}

static void ctl_write_aor(void *arg, const char *aor, const tz_binding_t *b,
                          int n)
{
  tz_jbuf_t *out = arg;
  long now = (long)time(NULL);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "aor");
  tz_jw_str(out, aor);
  tz_jw_key(out, "bindings");
  tz_jw_arr_begin(out);
  for (int i = 0; i < n; i++)
    ctl_write_binding(out, &b[i], now);
  tz_jw_arr_end(out);
  tz_jw_obj_end(out);
}

static int ctl_show(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out,
                    char *err, size_t len)
{
  (void)err;
  (void)len;
  void *ctx = loc_instance_store(mod);
  const char *aor = tz_json_param_str(p, "aor", 0);
  tz_jw_arr_begin(out);
  if (!aor) {
    loc_store_api.each(ctx, ctl_write_aor, out);
  } else {
    su_home_t home[1];
    tz_binding_t *b = NULL;
    su_home_init(home);
    int n = loc_store_api.lookup(ctx, aor, home, &b);
    if (n > 0)
      ctl_write_aor(out, aor, b, n);
    su_home_deinit(home);
  }
  tz_jw_arr_end(out);
  return 0;
}

static void ctl_removed(void *arg, int status)
{
  char *aor = arg;
  if (status < 0)
    tz_log(TZ_LOG_ERR, "location: removal of %s (tzctl) not stored", aor);
  free(aor);
}

static int ctl_remove(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out,
                      char *err, size_t len)
{
  void *ctx = loc_instance_store(mod);
  const char *aor = tz_json_param_str(p, "aor", 0);
  if (!aor) {
    snprintf(err, len, "missing string parameter 'aor'");
    return CTL_INVALID_PARAMS;
  }
  su_home_t home[1];
  tz_binding_t *b = NULL;
  su_home_init(home);
  int n = loc_store_api.lookup(ctx, aor, home, &b);
  su_home_deinit(home);
  char *copy = n > 0 ? strdup(aor) : NULL;
  if (n > 0 && (!copy || loc_store_api.save(ctx, aor, NULL, 0, ctl_removed, copy) < 0)) {
    free(copy);
    snprintf(err, len, "cannot remove the bindings of %s", aor);
    return CTL_INTERNAL;
  }
  tz_jw_obj_begin(out);
  tz_jw_key(out, "removed");
  tz_jw_int(out, n > 0 ? n : 0);
  tz_jw_obj_end(out);
  return 0;
}

static int ctl_count(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out,
                     char *err, size_t len)
{
  (void)p;
  (void)err;
  (void)len;
  unsigned long aors = 0, bindings = 0;
  loc_store_api.count(loc_instance_store(mod), &aors, &bindings);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "aors");
  tz_jw_int(out, (long long)aors);
  tz_jw_key(out, "bindings");
  tz_jw_int(out, (long long)bindings);
  tz_jw_obj_end(out);
  return 0;
}

int loc_ctl_register(tz_modinst_t *mod)
{
  return tz_rpc_register(mod, "location.show", ctl_show,
                         "bindings of {aor}, or of every AOR") < 0 ||
                 tz_rpc_register(mod, "location.remove", ctl_remove,
                                 "remove every binding of {aor}") < 0 ||
                 tz_rpc_register(mod, "location.count", ctl_count,
                                 "AORs and bindings") < 0
             ? -1
             : 0;
}

void loc_gauges_set(unsigned long aors, unsigned long bindings)
{
  static tz_stat_t *st_aors, *st_bindings;
  assert(tz_worker_self() == 0);
  if (!st_aors) {
    st_aors = tz_stat_get("location.aors", "AORs with a live binding");
    st_bindings = tz_stat_get("location.bindings", "live bindings");
  }
  tz_stat_set(st_aors, (long)aors);
  tz_stat_set(st_bindings, (long)bindings);
}

void loc_link_gauges_set(const loc_link_t *link)
{
  static tz_stat_t *st_connected, *st_reconnects;
  assert(tz_worker_self() == 0);
  if (!st_connected) {
    st_connected = tz_stat_get("location.db.connected",
                               "1 while the database answers, else 0");
    st_reconnects = tz_stat_get("location.db.reconnects",
                                "connections to the database made again "
                                "after one was lost");
  }
  tz_stat_set(st_connected, link->connected);
  tz_stat_set(st_reconnects, (long)link->reconnects);
}
