/*
 * dns_lookup.h - one RFC 3263 resolution of a SIP URI into ordered next
 * hops: NAPTR, then SRV, then A/AAAA, each step's queries in parallel.
 * The answers come from a dns_source_t (the module's cache and resolver,
 * or a table in the unit tests); the lookup itself does no I/O.
 */
#ifndef DNS_LOOKUP_H
#define DNS_LOOKUP_H

#include "dns_select.h"

struct dns_lookup;

/* One query of a lookup. The source reads type and name, may keep a
 * handle, and answers through dns_slot_answer(). */
typedef struct dns_slot {
  struct dns_lookup *lk;
  void *handle; /* the source's */
  unsigned type;
  int pending;
  char name[DNS_NAME_MAX];
  dns_rrset_t set;
} dns_slot_t;

typedef struct dns_source {
  /* Starts the slot's query. The answer comes through dns_slot_answer(),
   * exactly once unless cancelled, possibly before query returns.
   * Returns 0, or -1 when no answer will come. */
  int (*query)(void *ctx, dns_slot_t *slot);
  /* The slot's answer must not be delivered any more. */
  void (*cancel)(void *ctx, dns_slot_t *slot);
  void *ctx;
} dns_source_t;

/* Delivers a slot's answer; takes over set->rr. */
void dns_slot_answer(dns_slot_t *slot, dns_rrset_t *set);

typedef struct dns_lookup_opts {
  unsigned tp_mask; /* DNS_TP_* the proxy may use */
  int ipv6;         /* also query AAAA */
  dns_rand_f rnd;
  void *rnd_arg;
} dns_lookup_opts_t;

/* status is DNS_OK with at least one target, DNS_NXDOMAIN when the name
 * or the SIP service does not exist, DNS_FAIL when DNS could not say. */
typedef void (*dns_lookup_done_f)(void *arg, dns_status_t status,
                                  const dns_targets_t *targets);

typedef struct dns_lookup dns_lookup_t;

/* NULL on no memory. src and opts must outlive the lookup. */
dns_lookup_t *dns_lookup_new(const dns_source_t *src,
                             const dns_lookup_opts_t *opts, const dns_uri_t *u,
                             dns_lookup_done_f done, void *arg);
/* Starts it; done is called once, maybe before this returns, and the
 * lookup frees itself after done returns. */
void dns_lookup_run(dns_lookup_t *lk);
/* Stops a running lookup without calling done, and frees it. */
void dns_lookup_cancel(dns_lookup_t *lk);

#endif
