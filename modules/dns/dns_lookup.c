/*
 * dns_lookup.c - the RFC 3263 section 4 steps as a small state machine:
 * each step issues its queries, waits until all are answered, and hands
 * the records to dns_select.c for the next step. Finishing is a loop, not
 * recursion, so answers that arrive synchronously (cache hits) are safe.
 *
 * Threads: a lookup is used by one thread, that of its source (in the
 * module, worker 0's resolver).
 */
#define _POSIX_C_SOURCE 200809L
#include "dns_lookup.h"

#include <stdlib.h>
#include <string.h>

#define DNS_MAX_SRVQ 4
#define DNS_MAX_HOSTS 8

typedef enum { LK_START, LK_NAPTR, LK_SRV, LK_ADDR, LK_DONE } dns_phase_t;

struct dns_lookup {
  const dns_source_t *src;
  const dns_lookup_opts_t *opts;
  dns_uri_t uri;
  dns_lookup_done_f done;
  void *arg;
  dns_phase_t phase;
  dns_status_t status; /* the result once LK_DONE */
  unsigned outstanding;
  int issuing; /* answers now must not advance the machine */
  size_t nsrvq, nhosts;
  dns_srvq_t srvq[DNS_MAX_SRVQ];
  dns_host_t hosts[DNS_MAX_HOSTS];
  dns_slot_t slot[2 * DNS_MAX_HOSTS];
  dns_targets_t targets;
};

dns_lookup_t *dns_lookup_new(const dns_source_t *src,
                             const dns_lookup_opts_t *opts, const dns_uri_t *u,
                             dns_lookup_done_f done, void *arg)
{
  dns_lookup_t *lk = calloc(1, sizeof *lk);
  if (!lk)
    return NULL;
  lk->src = src;
  lk->opts = opts;
  lk->uri = *u;
  lk->done = done;
  lk->arg = arg;
  return lk;
}

static void dns_lookup_clear_slots(dns_lookup_t *lk)
{
  for (size_t i = 0; i < sizeof lk->slot / sizeof lk->slot[0]; i++) {
    dns_slot_t *s = &lk->slot[i];
    if (s->pending)
      lk->src->cancel(lk->src->ctx, s);
    dns_rrset_clear(&s->set);
    memset(s, 0, sizeof *s);
  }
  lk->outstanding = 0;
}

void dns_lookup_cancel(dns_lookup_t *lk)
{
  dns_lookup_clear_slots(lk);
  free(lk);
}

static void dns_lookup_ask(dns_lookup_t *lk, size_t i, unsigned type,
                           const char *name)
{
  dns_slot_t *s = &lk->slot[i];
  s->lk = lk;
  s->type = type;
  memcpy(s->name, name, sizeof s->name);
  s->pending = 1;
  lk->outstanding++;
  if (lk->src->query(lk->src->ctx, s) < 0 && s->pending) {
    s->pending = 0;
    s->set.status = DNS_FAIL;
    lk->outstanding--;
  }
}

void dns_slot_answer(dns_slot_t *slot, dns_rrset_t *set)
{
  dns_lookup_t *lk = slot->lk;
  dns_rrset_clear(&slot->set);
  slot->set = *set;
  set->rr = NULL;
  set->n = 0;
  slot->pending = 0;
  slot->handle = NULL;
  lk->outstanding--;
  if (!lk->issuing && lk->outstanding == 0)
    dns_lookup_run(lk);
}

static void dns_lookup_finish(dns_lookup_t *lk, dns_status_t status)
{
  lk->status = status;
  lk->phase = LK_DONE;
}

static void dns_lookup_issue_addr(dns_lookup_t *lk)
{
  lk->phase = LK_ADDR;
  lk->issuing = 1;
  for (size_t i = 0; i < lk->nhosts; i++) {
    if (dns_is_numeric(lk->hosts[i].name))
      continue;
    dns_lookup_ask(lk, 2 * i, DNS_T_A, lk->hosts[i].name);
    if (lk->opts->ipv6)
      dns_lookup_ask(lk, 2 * i + 1, DNS_T_AAAA, lk->hosts[i].name);
  }
  lk->issuing = 0;
}

static void dns_lookup_issue_srv(dns_lookup_t *lk)
{
  lk->phase = LK_SRV;
  lk->issuing = 1;
  for (size_t i = 0; i < lk->nsrvq; i++)
    dns_lookup_ask(lk, i, DNS_T_SRV, lk->srvq[i].name);
  lk->issuing = 0;
}

/* The transport a URI means when DNS says nothing about it (4.1). */
static unsigned dns_lookup_uri_tp(const dns_uri_t *u)
{
  return u->tp ? u->tp : u->sips ? DNS_TP_TLS : DNS_TP_UDP;
}

static void dns_lookup_set_uri_host(dns_lookup_t *lk, unsigned tp)
{
  dns_host_t *h = &lk->hosts[0];
  memcpy(h->name, lk->uri.host, sizeof h->name);
  h->tp = tp;
  h->port = lk->uri.port ? lk->uri.port : dns_tp_default_port(tp);
  lk->nhosts = 1;
}

static void dns_lookup_start(dns_lookup_t *lk)
{
  const dns_uri_t *u = &lk->uri;
  if (u->numeric || u->port) {
    dns_lookup_set_uri_host(lk, dns_lookup_uri_tp(u));
    dns_lookup_issue_addr(lk);
  } else if (u->tp) {
    lk->nsrvq = dns_srv_names(u, lk->opts->tp_mask, lk->srvq, DNS_MAX_SRVQ);
    dns_lookup_issue_srv(lk);
  } else {
    lk->phase = LK_NAPTR;
    lk->issuing = 1;
    dns_lookup_ask(lk, 0, DNS_T_NAPTR, u->host);
    lk->issuing = 0;
  }
}

static void dns_lookup_after_naptr(dns_lookup_t *lk)
{
  dns_rrset_t *naptr = &lk->slot[0].set;
  if (naptr->status == DNS_NXDOMAIN || naptr->status == DNS_FAIL) {
    dns_lookup_finish(lk, naptr->status);
    return;
  }
  lk->nsrvq = dns_naptr_select(naptr, &lk->uri, lk->opts->tp_mask, lk->srvq,
                               DNS_MAX_SRVQ);
  if (lk->nsrvq == 0)
    lk->nsrvq = dns_srv_names(&lk->uri, lk->opts->tp_mask, lk->srvq,
                              DNS_MAX_SRVQ);
  dns_lookup_clear_slots(lk);
  if (lk->nsrvq == 0)
    dns_lookup_finish(lk, DNS_NXDOMAIN); /* no transport we can use */
  else
    dns_lookup_issue_srv(lk);
}

static void dns_lookup_after_srv(dns_lookup_t *lk)
{
  int failed = 0, unavailable = 0;
  for (size_t i = 0; i < lk->nsrvq; i++) {
    const dns_rrset_t *s = &lk->slot[i].set;
    failed |= s->status == DNS_FAIL;
    if (s->status == DNS_OK)
      unavailable |= dns_srv_order(s, lk->srvq[i].tp, lk->opts->rnd,
                                   lk->opts->rnd_arg, lk->hosts, &lk->nhosts,
                                   DNS_MAX_HOSTS);
  }
  dns_lookup_clear_slots(lk);
  if (lk->nhosts == 0) {
    if (failed || unavailable) {
      dns_lookup_finish(lk, failed ? DNS_FAIL : DNS_NXDOMAIN);
      return;
    }
    /* 4.2: no SRV at all, so the URI's host itself, on the transport
     * NAPTR chose (or the scheme's default) */
    dns_lookup_set_uri_host(lk, lk->nsrvq ? lk->srvq[0].tp : dns_lookup_uri_tp(&lk->uri));
  }
  dns_lookup_issue_addr(lk);
}

static void dns_lookup_after_addr(dns_lookup_t *lk)
{
  int failed = 0;
  for (size_t i = 0; i < lk->nhosts; i++) {
    const dns_host_t *h = &lk->hosts[i];
    if (dns_is_numeric(h->name)) {
      dns_targets_add(&lk->targets, h, NULL);
      continue;
    }
    for (size_t k = 2 * i; k <= 2 * i + 1; k++) {
      failed |= lk->slot[k].set.status == DNS_FAIL && lk->slot[k].type;
      dns_targets_add(&lk->targets, h, &lk->slot[k].set);
    }
  }
  dns_lookup_clear_slots(lk);
  dns_lookup_finish(lk, lk->targets.n ? DNS_OK : failed ? DNS_FAIL : DNS_NXDOMAIN);
}

void dns_lookup_run(dns_lookup_t *lk)
{
  while (lk->outstanding == 0) {
    switch (lk->phase) {
    case LK_START:
      dns_lookup_start(lk);
      break;
    case LK_NAPTR:
      dns_lookup_after_naptr(lk);
      break;
    case LK_SRV:
      dns_lookup_after_srv(lk);
      break;
    case LK_ADDR:
      dns_lookup_after_addr(lk);
      break;
    case LK_DONE:
      lk->done(lk->arg, lk->status, &lk->targets);
      dns_lookup_cancel(lk); /* nothing pending: just frees */
      return;
    }
  }
}
