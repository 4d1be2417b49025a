/*
 * dns_zone.c - the static zone: a flat array of records, scanned per
 * query. It is meant for a test's fixtures and a handful of operator
 * overrides, not for a real zone's thousands of names.
 *
 * Semantics. A name with records answers from the zone for the types it
 * has; other types go to the next source (the resolver), unless the
 * source is zone-only. An NXDOMAIN mark answers NXDOMAIN for every type.
 * Zone-only, a name the zone lacks is NXDOMAIN, and a type it lacks
 * NODATA; a name with records below it exists (an empty non-terminal,
 * e.g. biloxi.test when only _sip._udp.biloxi.test has records), so its
 * NAPTR query gets NODATA and the lookup goes on to SRV, as real DNS does.
 *
 * Threads and locking: the zone is written by control commands, which run
 * in worker 0, and read by lookups. dns.c runs every lookup in worker 0
 * too, but the zone does not rely on that: a read-write lock guards the
 * array, so a lookup may read it from any thread (the test harness, or a
 * worker answering from the zone without the trip to worker 0). Answers
 * are copies, so nothing read outlives the read lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "dns_zone.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trapezoid/trapezoid.h>

struct dns_zone {
  pthread_rwlock_t lock;
  dns_zone_rec_t *rec;
  size_t n, cap;
};

dns_zone_t *dns_zone_new(void)
{
  dns_zone_t *z = calloc(1, sizeof *z);
  if (z && pthread_rwlock_init(&z->lock, NULL) != 0) {
    free(z);
    return NULL;
  }
  return z;
}

void dns_zone_free(dns_zone_t *z)
{
  if (!z)
    return;
  pthread_rwlock_destroy(&z->lock);
  free(z->rec);
  free(z);
}

/* ---- writing ------------------------------------------------------------------ */

/* Records and an NXDOMAIN mark on one name contradict each other. */
static int dns_zone_conflicts(const dns_zone_t *z, const dns_zone_rec_t *rec)
{
  int nx = rec->rr.type == DNS_ZONE_NXDOMAIN;
  for (size_t i = 0; i < z->n; i++)
    if (strcmp(z->rec[i].name, rec->name) == 0 &&
        (z->rec[i].rr.type == DNS_ZONE_NXDOMAIN) != nx)
      return 1;
  return 0;
}

static int dns_zone_grow(dns_zone_t *z)
{
  if (z->n < z->cap)
    return 0;
  size_t cap = z->cap ? 2 * z->cap : 16;
  dns_zone_rec_t *r = realloc(z->rec, cap * sizeof *r);
  if (!r)
    return -1;
  z->rec = r;
  z->cap = cap;
  return 0;
}

int dns_zone_add(dns_zone_t *z, const dns_zone_rec_t *rec, char *err,
                 size_t errlen)
{
  dns_zone_rec_t r = *rec;
  dns_name_key(rec->name, r.name);
  pthread_rwlock_wrlock(&z->lock);
  int rc = dns_zone_conflicts(z, &r) ? 1 : dns_zone_grow(z);
  if (rc == 0)
    z->rec[z->n++] = r;
  pthread_rwlock_unlock(&z->lock);
  if (rc > 0)
    snprintf(err, errlen, "%s has %s in the zone", r.name,
             r.rr.type == DNS_ZONE_NXDOMAIN ? "records" : "NXDOMAIN");
  else if (rc < 0)
    snprintf(err, errlen, "out of memory");
  return rc ? -1 : 0;
}

size_t dns_zone_clear(dns_zone_t *z)
{
  pthread_rwlock_wrlock(&z->lock);
  size_t n = z->n;
  free(z->rec);
  z->rec = NULL;
  z->n = z->cap = 0;
  pthread_rwlock_unlock(&z->lock);
  return n;
}

void dns_zone_each(dns_zone_t *z, void (*fn)(void *arg, const dns_zone_rec_t *rec),
                   void *arg)
{
  pthread_rwlock_rdlock(&z->lock);
  for (size_t i = 0; i < z->n; i++)
    fn(arg, &z->rec[i]);
  pthread_rwlock_unlock(&z->lock);
}

/* ---- answering ---------------------------------------------------------------- */

/* What the zone holds for one (type, key). */
typedef struct dns_zone_hit {
  size_t n;      /* records of the type */
  uint32_t ttl;  /* their smallest, or the NXDOMAIN mark's */
  int nx;        /* an NXDOMAIN mark */
  int exists;    /* records of any type at the name or below it */
} dns_zone_hit_t;

/* True if owner lies below key: "_sip._udp.b.test" below "b.test". */
static int dns_zone_below(const char *owner, const char *key)
{
  size_t lo = strlen(owner), lk = strlen(key);
  return lo > lk && owner[lo - lk - 1] == '.' && strcmp(owner + lo - lk, key) == 0;
}

static void dns_zone_scan(const dns_zone_t *z, unsigned type, const char *key,
                          dns_zone_hit_t *h)
{
  *h = (dns_zone_hit_t){0, UINT32_MAX, 0, 0};
  for (size_t i = 0; i < z->n; i++) {
    const dns_zone_rec_t *r = &z->rec[i];
    int at = strcmp(r->name, key) == 0;
    h->exists |= at || dns_zone_below(r->name, key);
    h->nx |= at && r->rr.type == DNS_ZONE_NXDOMAIN;
    if (at && (r->rr.type == type || r->rr.type == DNS_ZONE_NXDOMAIN)) {
      h->n += r->rr.type == type;
      h->ttl = r->ttl < h->ttl ? r->ttl : h->ttl;
    }
  }
}

static int dns_zone_copy(const dns_zone_t *z, unsigned type, const char *key,
                         const dns_zone_hit_t *h, dns_rrset_t *out)
{
  if (!(out->rr = malloc(h->n * sizeof *out->rr)))
    return -1;
  for (size_t i = 0; i < z->n; i++)
    if (z->rec[i].rr.type == type && strcmp(z->rec[i].name, key) == 0)
      out->rr[out->n++] = z->rec[i].rr;
  out->status = DNS_OK;
  out->ttl = h->ttl;
  return 1;
}

int dns_zone_answer(dns_zone_t *z, unsigned type, const char *name, int only,
                    dns_rrset_t *out)
{
  char key[DNS_NAME_MAX];
  dns_zone_hit_t h;
  int rc = 1;
  dns_name_key(name, key);
  *out = (dns_rrset_t){DNS_NXDOMAIN, 0, 0, NULL};
  pthread_rwlock_rdlock(&z->lock);
  dns_zone_scan(z, type, key, &h);
  if (h.nx)
    out->ttl = h.ttl;
  else if (h.n)
    rc = dns_zone_copy(z, type, key, &h, out);
  else if (!only)
    rc = 0;
  else if (h.exists)
    out->status = DNS_NODATA;
  pthread_rwlock_unlock(&z->lock);
  return rc;
}

/* ---- the source ---------------------------------------------------------------- */

static int dns_zone_query(void *ctx, dns_slot_t *slot)
{
  dns_zone_source_t *zs = ctx;
  dns_rrset_t set;
  int rc = dns_zone_answer(zs->zone, slot->type, slot->name, zs->only, &set);
  if (rc == 0)
    return zs->next->query(zs->next->ctx, slot);
  if (rc < 0)
    return -1;
  tz_log(TZ_LOG_DBG, "dns: %s type %u from the zone", slot->name, slot->type);
  dns_slot_answer(slot, &set);
  return 0;
}

/* The zone answers at once, so a query still pending is next's. */
static void dns_zone_cancel(void *ctx, dns_slot_t *slot)
{
  dns_zone_source_t *zs = ctx;
  zs->next->cancel(zs->next->ctx, slot);
}

void dns_zone_source_init(dns_zone_source_t *zs, dns_zone_t *zone,
                          const dns_source_t *next, int only)
{
  assert(next || only);
  zs->src = (dns_source_t){dns_zone_query, dns_zone_cancel, zs};
  zs->zone = zone;
  zs->next = next;
  zs->only = only;
}
