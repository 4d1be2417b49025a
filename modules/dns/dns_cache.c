/*
 * dns_cache.c - the answer cache: a hash table over (type, lowercased name)
 * for lookups, and a least-recently-used list that bounds its size. Expired
 * entries go when they are next looked up or when room is needed.
 *
 * Threads: no lock; a cache is used by one thread (in the module, worker 0,
 * which owns the resolver in front of it).
 */
#define _POSIX_C_SOURCE 200809L
#include "dns_cache.h"

#include <stdlib.h>
#include <string.h>

typedef struct dns_entry {
  struct dns_entry *hnext;         /* hash chain */
  struct dns_entry *prev, *next;   /* LRU list, most recent first */
  unsigned type;
  long expires;
  dns_rrset_t set;
  char name[DNS_NAME_MAX];
} dns_entry_t;

struct dns_cache {
  size_t max, count, nbuckets;
  uint32_t negative_ttl;
  dns_entry_t *head, *tail;
  dns_entry_t **buckets;
};

static size_t dns_cache_bucket(const dns_cache_t *c, unsigned type,
                               const char *key)
{
  unsigned h = 2166136261u ^ type;
  for (const char *p = key; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h & (c->nbuckets - 1);
}

dns_cache_t *dns_cache_new(size_t max_entries, uint32_t negative_ttl)
{
  dns_cache_t *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->max = max_entries;
  c->negative_ttl = negative_ttl;
  for (c->nbuckets = 16; c->nbuckets < max_entries; c->nbuckets *= 2)
    ;
  c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
  if (!c->buckets) {
    free(c);
    return NULL;
  }
  return c;
}

static void dns_cache_unlink(dns_cache_t *c, dns_entry_t *e)
{
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void dns_cache_push_front(dns_cache_t *c, dns_entry_t *e)
{
  e->next = c->head;
  if (c->head)
    c->head->prev = e;
  c->head = e;
  if (!c->tail)
    c->tail = e;
}

static void dns_cache_remove(dns_cache_t *c, dns_entry_t *e)
{
  dns_entry_t **pp = &c->buckets[dns_cache_bucket(c, e->type, e->name)];
  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  dns_cache_unlink(c, e);
  dns_rrset_clear(&e->set);
  free(e);
  c->count--;
}

void dns_cache_free(dns_cache_t *c)
{
  if (!c)
    return;
  while (c->head)
    dns_cache_remove(c, c->head);
  free(c->buckets);
  free(c);
}

static dns_entry_t *dns_cache_find(dns_cache_t *c, unsigned type,
                                   const char *key)
{
  for (dns_entry_t *e = c->buckets[dns_cache_bucket(c, type, key)]; e; e = e->hnext)
    if (e->type == type && strcmp(e->name, key) == 0)
      return e;
  return NULL;
}

int dns_cache_get(dns_cache_t *c, unsigned type, const char *name, long now,
                  dns_rrset_t *out)
{
  char key[DNS_NAME_MAX];
  dns_name_key(name, key);
  dns_entry_t *e = dns_cache_find(c, type, key);
  if (!e)
    return 0;
  if (now >= e->expires) {
    dns_cache_remove(c, e);
    return 0;
  }
  if (dns_rrset_copy(out, &e->set) < 0)
    return 0;
  dns_cache_unlink(c, e);
  dns_cache_push_front(c, e);
  return 1;
}

uint32_t dns_cache_ttl(const dns_cache_t *c, const dns_rrset_t *s)
{
  switch (s->status) {
  case DNS_OK:
    return s->ttl;
  case DNS_NXDOMAIN:
  case DNS_NODATA:
    return s->ttl < c->negative_ttl ? s->ttl : c->negative_ttl;
  default:
    return 0;
  }
}

void dns_cache_put(dns_cache_t *c, unsigned type, const char *name,
                   const dns_rrset_t *s, long now)
{
  uint32_t ttl = dns_cache_ttl(c, s);
  if (ttl == 0 || c->max == 0)
    return;
  char key[DNS_NAME_MAX];
  dns_name_key(name, key);
  dns_entry_t *e = dns_cache_find(c, type, key);
  if (e)
    dns_cache_remove(c, e);
  if (c->count == c->max)
    dns_cache_remove(c, c->tail);
  e = calloc(1, sizeof *e);
  if (!e || dns_rrset_copy(&e->set, s) < 0) {
    free(e);
    return; /* a cache that cannot grow just misses */
  }
  e->type = type;
  e->expires = now + (long)ttl;
  memcpy(e->name, key, sizeof key);
  size_t b = dns_cache_bucket(c, type, key);
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
  dns_cache_push_front(c, e);
  c->count++;
}

size_t dns_cache_count(const dns_cache_t *c) { return c->count; }
