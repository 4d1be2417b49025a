/*
 * dns_sres.c - answers for lookups from the cache, else from Sofia's sres
 * resolver. sres is not given an su_root: the module drives it through
 * sres's async interface with its own fd watches and timer, which the
 * module instance owns and the core can account for. sres records are
 * copied into plain dns_rrset_t values at once, so nothing of sres
 * outlives its callback. sres retransmits on its own schedule (1, 2, 4 ...
 * seconds, about a minute in all) and reads no timeout option, so each
 * query has our own deadline.
 *
 * Threads: worker 0 only. sres is single-threaded and its fd watches and
 * timers can only be made there; dns.c brings every lookup to worker 0.
 */
#define _POSIX_C_SOURCE 200809L
#define SRES_CONTEXT_T struct dns_query
#define SRES_ASYNC_T struct dns_resolver
#include "dns_sres.h"
#include "dns_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/su.h> /* INVALID_SOCKET */
#include <sofia-resolv/sres.h>
#include <sofia-resolv/sres_async.h>
#include <sofia-resolv/sres_record.h>

/* One sres query on behalf of a lookup slot. */
typedef struct dns_query {
  struct dns_query *next, **prevp;
  struct dns_resolver *r;
  dns_slot_t *slot; /* NULL once cancelled or late: the answer is dropped */
  tz_timer_t *deadline;
} dns_query_t;

struct dns_resolver {
  tz_modinst_t *mod;
  sres_resolver_t *res;
  dns_cache_t *cache;
  dns_source_t src;
  dns_query_t *queries; /* in flight, freed with the resolver */
  unsigned timeout_ms;
  tz_timer_t *timer;
  struct {
    sres_socket_t fd;
    tz_fdwatch_t *w;
  } fds[SRES_MAX_NAMESERVERS];
  char conf_path[256]; /* the private resolv.conf we wrote, or "" */
};

static long dns_sres_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec;
}

/* ---- sres records to dns_rrset_t -------------------------------------------- */

static dns_status_t dns_sres_status(int rcode)
{
  switch (rcode) {
  case SRES_NAME_ERR:
    return DNS_NXDOMAIN;
  case SRES_RECORD_ERR:
    return DNS_NODATA;
  default:
    return DNS_FAIL;
  }
}

static void dns_sres_copy_rr(const sres_record_t *sr, dns_rr_t *rr)
{
  memset(rr, 0, sizeof *rr);
  rr->type = sr->sr_record->r_type;
  switch (rr->type) {
  case DNS_T_A:
    inet_ntop(AF_INET, &sr->sr_a->a_addr, rr->u.addr, sizeof rr->u.addr);
    break;
  case DNS_T_AAAA:
    inet_ntop(AF_INET6, &sr->sr_aaaa->aaaa_addr, rr->u.addr, sizeof rr->u.addr);
    break;
  case DNS_T_SRV:
    rr->u.srv.prio = sr->sr_srv->srv_priority;
    rr->u.srv.weight = sr->sr_srv->srv_weight;
    rr->u.srv.port = sr->sr_srv->srv_port;
    snprintf(rr->u.srv.target, sizeof rr->u.srv.target, "%s", sr->sr_srv->srv_target);
    break;
  case DNS_T_NAPTR:
    rr->u.naptr.order = sr->sr_naptr->na_order;
    rr->u.naptr.pref = sr->sr_naptr->na_prefer;
    snprintf(rr->u.naptr.flags, sizeof rr->u.naptr.flags, "%s", sr->sr_naptr->na_flags);
    if (strlen(sr->sr_naptr->na_services) < sizeof rr->u.naptr.services)
      strcpy(rr->u.naptr.services, sr->sr_naptr->na_services);
    snprintf(rr->u.naptr.replace, sizeof rr->u.naptr.replace, "%s",
             sr->sr_naptr->na_replace);
    break;
  }
}

/* An answer without records (nor an error record) is what sres reports
 * for SERVFAIL and the like: unknown, not "no such name". */
static void dns_sres_convert(sres_record_t *const *answers, unsigned type,
                             dns_rrset_t *out)
{
  memset(out, 0, sizeof *out);
  out->status = DNS_FAIL;
  size_t n = 0;
  for (size_t i = 0; answers && answers[i]; i++) {
    const sres_common_t *c = answers[i]->sr_record;
    if (c->r_status) {
      out->status = dns_sres_status(c->r_status);
      out->ttl = c->r_ttl;
      return;
    }
    n += c->r_type == type;
    out->status = DNS_NODATA;
  }
  if (n == 0)
    return;
  if (!(out->rr = malloc(n * sizeof *out->rr))) {
    out->status = DNS_FAIL;
    return;
  }
  out->status = DNS_OK;
  out->ttl = UINT32_MAX;
  for (size_t i = 0; answers[i]; i++) {
    const sres_common_t *c = answers[i]->sr_record;
    if (c->r_type != type)
      continue;
    dns_sres_copy_rr(answers[i], &out->rr[out->n++]);
    if (c->r_ttl < out->ttl)
      out->ttl = c->r_ttl;
  }
}

/* ---- queries --------------------------------------------------------------- */

static void dns_query_unlink(dns_query_t *q)
{
  if ((*q->prevp = q->next))
    q->next->prevp = q->prevp;
  tz_timer_stop(q->deadline);
  free(q);
}

/* The deadline passed: the slot fails now; sres's answer, should it still
 * come, is dropped. */
static void dns_query_on_deadline(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  dns_query_t *q = arg;
  dns_slot_t *slot = q->slot;
  q->deadline = NULL; /* one-shot: the core freed it */
  q->slot = NULL;
  tz_log(TZ_LOG_WARN, "dns: no answer for %s within %u ms", slot->name,
         q->r->timeout_ms);
  dns_rrset_t set = {DNS_FAIL, 0, 0, NULL};
  dns_slot_answer(slot, &set);
}

static void dns_sres_on_answer(dns_query_t *q, sres_query_t *sq,
                               sres_record_t **answers)
{
  (void)sq;
  dns_resolver_t *r = q->r;
  dns_slot_t *slot = q->slot;
  dns_query_unlink(q);
  dns_rrset_t set = {0};
  if (slot) {
    dns_sres_convert(answers, slot->type, &set);
    dns_cache_put(r->cache, slot->type, slot->name, &set, dns_sres_now());
  }
  sres_free_answers(r->res, answers);
  if (slot)
    dns_slot_answer(slot, &set);
}

static int dns_sres_query(void *ctx, dns_slot_t *slot)
{
  dns_resolver_t *r = ctx;
  dns_rrset_t set;
  if (dns_cache_get(r->cache, slot->type, slot->name, dns_sres_now(), &set)) {
    tz_log(TZ_LOG_DBG, "dns: %s type %u from the cache", slot->name, slot->type);
    dns_slot_answer(slot, &set);
    return 0;
  }
  dns_query_t *q = calloc(1, sizeof *q);
  if (!q)
    return -1;
  q->r = r;
  q->slot = slot;
  q->deadline = tz_timer_start(r->mod, r->timeout_ms, 0, dns_query_on_deadline, q);
  if ((q->next = r->queries))
    q->next->prevp = &q->next;
  q->prevp = &r->queries;
  r->queries = q;
  if (!q->deadline ||
      !sres_query(r->res, dns_sres_on_answer, q, (uint16_t)slot->type, slot->name)) {
    tz_log(TZ_LOG_WARN, "dns: cannot query %s: %s", slot->name, strerror(errno));
    dns_query_unlink(q);
    return -1;
  }
  slot->handle = q;
  return 0;
}

static void dns_sres_cancel(void *ctx, dns_slot_t *slot)
{
  (void)ctx;
  dns_query_t *q = slot->handle;
  if (q) {
    q->slot = NULL;
    tz_timer_stop(q->deadline);
    q->deadline = NULL;
  }
  slot->handle = NULL;
}

/* ---- sres on the core's event loop ------------------------------------------ */

static void dns_sres_on_fd(tz_modinst_t *mod, int fd, unsigned revents,
                           void *arg)
{
  (void)mod;
  dns_resolver_t *r = arg;
  if (revents & TZ_FD_ERR)
    sres_resolver_error(r->res, fd);
  if (revents & TZ_FD_IN)
    sres_resolver_receive(r->res, fd);
}

/* sres opened or closed a socket (one per name server, made lazily). */
static int dns_sres_update(dns_resolver_t *r, sres_socket_t new_socket,
                           sres_socket_t old_socket)
{
  if (!r)
    return 0;
  for (size_t i = 0; old_socket != INVALID_SOCKET && i < SRES_MAX_NAMESERVERS; i++)
    if (r->fds[i].w && r->fds[i].fd == old_socket) {
      tz_fd_unwatch(r->fds[i].w);
      r->fds[i].w = NULL;
    }
  for (size_t i = 0; new_socket != INVALID_SOCKET && i < SRES_MAX_NAMESERVERS; i++)
    if (!r->fds[i].w) {
      r->fds[i].fd = new_socket;
      r->fds[i].w = tz_fd_watch(r->mod, new_socket, TZ_FD_IN, dns_sres_on_fd, r);
      return r->fds[i].w ? 0 : -1;
    }
  return new_socket == INVALID_SOCKET ? 0 : -1;
}

static void dns_sres_on_timer(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  dns_resolver_t *r = arg;
  r->timer = NULL; /* one-shot: the core freed it */
  sres_resolver_timer(r->res, -1);
}

static int dns_sres_schedule(dns_resolver_t *r, unsigned long ms)
{
  tz_timer_stop(r->timer);
  r->timer = tz_timer_start(r->mod, (unsigned)ms, 0, dns_sres_on_timer, r);
  return r->timer ? 0 : -1;
}

/* ---- set-up ------------------------------------------------------------------ */

/* sres reads name servers only from a file, so a configured one becomes a
 * private resolv.conf; sres's own "port" line carries a non-53 port. */
static int dns_sres_write_conf(dns_resolver_t *r, const char *ns, char *err,
                               size_t errlen)
{
  char host[64];
  unsigned port;
  if (tz_hostport_parse(ns, host, sizeof host, &port, 53) < 0 ||
      !dns_is_numeric(host))
    goto bad;
  const char *dir = getenv("TMPDIR");
  snprintf(r->conf_path, sizeof r->conf_path, "%s/tz-dns-XXXXXX",
           dir && *dir ? dir : "/tmp");
  int fd = mkstemp(r->conf_path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", r->conf_path, strerror(errno));
    if (fd >= 0)
      close(fd);
    r->conf_path[0] = '\0';
    return -1;
  }
  fprintf(f, "nameserver %s\nport %u\n", host, port);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", r->conf_path, strerror(errno));
    return -1;
  }
  return 0;
bad:
  snprintf(err, errlen, "nameserver \"%s\": expected IP, IP:PORT or [IPv6]:PORT", ns);
  return -1;
}

dns_resolver_t *dns_resolver_new(tz_modinst_t *mod,
                                 const dns_resolver_conf_t *conf, char *err,
                                 size_t errlen)
{
  dns_resolver_t *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->mod = mod;
  r->timeout_ms = conf->timeout_ms;
  r->src = (dns_source_t){dns_sres_query, dns_sres_cancel, r};
  const char *path = conf->resolv_conf && *conf->resolv_conf ? conf->resolv_conf : NULL;
  if (conf->nameserver && *conf->nameserver) {
    if (dns_sres_write_conf(r, conf->nameserver, err, errlen) < 0)
      goto fail;
    path = r->conf_path;
  } else if (path && access(path, R_OK) < 0) {
    snprintf(err, errlen, "resolv_conf %s: %s", path, strerror(errno));
    goto fail;
  }
  r->cache = dns_cache_new(conf->cache_size, conf->negative_ttl);
  r->res = r->cache ? sres_resolver_new(path) : NULL;
  if (!r->res || !sres_resolver_set_async(r->res, dns_sres_update, r, 0) ||
      sres_resolver_set_timer_cb(r->res, dns_sres_schedule, r) < 0) {
    snprintf(err, errlen, "cannot create the resolver: %s", strerror(errno));
    goto fail;
  }
  return r;
fail:
  dns_resolver_free(r);
  return NULL;
}

void dns_resolver_free(dns_resolver_t *r)
{
  if (!r)
    return;
  while (r->queries)
    dns_query_unlink(r->queries);
  /* sres frees its pending queries without calling back, and reports its
   * sockets closed through dns_sres_update, which unwatches them */
  if (r->res)
    sres_resolver_unref(r->res);
  tz_timer_stop(r->timer);
  dns_cache_free(r->cache);
  if (r->conf_path[0])
    unlink(r->conf_path);
  free(r);
}

const dns_source_t *dns_resolver_source(dns_resolver_t *r) { return &r->src; }
