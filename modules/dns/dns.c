/*
 * dns.c - the dns module: its parameters and lifetime, and dns_relay(),
 * which relays a request to a foreign domain along RFC 3263: it holds the
 * request in the core's relay, resolves the next hop asynchronously, and
 * tries the targets one after the other, failing over on a timeout, a
 * transport error or a 503 (section 4.3) within the same transaction.
 *
 * Threads: dns_relay() runs in every worker; the resolver, the cache, the
 * lookups and their timers and fd watches are worker 0's (sres is
 * single-threaded, and module timers exist only there). A request goes to
 * worker 0 to be resolved and comes back to its own worker, which alone
 * may use its relay, each time with tz_worker_post. Only the side that
 * has it touches it (dns_req_state_t says which), so it needs no lock; the
 * module's data is written by init only, except reqs (worker 0's).
 *
 * The static zone (dns_zone.c, the dns.zone_* commands) answers before
 * the cache and the resolver; with zone_only it alone answers and no
 * resolver is made, so tests need neither network nor resolv.conf. The
 * zone is the module's, not an instance's: a reload makes new instances
 * (init of the new before destroy of the old), and records set by an
 * operator or a test's fixtures must not vanish with it. So the instances
 * share one zone, counted in dns_zone_shared; the last instance to go (at
 * shutdown, or a reload without the module) frees it. Only init and
 * destroy touch that count, both in worker 0; the zone locks itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <trapezoid/trapezoid.h>
#include "dns_sres.h"
#include "dns_zone.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_uniqueid.h>

typedef struct dns_cfg {
  char *resolv_conf;
  char *nameserver;
  char *transports;
  long timeout, cache_size, negative_ttl, ipv6, nxdomain_status, zone_only;
} dns_cfg_t;

typedef struct dns_req dns_req_t;

typedef struct dns_mod {
  tz_modinst_t *mod;
  dns_resolver_t *res; /* NULL with zone_only */
  dns_zone_source_t zsrc; /* the zone in front of res: what lookups read */
  dns_lookup_opts_t opts;
  int nxdomain_status;
  dns_req_t *reqs; /* those worker 0 has, so destroy can drop them */
} dns_mod_t;

/* Where a request is, and so which thread may touch it: worker 0 (the
 * resolver's) from REQ_TO_RESOLVE to REQ_REPOSTING, its own worker (the
 * relay's) from REQ_RESOLVED on. Each move across is a tz_worker_post. */
typedef enum dns_req_state {
  REQ_TO_RESOLVE, /* posted to worker 0 */
  REQ_KICKING,    /* worker 0: the kick timer runs */
  REQ_RESOLVING,  /* worker 0: the lookup runs */
  REQ_REPOSTING,  /* worker 0: posting the answer back ran out of memory */
  REQ_RESOLVED,   /* posted back to its worker with the answer */
  REQ_RELAYING    /* its worker: trying the targets */
} dns_req_state_t;

/* A request dns_relay() holds, from hold until release. */
struct dns_req {
  dns_req_t *next, **prevp; /* in dm->reqs while worker 0 has it */
  dns_mod_t *dm;
  dns_req_state_t state;
  unsigned worker;   /* the request's: r is used there only */
  tz_relay_t *r;
  tz_timer_t *kick;  /* starts the lookup, or retries posting the answer */
  dns_lookup_t *lk;  /* while resolving */
  dns_uri_t uri;
  char hop[128];     /* the URI resolved, for the log */
  int status;        /* the answer: 0 with targets, else the final status */
  dns_targets_t targets;
  size_t tried;
};

static unsigned dns_rand(void *arg, unsigned bound)
{
  (void)arg;
  return (unsigned)su_randint(0, (int)bound);
}

/* ---- worker 0: resolving ----------------------------------------------------- */

static void dns_req_link(dns_req_t *req)
{
  dns_mod_t *dm = req->dm;
  if ((req->next = dm->reqs))
    req->next->prevp = &req->next;
  req->prevp = &dm->reqs;
  dm->reqs = req;
}

/* Stops what worker 0 runs for req and forgets it; req itself stays. */
static void dns_req_unlink(dns_req_t *req)
{
  assert(tz_worker_self() == 0 && req->state >= REQ_KICKING &&
         req->state <= REQ_REPOSTING);
  if ((*req->prevp = req->next))
    req->next->prevp = req->prevp;
  tz_timer_stop(req->kick);
  req->kick = NULL;
  if (req->lk)
    dns_lookup_cancel(req->lk);
  req->lk = NULL;
}

static void dns_req_relay(void *arg);
static void dns_req_repost(tz_modinst_t *mod, void *arg);

/* Out of memory posting req's answer: it is still ours. Retry, or the
 * relay would hang for ever. */
static void dns_req_repost_later(dns_req_t *req)
{
  req->state = REQ_REPOSTING;
  dns_req_link(req);
  req->kick = tz_timer_start(req->dm->mod, 100, 0, dns_req_repost, req);
  if (!req->kick)
    tz_log(TZ_LOG_ERR, "dns: %s: out of memory, request lost", req->hop);
}

/* Hands req with its answer back to its worker; req is not touched after
 * that (with one worker the relaying already ran when the post returns). */
static void dns_req_answer(dns_req_t *req, int status)
{
  dns_req_unlink(req);
  if (req->worker >= tz_worker_count()) {
    /* Shutdown: its worker has stopped, ending its transactions. */
    free(req);
    return;
  }
  req->status = status;
  req->state = REQ_RESOLVED;
  if (tz_worker_post(req->worker, dns_req_relay, req) == 0)
    return;
  if (errno == ESHUTDOWN)
    free(req); /* its worker is stopping, ending its transactions */
  else
    dns_req_repost_later(req);
}

static void dns_req_repost(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  dns_req_t *req = arg;
  req->kick = NULL; /* one-shot: the core freed it */
  dns_req_answer(req, req->status);
}

static void dns_req_resolved(void *arg, dns_status_t status,
                             const dns_targets_t *targets)
{
  dns_req_t *req = arg;
  req->lk = NULL; /* frees itself when this returns */
  if (status == DNS_OK) {
    req->targets = *targets;
    dns_req_answer(req, 0);
    return;
  }
  int code = status == DNS_NXDOMAIN ? req->dm->nxdomain_status : 503;
  tz_log(TZ_LOG_INFO, "dns: %s: %s (status %d)", req->hop,
         status == DNS_NXDOMAIN ? "no such domain or SIP service" : "DNS failed",
         code);
  dns_req_answer(req, code);
}

static void dns_req_kick(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  dns_req_t *req = arg;
  assert(req->state == REQ_KICKING);
  req->kick = NULL; /* one-shot: the core freed it */
  req->state = REQ_RESOLVING;
  req->lk = dns_lookup_new(&req->dm->zsrc.src, &req->dm->opts,
                           &req->uri, dns_req_resolved, req);
  if (req->lk)
    dns_lookup_run(req->lk);
  else
    dns_req_answer(req, 500);
}

/* Worker 0 takes req over. Answers may be at hand (cache, numeric host),
 * and for a request of worker 0 itself this runs inside the script run,
 * where completing would end the transaction under the script's feet: the
 * lookup starts from a timer (1 ms, the shortest Sofia takes). */
static void dns_req_to_resolve(void *arg)
{
  dns_req_t *req = arg;
  assert(tz_worker_self() == 0 && req->state == REQ_TO_RESOLVE);
  req->state = REQ_KICKING;
  dns_req_link(req);
  req->kick = tz_timer_start(req->dm->mod, 1, 0, dns_req_kick, req);
  if (!req->kick)
    dns_req_answer(req, 500);
}

/* ---- the request's worker: relaying ------------------------------------------ */

/* Hands the transaction back to the core; status counts only if no branch
 * was ever started. req goes first: the release may end the transaction,
 * and with it the generation and this module instance. */
static void dns_req_release(dns_req_t *req, int status)
{
  tz_relay_t *r = req->r;
  assert(req->state == REQ_RELAYING && tz_worker_self() == req->worker);
  free(req);
  tz_relay_release(r, status);
}

static int dns_req_done(tz_relay_t *r, int status, void *arg);

/* Starts a branch to the next untried target; false if none is left.
 * req is not touched once a branch started: should the branch fail at
 * once, its done callback may already have released and freed req. */
static int dns_req_try_next(dns_req_t *req)
{
  while (req->tried < req->targets.n) {
    const char *dst = req->targets.uri[req->tried++];
    tz_log(TZ_LOG_INFO, "dns: %s: trying %s", req->hop, dst);
    if (tz_relay_branch(req->r, dst, dns_req_done, req) == 0)
      return 1;
    tz_log(TZ_LOG_WARN, "dns: %s: cannot send to %s", req->hop, dst);
  }
  return 0;
}

/* RFC 3263 4.3: a timeout (408 from the transaction layer), a transport
 * error or ICMP (503 from it) and a 503 response mean "try the next". */
static int dns_req_done(tz_relay_t *r, int status, void *arg)
{
  dns_req_t *req = arg;
  if ((status == 408 || status == 503) && !tz_relay_cancelled(r)) {
    tz_log(TZ_LOG_INFO, "dns: %s: %s failed with %d", req->hop,
           req->targets.uri[req->tried - 1], status);
    if (dns_req_try_next(req))
      return 1;
  }
  dns_req_release(req, status);
  return 0;
}

/* The answer is back where the relay lives. A CANCEL that came meanwhile
 * was answered 200 by the transaction layer; the request ends with 487. */
static void dns_req_relay(void *arg)
{
  dns_req_t *req = arg;
  assert(tz_worker_self() == req->worker && req->state == REQ_RESOLVED);
  req->state = REQ_RELAYING;
  if (tz_relay_cancelled(req->r))
    dns_req_release(req, 487);
  else if (req->status)
    dns_req_release(req, req->status);
  else if (!dns_req_try_next(req))
    dns_req_release(req, 503);
}

/* ---- the script function ----------------------------------------------------- */

/* The URI the request goes to next (RFC 3261 16.6 step 7): the top Route,
 * loose or strict, else the Request-URI. */
static const url_t *dns_next_hop(const sip_t *sip)
{
  return sip->sip_route ? sip->sip_route->r_url : sip->sip_request->rq_url;
}

static dns_req_t *dns_req_new(dns_mod_t *dm, tz_relay_t *r, const dns_uri_t *u,
                              const char *hop)
{
  dns_req_t *req = calloc(1, sizeof *req);
  if (!req)
    return NULL;
  req->dm = dm;
  req->state = REQ_TO_RESOLVE;
  req->worker = tz_worker_self();
  req->r = r;
  req->uri = *u;
  snprintf(req->hop, sizeof req->hop, "%s", hop ? hop : "?");
  return req;
}

/* True (1) once the request is ours to relay; false (-1) for a URI that is
 * ours, not SIP, or an ACK/CANCEL (t_relay() does those); 0 (stop the
 * script) if the core answered the request instead (483, 482, 500). */
static int dns_fn_relay(tz_msg_t *m, const tz_call_t *c)
{
  const sip_t *sip = tz_msg_sip(m);
  sip_method_t method = sip->sip_request->rq_method;
  const url_t *hop = dns_next_hop(sip);
  dns_uri_t u;
  if (method == sip_method_ack || method == sip_method_cancel ||
      tz_is_myself(hop) || dns_uri_parse(hop, &u) < 0)
    return -1;
  tz_relay_t *r = tz_relay_hold(m);
  if (!r)
    return 0;
  dns_req_t *req = dns_req_new(tz_mod_data(c->mod), r, &u,
                               url_as_string(tz_msg_home(m), hop));
  if (req && tz_worker_post(0, dns_req_to_resolve, req) == 0)
    return 1; /* the relay pins the generation, so the module stays */
  free(req);
  tz_relay_release(r, 500);
  return 0; /* the transaction is over: nothing more for the script */
}

/* ---- the static zone --------------------------------------------------------- */

/* The zone all instances share (see the top), and how many hold it. */
static struct {
  dns_zone_t *zone;
  unsigned users;
} dns_zone_shared;

static dns_zone_t *dns_zone_hold(void)
{
  if (!dns_zone_shared.zone && !(dns_zone_shared.zone = dns_zone_new()))
    return NULL;
  dns_zone_shared.users++;
  return dns_zone_shared.zone;
}

static void dns_zone_release(void)
{
  assert(dns_zone_shared.users > 0);
  if (--dns_zone_shared.users)
    return;
  dns_zone_free(dns_zone_shared.zone);
  dns_zone_shared.zone = NULL;
}

static dns_zone_t *dns_mod_zone(tz_modinst_t *mod)
{
  const dns_mod_t *dm = tz_mod_data(mod);
  return dm->zsrc.zone;
}

static int dns_rpc_zone_add(tz_modinst_t *mod, const tz_json_t *params,
                            tz_jbuf_t *out, char *err, size_t errlen)
{
  int rc = dns_zone_add_json(dns_mod_zone(mod), params, err, errlen);
  if (rc == 0) {
    tz_jw_obj_begin(out);
    tz_jw_obj_end(out);
  }
  return rc;
}

static int dns_rpc_zone_clear(tz_modinst_t *mod, const tz_json_t *params,
                              tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params, (void)err, (void)errlen;
  size_t n = dns_zone_clear(dns_mod_zone(mod));
  tz_jw_obj_begin(out);
  tz_jw_key(out, "removed");
  tz_jw_int(out, (long long)n);
  tz_jw_obj_end(out);
  return 0;
}

static int dns_rpc_zone_show(tz_modinst_t *mod, const tz_json_t *params,
                             tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params, (void)err, (void)errlen;
  dns_zone_write_json(dns_mod_zone(mod), out);
  return 0;
}

static int dns_rpc_register(tz_modinst_t *mod)
{
  int rc = tz_rpc_register(mod, "dns.zone_add", dns_rpc_zone_add,
                           "add a static record: {type (A, AAAA, SRV, NAPTR, "
                           "NXDOMAIN), name, its fields, ttl}");
  rc |= tz_rpc_register(mod, "dns.zone_clear", dns_rpc_zone_clear,
                        "drop every static record");
  rc |= tz_rpc_register(mod, "dns.zone_show", dns_rpc_zone_show,
                        "the static records");
  return rc;
}

/* ---- module ------------------------------------------------------------------ */

/* The zone, in front of the cache and resolver unless zone_only. */
static int dns_open_sources(dns_mod_t *dm, const dns_cfg_t *cfg, char *err,
                            size_t errlen)
{
  dns_resolver_conf_t rc = {
      .resolv_conf = cfg->resolv_conf,
      .nameserver = cfg->nameserver,
      .timeout_ms = (unsigned)cfg->timeout,
      .cache_size = (size_t)cfg->cache_size,
      .negative_ttl = (uint32_t)cfg->negative_ttl,
  };
  if (!cfg->zone_only && !(dm->res = dns_resolver_new(dm->mod, &rc, err, errlen)))
    return -1;
  dns_zone_t *zone = dns_zone_hold();
  if (!zone) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  dns_zone_source_init(&dm->zsrc, zone, dm->res ? dns_resolver_source(dm->res) : NULL,
                       cfg->zone_only != 0);
  return 0;
}

static void dns_destroy(tz_modinst_t *mod);

static int dns_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  const dns_cfg_t *cfg = tz_mod_cfg(mod);
  int mask = dns_tp_mask(cfg->transports);
  if (mask <= 0) {
    snprintf(err, errlen, "transports \"%s\": expected a list of udp, tcp, tls",
             cfg->transports ? cfg->transports : "");
    return -1;
  }
  dns_mod_t *dm = calloc(1, sizeof *dm);
  if (!dm) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  dm->mod = mod;
  dm->opts = (dns_lookup_opts_t){(unsigned)mask, cfg->ipv6 != 0, dns_rand, NULL};
  dm->nxdomain_status = (int)cfg->nxdomain_status;
  tz_mod_set_data(mod, dm);
  if (dns_open_sources(dm, cfg, err, errlen) < 0 || dns_rpc_register(mod) < 0) {
    if (!err[0])
      snprintf(err, errlen, "cannot register the dns.zone_* commands");
    dns_destroy(mod); /* the core does not, when init fails */
    return -1;
  }
  return 0;
}

static void dns_destroy(tz_modinst_t *mod)
{
  dns_mod_t *dm = tz_mod_data(mod);
  if (!dm)
    return;
  /* Only requests whose transactions the core dropped without release
   * (shutdown) can be left: nothing to answer, just their lookups to stop. */
  while (dm->reqs) {
    dns_req_t *req = dm->reqs;
    dns_req_unlink(req);
    free(req);
  }
  dns_resolver_free(dm->res);
  if (dm->zsrc.zone)
    dns_zone_release();
  free(dm);
  tz_mod_set_data(mod, NULL);
}

static const tz_param_export_t dns_params[] = {
  {.name = "resolv_conf",
   .type = TZ_PARAM_STR,
   .offset = offsetof(dns_cfg_t, resolv_conf),
   .str_default = "/etc/resolv.conf",
   .doc = "resolv.conf to read name servers from"},
  {.name = "nameserver",
   .type = TZ_PARAM_STR,
   .offset = offsetof(dns_cfg_t, nameserver),
   .doc = "name server as IP, IP:PORT or [IPv6]:PORT; overrides resolv_conf"},
  {.name = "timeout",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, timeout),
   .int_default = 3000,
   .min = 100,
   .max = 60000,
   .doc = "ms a query may take (sres resends meanwhile); then the request "
          "gets 503 unless another query found targets"},
  {.name = "cache_size",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, cache_size),
   .int_default = 1024,
   .max = 1000000,
   .doc = "answers kept for their TTL; 0 disables the cache"},
  {.name = "negative_ttl",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, negative_ttl),
   .int_default = 60,
   .max = 86400,
   .doc = "at most this many seconds an NXDOMAIN/NODATA answer is kept"},
  {.name = "transports",
   .type = TZ_PARAM_STR,
   .offset = offsetof(dns_cfg_t, transports),
   .str_default = "udp,tcp",
   .doc = "transports the proxy may choose from NAPTR/SRV: udp, tcp, tls"},
  {.name = "ipv6",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, ipv6),
   .max = 1,
   .doc = "1: also query AAAA records (tried after the A records of a host)"},
  {.name = "nxdomain_status",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, nxdomain_status),
   .int_default = 404,
   .min = 300,
   .max = 699,
   .doc = "final status when the domain or its SIP service does not exist"},
  {.name = "zone_only",
   .type = TZ_PARAM_INT,
   .offset = offsetof(dns_cfg_t, zone_only),
   .max = 1,
   .doc = "1: only the static zone answers (dns.zone_add); other names are "
          "NXDOMAIN and no resolver is made (tests: no network)"},
  {0}
};

static const tz_func_export_t dns_funcs[] = {
  {.name = "dns_relay",
   .handler = dns_fn_relay,
   .route_mask = TZ_ROUTE_REQUEST,
   .doc = "relay statefully to the targets RFC 3263 finds for the next hop (top "
          "Route, else R-URI), failing over on timeout, transport error or 503; "
          "false if the next hop is ours"},
  {0}
};

const tz_module_t dns_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "dns",
  .version = "1",
  .description = "RFC 3263 DNS resolution of foreign next hops, with failover",
  .cfg_size = sizeof(dns_cfg_t),
  .params = dns_params,
  .funcs = dns_funcs,
  .init = dns_init,
  .destroy = dns_destroy,
  .flags = TZ_MOD_WORKERS,
};
