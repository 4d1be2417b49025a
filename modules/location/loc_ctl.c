/*
 * loc_ctl.c - the location module's control commands (location.show,
 * location.add, location.remove, location.count for tzctl) and its gauges
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
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>
#include <trapezoid/json.h>

enum { CTL_INVALID_PARAMS = -32602, CTL_INTERNAL = -32603 };

/* location.add's Call-ID: its bindings are told from a UA's by it, and a
 * later add of the same contact outranks an earlier one by CSeq. */
#define CTL_ADD_CALLID "tzctl-add"
#define CTL_ADD_EXPIRES 3600

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

/* Where a listing goes, and the store it asks how many saves of each AOR
 * are not yet durable. */
typedef struct ctl_listing {
  tz_jbuf_t *out;
  void *ctx;
} ctl_listing_t;

static void ctl_write_aor(void *arg, const char *aor, const tz_binding_t *b,
                          int n)
{
  ctl_listing_t *l = arg;
  long now = (long)time(NULL);
  tz_jw_obj_begin(l->out);
  tz_jw_key(l->out, "aor");
  tz_jw_str(l->out, aor);
  tz_jw_key(l->out, "bindings");
  tz_jw_arr_begin(l->out);
  for (int i = 0; i < n; i++)
    ctl_write_binding(l->out, &b[i], now);
  tz_jw_arr_end(l->out);
  tz_jw_key(l->out, "pending");
  tz_jw_int(l->out, loc_store_api.pending(l->ctx, aor));
  tz_jw_obj_end(l->out);
}

static int ctl_show(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out,
                    char *err, size_t len)
{
  (void)err;
  (void)len;
  ctl_listing_t l = {out, loc_instance_store(mod)};
  const char *aor = tz_json_param_str(p, "aor", 0);
  tz_jw_arr_begin(out);
  if (!aor) {
    loc_store_api.each(l.ctx, ctl_write_aor, &l);
  } else {
    su_home_t home[1];
    tz_binding_t *b = NULL;
    su_home_init(home);
    int n = loc_store_api.lookup(l.ctx, aor, home, &b);
    if (n > 0)
      ctl_write_aor(&l, aor, b, n);
    su_home_deinit(home);
  }
  tz_jw_arr_end(out);
  return 0;
}

/* A command's save in flight. The control layer answers before the writer
 * commits, so nobody waits for the outcome: a failure can only be logged
 * (the store has then put the database's set back in memory). */
typedef struct ctl_save_job {
  const char *what;
  char aor[];
} ctl_save_job_t;

static void ctl_saved(void *arg, int status)
{
  ctl_save_job_t *job = arg;
  if (status < 0)
    tz_log(TZ_LOG_ERR, "location: %s %s (tzctl) not stored", job->what,
           job->aor);
  free(job);
}

/* Saves set as aor's through the store, as a REGISTER would: 0 once
 * queued, -1 when the store refused it (shutting down, out of memory). */
static int ctl_save(void *ctx, const char *aor, const tz_binding_t *set,
                    size_t n, const char *what)
{
  size_t len = strlen(aor) + 1;
  ctl_save_job_t *job = malloc(sizeof *job + len);
  if (!job)
    return -1;
  job->what = what;
  memcpy(job->aor, aor, len);
  if (loc_store_api.save(ctx, aor, set, n, ctl_saved, job) == 0)
    return 0;
  free(job);
  return -1;
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
  if (n > 0 && ctl_save(ctx, aor, NULL, 0, "removal of") < 0) {
    snprintf(err, len, "cannot remove the bindings of %s", aor);
    return CTL_INTERNAL;
  }
  tz_jw_obj_begin(out);
  tz_jw_key(out, "removed");
  tz_jw_int(out, n > 0 ? n : 0);
  tz_jw_obj_end(out);
  return 0;
}

/* ---- location.add ------------------------------------------------------- */

/* What location.add was asked, checked: the AOR's key and the binding,
 * its strings in the command's home. */
typedef struct ctl_add {
  char *key;
  url_t *contact;
  double expires, q; /* as given: q < 0 when not */
  tz_binding_t b;
} ctl_add_t;

static int ctl_bad(char *err, size_t len, const char *key, const char *want)
{
  snprintf(err, len, "'%s' must be %s", key, want);
  return CTL_INVALID_PARAMS;
}

/* text as a sip: or sips: URI with a host, in angle brackets or not;
 * NULL when it is none. */
static url_t *ctl_uri(su_home_t *home, const char *text)
{
  size_t n = text ? strlen(text) : 0;
  char *s = n >= 2 && text[0] == '<' && text[n - 1] == '>'
                ? su_strndup(home, text + 1, n - 2)
                : su_strdup(home, text);
  url_t *u = s ? url_make(home, s) : NULL;
  if (!u || (u->url_type != url_sip && u->url_type != url_sips) ||
      !u->url_host)
    return NULL;
  return u;
}

/* The key a REGISTER with aor in its To is stored under: the registrar's
 * with use_domain 1, its default (user@host, the host lowercased), so the
 * lookup of a request to aor finds it. Text that is no SIP URI is a key
 * already, as location.show prints it (with use_domain 0: the user). */
static char *ctl_aor_key(su_home_t *home, const char *aor)
{
  if (aor[0] != '<' && strncasecmp(aor, "sip:", 4) != 0 &&
      strncasecmp(aor, "sips:", 5) != 0)
    return su_strdup(home, aor);
  url_t *u = ctl_uri(home, aor);
  if (!u)
    return NULL;
  const char *user = u->url_user;
  char *key = su_sprintf(home, "%s%s%s", user ? user : "", user ? "@" : "",
                         u->url_host);
  char *host = key ? key + (user ? strlen(user) + 1 : 0) : NULL;
  for (; host && *host; host++)
    *host = (char)tolower((unsigned char)*host);
  return key;
}

/* params[key] as a string into *v (left alone when absent or null). */
static int ctl_opt_str(const tz_json_t *p, const char *key, const char **v,
                       char *err, size_t len)
{
  const tz_json_t *j = tz_json_get(p, key);
  if (tz_json_type(j) == TZ_JSON_NULL)
    return 0;
  if (!(*v = tz_json_str(j)))
    return ctl_bad(err, len, key, "a string");
  return 0;
}

/* params[key] as a number in [min, max] into *v (left alone when absent
 * or null). */
static int ctl_opt_num(const tz_json_t *p, const char *key, double min,
                       double max, double *v, char *err, size_t len)
{
  const tz_json_t *j = tz_json_get(p, key);
  if (tz_json_type(j) == TZ_JSON_NULL)
    return 0;
  *v = tz_json_num(j);
  if (tz_json_type(j) != TZ_JSON_NUMBER || *v < min || *v > max) {
    char want[64];
    snprintf(want, sizeof want, "a number from %g to %g", min, max);
    return ctl_bad(err, len, key, want);
  }
  return 0;
}

/* aor, contact and received: the URIs. */
static int ctl_add_uris(su_home_t *home, const tz_json_t *p, ctl_add_t *a,
                        char *err, size_t len)
{
  const char *aor = NULL, *contact = NULL, *received = NULL;
  int code = ctl_opt_str(p, "aor", &aor, err, len);
  if (!code && !(aor && *aor && (a->key = ctl_aor_key(home, aor))))
    code = ctl_bad(err, len, "aor", "a SIP URI (sip:user@domain) or a key "
                   "as location.show prints it");
  if (!code && !(code = ctl_opt_str(p, "contact", &contact, err, len)) &&
      !(a->contact = ctl_uri(home, contact)))
    code = ctl_bad(err, len, "contact", "a sip: or sips: URI");
  if (!code && !(code = ctl_opt_str(p, "received", &received, err, len)) &&
      received && !ctl_uri(home, received))
    code = ctl_bad(err, len, "received", "a sip: or sips: URI");
  a->b.received = received;
  return code;
}

/* expires, q and path. */
static int ctl_add_options(su_home_t *home, const tz_json_t *p, ctl_add_t *a,
                           char *err, size_t len)
{
  int code = ctl_opt_num(p, "expires", 1, 0x7fffffff, &a->expires, err, len);
  if (!code)
    code = ctl_opt_num(p, "q", 0, 1, &a->q, err, len);
  /* lookup() preloads the path as Route headers: one that does not parse
   * would fail every call to the AOR. */
  if (!code && !(code = ctl_opt_str(p, "path", &a->b.path, err, len)) &&
      a->b.path && !sip_route_make(home, a->b.path))
    code = ctl_bad(err, len, "path", "Path header values (<sip:...;lr>, ...)");
  return code;
}

/* The whole request: the binding as a REGISTER's save would write it,
 * but for its CSeq, which depends on what it replaces. */
static int ctl_add_parse(su_home_t *home, const tz_json_t *p, ctl_add_t *a,
                         char *err, size_t len)
{
  memset(a, 0, sizeof *a);
  a->expires = CTL_ADD_EXPIRES;
  a->q = -1;
  int code = ctl_add_uris(home, p, a, err, len);
  if (code || (code = ctl_add_options(home, p, a, err, len)))
    return code;
  long now = (long)time(NULL);
  a->b.contact = url_as_string(home, a->contact);
  a->b.callid = CTL_ADD_CALLID;
  a->b.expires = now + (long)a->expires;
  a->b.q = a->q < 0 ? -1 : (int)(a->q * 1000 + 0.5);
  a->b.last_modified = now;
  return a->b.contact ? 0 : CTL_INTERNAL;
}

/* The index in set[0..n) of the binding of contact, compared as the
 * registrar compares Contacts (RFC 3261 19.1.4), else n. */
static size_t ctl_find(su_home_t *home, const tz_binding_t *set, size_t n,
                       const url_t *contact)
{
  for (size_t i = 0; i < n; i++) {
    url_t *u = url_make(home, set[i].contact);
    if (u && url_cmp_all(u, contact) == 0)
      return i;
  }
  return n;
}

/* A CSeq that beats old's when old is an add's too (a shared store orders
 * one Call-ID's saves by CSeq, RFC 3261 10.3); 1 when there is none. */
static unsigned long ctl_add_cseq(const tz_binding_t *old)
{
  return old && old->callid && strcmp(old->callid, CTL_ADD_CALLID) == 0
             ? old->cseq + 1
             : 1;
}

/* The AOR's set with a's binding in place of the one with its contact,
 * else added: *n bindings, *replaced which. NULL when the store fails. */
static tz_binding_t *ctl_add_set(void *ctx, su_home_t *home, ctl_add_t *a,
                                 size_t *n, int *replaced)
{
  tz_binding_t *cur = NULL;
  int m = loc_store_api.lookup(ctx, a->key, home, &cur);
  tz_binding_t *set =
      m < 0 ? NULL : su_zalloc(home, ((size_t)m + 1) * sizeof *set);
  if (!set)
    return NULL;
  if (m > 0)
    memcpy(set, cur, (size_t)m * sizeof *set);
  size_t i = ctl_find(home, set, (size_t)m, a->contact);
  *replaced = i < (size_t)m;
  a->b.cseq = ctl_add_cseq(*replaced ? &set[i] : NULL);
  set[i] = a->b;
  *n = (size_t)m + !*replaced;
  return set;
}

static void ctl_write_added(tz_jbuf_t *out, const ctl_add_t *a, int replaced)
{
  tz_jw_obj_begin(out);
  tz_jw_key(out, "aor");
  tz_jw_str(out, a->key);
  tz_jw_key(out, "contact");
  tz_jw_str(out, a->b.contact);
  tz_jw_key(out, "replaced");
  tz_jw_bool(out, replaced);
  /* Queued, not yet committed: see ctl_save_job_t. */
  tz_jw_key(out, "durable");
  tz_jw_bool(out, 0);
  tz_jw_obj_end(out);
}

/* Kamailio's ul.add: one static binding, saved as a REGISTER's would be
 * (same index, same writer), so lookup("location") finds it at once. */
static int ctl_add(tz_modinst_t *mod, const tz_json_t *p, tz_jbuf_t *out,
                   char *err, size_t len)
{
  void *ctx = loc_instance_store(mod);
  su_home_t home[1];
  su_home_init(home);
  ctl_add_t a;
  size_t n = 0;
  int replaced = 0, code = ctl_add_parse(home, p, &a, err, len);
  tz_binding_t *set = code ? NULL : ctl_add_set(ctx, home, &a, &n, &replaced);
  if (!code && (!set || ctl_save(ctx, a.key, set, n, "addition to") < 0)) {
    snprintf(err, len, "cannot add a binding to %s", a.key);
    code = CTL_INTERNAL;
  }
  if (!code)
    ctl_write_added(out, &a, replaced);
  su_home_deinit(home);
  return code;
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
                 tz_rpc_register(mod, "location.add", ctl_add,
                                 "add or replace a binding of {aor}: "
                                 "{contact, expires, q, received, path}") < 0 ||
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
