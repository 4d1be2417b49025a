/*
 * dns_zone.h - static DNS records served before the resolver: the script
 * tests' "dns" fixtures and operators' local overrides (/etc/hosts, but
 * for NAPTR and SRV too). The zone is a set of records, each (name, type,
 * data, TTL), or an NXDOMAIN mark on a name; dns_zone_source_t puts it
 * in front of another source (the cache and resolver) for lookups.
 */
#ifndef DNS_ZONE_H
#define DNS_ZONE_H

#include "dns_lookup.h"

#include <trapezoid/json.h>

/* The rr.type of an NXDOMAIN mark: the name does not exist. */
#define DNS_ZONE_NXDOMAIN 0

typedef struct dns_zone_rec {
  char name[DNS_NAME_MAX]; /* as dns_name_key() made it */
  uint32_t ttl;
  dns_rr_t rr;
  /* NAPTR: shown, not used; RFC 3263 follows the replacement only */
  char regexp[DNS_NAME_MAX];
} dns_zone_rec_t;

typedef struct dns_zone dns_zone_t;

/* NULL on no memory. */
dns_zone_t *dns_zone_new(void);
void dns_zone_free(dns_zone_t *z);
/* Adds a copy of rec, its name in any case, with or without the final
 * dot. 0, or -1 with a message in err: out of memory, or records and an
 * NXDOMAIN mark on one name. */
int dns_zone_add(dns_zone_t *z, const dns_zone_rec_t *rec, char *err,
                 size_t errlen);
/* Drops every record; returns how many there were. */
size_t dns_zone_clear(dns_zone_t *z);
/* Calls fn for every record, in the order they were added. fn must not
 * change the zone. */
void dns_zone_each(dns_zone_t *z, void (*fn)(void *arg, const dns_zone_rec_t *rec),
                   void *arg);

/* What the zone says about (type, name): 1 with the answer in *out
 * (dns_rrset_clear it), 0 if it does not know, -1 on no memory. With
 * only, it knows every name: one it lacks is NXDOMAIN, unless records
 * lie below it (an empty non-terminal: NODATA, as real DNS says). */
int dns_zone_answer(dns_zone_t *z, unsigned type, const char *name, int only,
                    dns_rrset_t *out);

/* The zone in front of next: what the zone does not know goes to next,
 * unless only. Fill it with dns_zone_source_init; lookups read src. */
typedef struct dns_zone_source {
  dns_source_t src;
  dns_zone_t *zone;
  const dns_source_t *next; /* NULL when only */
  int only;
} dns_zone_source_t;

void dns_zone_source_init(dns_zone_source_t *zs, dns_zone_t *zone,
                          const dns_source_t *next, int only);

/* ---- control (dns_zone_json.c) ---------------------------------------------- */

/* dns.zone_add's params ({"type", "name", per type its fields, "ttl"})
 * into a record added to z. 0, or a JSON-RPC error code (-32602 bad
 * params, -32000 refused) with a message in err. */
int dns_zone_add_json(dns_zone_t *z, const tz_json_t *params, char *err,
                      size_t errlen);
/* The zone as a JSON array of objects with zone_add's members. */
void dns_zone_write_json(dns_zone_t *z, tz_jbuf_t *out);

#endif
