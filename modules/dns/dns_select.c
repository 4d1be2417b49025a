/*
 * dns_select.c - RFC 3263 section 4 target selection: reading the URI,
 * choosing NAPTR records, naming SRV queries, ordering SRV answers (RFC
 * 2782) and turning addresses into next-hop URIs. Pure: records in,
 * ordered targets out.
 *
 * Threads: no state of its own; safe in any thread.
 */
#define _POSIX_C_SOURCE 200809L
#include "dns_select.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dns_rrset_clear(dns_rrset_t *s)
{
  free(s->rr);
  s->rr = NULL;
  s->n = 0;
}

int dns_rrset_copy(dns_rrset_t *dst, const dns_rrset_t *src)
{
  *dst = *src;
  dst->rr = NULL;
  if (src->n == 0)
    return 0;
  dst->rr = malloc(src->n * sizeof *src->rr);
  if (!dst->rr) {
    dst->n = 0;
    return -1;
  }
  memcpy(dst->rr, src->rr, src->n * sizeof *src->rr);
  return 0;
}

void dns_name_key(const char *name, char out[DNS_NAME_MAX])
{
  size_t i = 0;
  for (; name[i] && i < DNS_NAME_MAX - 1; i++)
    out[i] = (char)tolower((unsigned char)name[i]);
  if (i > 1 && out[i - 1] == '.')
    i--;
  out[i] = '\0';
}

/* ---- URI and transports --------------------------------------------------- */

static const struct {
  const char *name;
  unsigned tp;
} dns_tps[] = {{"udp", DNS_TP_UDP}, {"tcp", DNS_TP_TCP}, {"tls", DNS_TP_TLS}};

static unsigned dns_tp_by_name(const char *name, size_t len)
{
  for (size_t i = 0; i < sizeof dns_tps / sizeof dns_tps[0]; i++)
    if (strlen(dns_tps[i].name) == len && strncasecmp(dns_tps[i].name, name, len) == 0)
      return dns_tps[i].tp;
  return 0;
}

static const char *dns_tp_name(unsigned tp)
{
  for (size_t i = 0; i < sizeof dns_tps / sizeof dns_tps[0]; i++)
    if (dns_tps[i].tp == tp)
      return dns_tps[i].name;
  return "udp";
}

int dns_tp_mask(const char *list)
{
  int mask = 0;
  for (const char *p = list; p && *p;) {
    p += strspn(p, ", \t");
    size_t len = strcspn(p, ", \t");
    if (len == 0)
      break;
    unsigned tp = dns_tp_by_name(p, len);
    if (!tp)
      return -1;
    mask |= (int)tp;
    p += len;
  }
  return mask;
}

unsigned dns_tp_default_port(unsigned tp) { return tp == DNS_TP_TLS ? 5061 : 5060; }

int dns_is_numeric(const char *s)
{
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int dns_uri_parse(const url_t *url, dns_uri_t *out)
{
  memset(out, 0, sizeof *out);
  if (!url || (url->url_type != url_sip && url->url_type != url_sips) ||
      !url->url_host || !*url->url_host)
    return -1;
  out->sips = url->url_type == url_sips;
  const char *h = url->url_host;
  size_t hl = strlen(h);
  if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl >= sizeof out->host)
    return -1;
  memcpy(out->host, h, hl);
  out->host[hl] = '\0';
  out->numeric = dns_is_numeric(out->host);
  if (url->url_port && *url->url_port) {
    char *end;
    long port = strtol(url->url_port, &end, 10);
    if (*end || port < 1 || port > 65535)
      return -1;
    out->port = (unsigned)port;
  }
  char tp[16];
  if (url->url_params &&
      url_param(url->url_params, "transport", tp, sizeof tp) > 0) {
    out->tp = dns_tp_by_name(tp, strlen(tp));
    if (!out->tp)
      return -1;
    if (out->sips) { /* sips over TCP is TLS; over UDP it does not exist */
      if (out->tp == DNS_TP_UDP)
        return -1;
      out->tp = DNS_TP_TLS;
    }
  }
  return 0;
}

/* ---- NAPTR (section 4.1) ---------------------------------------------------- */

static unsigned dns_naptr_tp(const char *services)
{
  if (strcasecmp(services, "SIP+D2U") == 0)
    return DNS_TP_UDP;
  if (strcasecmp(services, "SIP+D2T") == 0)
    return DNS_TP_TCP;
  if (strcasecmp(services, "SIPS+D2T") == 0)
    return DNS_TP_TLS;
  return 0;
}

static int dns_naptr_before(const dns_rr_t *a, const dns_rr_t *b)
{
  if (a->u.naptr.order != b->u.naptr.order)
    return a->u.naptr.order < b->u.naptr.order;
  return a->u.naptr.pref < b->u.naptr.pref;
}

size_t dns_naptr_select(const dns_rrset_t *naptr, const dns_uri_t *u,
                        unsigned mask, dns_srvq_t *out, size_t max)
{
  const dns_rr_t *pick[32];
  size_t n = 0;
  for (size_t i = 0; i < naptr->n && n < sizeof pick / sizeof pick[0]; i++) {
    const dns_rr_t *r = &naptr->rr[i];
    unsigned tp = r->type == DNS_T_NAPTR ? dns_naptr_tp(r->u.naptr.services) : 0;
    if (!tp || !(tp & mask) || (u->sips && tp != DNS_TP_TLS) ||
        strcasecmp(r->u.naptr.flags, "s") != 0 || !r->u.naptr.replace[0] ||
        strcmp(r->u.naptr.replace, ".") == 0)
      continue;
    /* insertion sort: stable, and answers are short */
    size_t j = n++;
    for (; j > 0 && dns_naptr_before(r, pick[j - 1]); j--)
      pick[j] = pick[j - 1];
    pick[j] = r;
  }
  size_t k = 0;
  for (; k < n && k < max; k++) {
    snprintf(out[k].name, sizeof out[k].name, "%s", pick[k]->u.naptr.replace);
    out[k].tp = dns_naptr_tp(pick[k]->u.naptr.services);
  }
  return k;
}

/* False if the name would exceed DNS's limit. */
static int dns_srvq_set(dns_srvq_t *q, const char *host, unsigned tp)
{
  const char *prefix = tp == DNS_TP_TLS ? "_sips._tcp"
                       : tp == DNS_TP_TCP ? "_sip._tcp"
                                          : "_sip._udp";
  int w = snprintf(q->name, sizeof q->name, "%s.%s", prefix, host);
  q->tp = tp;
  return w > 0 && (size_t)w < sizeof q->name;
}

size_t dns_srv_names(const dns_uri_t *u, unsigned mask, dns_srvq_t *out,
                     size_t max)
{
  static const unsigned order[] = {DNS_TP_UDP, DNS_TP_TCP, DNS_TP_TLS};
  size_t n = 0;
  if (max == 0)
    return 0;
  if (u->tp || u->sips) /* the URI decides, whatever our preference */
    return (size_t)dns_srvq_set(&out[0], u->host, u->tp ? u->tp : DNS_TP_TLS);
  for (size_t i = 0; i < sizeof order / sizeof order[0] && n < max; i++)
    if ((mask & order[i]) && dns_srvq_set(&out[n], u->host, order[i]))
      n++;
  return n;
}

/* ---- SRV (section 4.4, RFC 2782) ---------------------------------------------- */

static void dns_host_set(dns_host_t *h, const char *name, unsigned port,
                         unsigned tp)
{
  snprintf(h->name, sizeof h->name, "%s", name);
  size_t len = strlen(h->name);
  if (len > 1 && h->name[len - 1] == '.') /* absolute name from the wire */
    h->name[len - 1] = '\0';
  h->port = port;
  h->tp = tp;
}

/* Moves the zero-weight records of g[0..k) to the front, keeping order. */
static void dns_srv_zero_first(const dns_rr_t **g, size_t k)
{
  size_t z = 0;
  for (size_t i = 0; i < k; i++)
    if (g[i]->u.srv.weight == 0) {
      const dns_rr_t *r = g[i];
      memmove(&g[z + 1], &g[z], (i - z) * sizeof *g);
      g[z++] = r;
    }
}

/* RFC 2782's selection within one priority: pick by running weight sum. */
static size_t dns_srv_pick(const dns_rr_t **g, size_t k, dns_rand_f rnd,
                           void *arg)
{
  unsigned sum = 0;
  for (size_t i = 0; i < k; i++)
    sum += g[i]->u.srv.weight;
  unsigned r = rnd(arg, sum), run = 0;
  for (size_t i = 0; i < k; i++) {
    run += g[i]->u.srv.weight;
    if (run >= r)
      return i;
  }
  return k - 1;
}

int dns_srv_order(const dns_rrset_t *srv, unsigned tp, dns_rand_f rnd,
                  void *rnd_arg, dns_host_t *out, size_t *n, size_t max)
{
  const dns_rr_t *g[32];
  size_t k = 0;
  for (size_t i = 0; i < srv->n && k < sizeof g / sizeof g[0]; i++) {
    const dns_rr_t *r = &srv->rr[i];
    if (r->type != DNS_T_SRV)
      continue;
    if (strcmp(r->u.srv.target, ".") == 0) {
      if (srv->n == 1)
        return 1; /* "decidedly not available at this domain" */
      continue;
    }
    size_t j = k++;
    for (; j > 0 && r->u.srv.prio < g[j - 1]->u.srv.prio; j--)
      g[j] = g[j - 1];
    g[j] = r;
  }
  for (size_t lo = 0; lo < k;) {
    size_t hi = lo;
    while (hi < k && g[hi]->u.srv.prio == g[lo]->u.srv.prio)
      hi++;
    /* order g[lo..hi) in place, one weighted pick at a time */
    for (; lo < hi; lo++) {
      dns_srv_zero_first(g + lo, hi - lo);
      size_t p = lo + dns_srv_pick(g + lo, hi - lo, rnd, rnd_arg);
      const dns_rr_t *r = g[p];
      memmove(&g[lo + 1], &g[lo], (p - lo) * sizeof *g);
      g[lo] = r;
      if (*n < max)
        dns_host_set(&out[(*n)++], r->u.srv.target, r->u.srv.port, tp);
    }
  }
  return 0;
}

/* ---- targets (section 4.2) ------------------------------------------------------ */

static int dns_target_format(const char *addr, unsigned port, unsigned tp,
                             char *buf, size_t len)
{
  int v6 = strchr(addr, ':') != NULL;
  int w = snprintf(buf, len, "sip:%s%s%s:%u;transport=%s", v6 ? "[" : "", addr,
                   v6 ? "]" : "", port, dns_tp_name(tp));
  return w > 0 && (size_t)w < len ? 0 : -1;
}

static size_t dns_targets_push(dns_targets_t *t, const char *addr,
                               const dns_host_t *h)
{
  char uri[sizeof t->uri[0]];
  if (t->n == DNS_MAX_TARGETS ||
      dns_target_format(addr, h->port, h->tp, uri, sizeof uri) < 0)
    return 0;
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->uri[i], uri) == 0)
      return 0;
  memcpy(t->uri[t->n++], uri, sizeof uri);
  return 1;
}

size_t dns_targets_add(dns_targets_t *t, const dns_host_t *h,
                       const dns_rrset_t *addrs)
{
  if (!addrs)
    return dns_targets_push(t, h->name, h);
  size_t added = 0;
  for (size_t i = 0; i < addrs->n; i++)
    if (addrs->rr[i].type == DNS_T_A || addrs->rr[i].type == DNS_T_AAAA)
      added += dns_targets_push(t, addrs->rr[i].u.addr, h);
  return added;
}
