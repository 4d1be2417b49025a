/*
 * dns_sres.h - the module's answer source: Sofia's asynchronous sres
 * resolver, driven by the core's event loop (fd watches and a timer owned
 * by the module instance), in front of it the bounded answer cache.
 */
#ifndef DNS_SRES_H
#define DNS_SRES_H

#include "dns_lookup.h"
#include <trapezoid/trapezoid.h>

typedef struct dns_resolver dns_resolver_t;

typedef struct dns_resolver_conf {
  const char *resolv_conf; /* file to read; NULL or "" for the system's */
  const char *nameserver;  /* "IP" or "IP:PORT" (IPv6 in []); overrides */
  unsigned timeout_ms; /* a query not answered by then has failed */
  size_t cache_size;
  uint32_t negative_ttl;
} dns_resolver_conf_t;

/* NULL with a message in err. */
dns_resolver_t *dns_resolver_new(tz_modinst_t *mod,
                                 const dns_resolver_conf_t *conf, char *err,
                                 size_t errlen);
/* Drops every query still running (no answers are delivered), closes the
 * resolver and frees the cache. */
void dns_resolver_free(dns_resolver_t *r);
/* The source lookups read from; valid while r lives. */
const dns_source_t *dns_resolver_source(dns_resolver_t *r);

#endif
