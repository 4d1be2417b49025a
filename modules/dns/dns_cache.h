/*
 * dns_cache.h - a bounded cache of DNS answers keyed by (type, name), kept
 * for their TTL; negative answers too, for at most negative_ttl. The
 * clock is an argument, so tests drive time themselves.
 */
#ifndef DNS_CACHE_H
#define DNS_CACHE_H

#include "dns_select.h"

typedef struct dns_cache dns_cache_t;

/* max_entries 0 makes a cache that keeps nothing. NULL on no memory. */
dns_cache_t *dns_cache_new(size_t max_entries, uint32_t negative_ttl);
void dns_cache_free(dns_cache_t *c);

/* 1 and a copy of the live answer in *out (dns_rrset_clear it), or 0. */
int dns_cache_get(dns_cache_t *c, unsigned type, const char *name, long now,
                  dns_rrset_t *out);
/* Keeps a copy of s for as long as dns_cache_ttl() allows, evicting the
 * least recently used entry when full. */
void dns_cache_put(dns_cache_t *c, unsigned type, const char *name,
                   const dns_rrset_t *s, long now);
/* Seconds an answer may be kept: its TTL; NXDOMAIN and NODATA at most
 * negative_ttl; failures never. */
uint32_t dns_cache_ttl(const dns_cache_t *c, const dns_rrset_t *s);
size_t dns_cache_count(const dns_cache_t *c);

#endif
