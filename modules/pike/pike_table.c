/*
 * pike_table.c - the per-source rate table of the pike module: fixed-size
 * open addressing with a bounded probe range, so a packet costs a hash
 * and at most PIKE_PROBE slot compares, and nothing is ever allocated
 * after init.
 *
 * Locking rule (see pike_table.h): the probe range is an aligned group of
 * PIKE_PROBE slots, so one stripe lock covers all a hit touches; it is
 * held for the compares and the count, never across a call out.
 */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "pike_table.h"

#include <arpa/inet.h>
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lookups scan the whole probe range rather than stopping at an empty
 * slot, so the sweep may empty any slot without tombstones. */
#define PIKE_PROBE 16
/* Stripes: enough that workers seldom meet on one. */
#define PIKE_LOCKS 256

/* On its own cache line, so workers on other stripes do not slow it. */
struct pike_lock {
  _Alignas(64) pthread_mutex_t mu;
  size_t used; /* used slots in the groups of this stripe */
};

static uint64_t pike_mix(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Seeded, so a flood cannot be aimed at one probe range. */
static size_t pike_hash(const pike_table_t *t, const pike_addr_t *a)
{
  uint64_t hi, lo;
  memcpy(&hi, a->b, 8);
  memcpy(&lo, a->b + 8, 8);
  return (size_t)pike_mix(pike_mix(hi ^ t->seed) ^ lo);
}

/* The first slot of addr's group. */
static size_t pike_group(const pike_table_t *t, const pike_addr_t *a)
{
  return pike_hash(t, a) & t->mask & ~(size_t)(PIKE_PROBE - 1);
}

/* The stripe of the group starting at slot g. */
static struct pike_lock *pike_lock_of(const pike_table_t *t, size_t g)
{
  assert(g % PIKE_PROBE == 0 && g <= t->mask);
  return &t->locks[(g / PIKE_PROBE) & t->lock_mask];
}

/* Adaptive: a hit holds its lock for a few compares and stores, so a
 * worker that finds it taken spins a little instead of sleeping. */
static void pike_mutex_init(pthread_mutex_t *mu)
{
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
  pthread_mutex_init(mu, &a);
  pthread_mutexattr_destroy(&a);
}

/* One stripe per group up to PIKE_LOCKS; groups is a power of two. */
static int pike_locks_new(pike_table_t *t, size_t groups)
{
  size_t n = groups < PIKE_LOCKS ? groups : PIKE_LOCKS;
  t->locks = aligned_alloc(_Alignof(struct pike_lock), n * sizeof *t->locks);
  if (!t->locks)
    return -1;
  for (size_t i = 0; i < n; i++) {
    pike_mutex_init(&t->locks[i].mu);
    t->locks[i].used = 0;
  }
  t->lock_mask = n - 1;
  return 0;
}

int pike_table_init(pike_table_t *t, size_t max_sources, uint32_t window_ms,
                    uint32_t density, uint32_t block_ms, uint64_t seed)
{
  size_t n = PIKE_PROBE;
  while (n < max_sources && n < ((size_t)1 << 30))
    n <<= 1;
  memset(t, 0, sizeof *t);
  if (!window_ms || pike_locks_new(t, n / PIKE_PROBE) < 0)
    return -1;
  t->slots = calloc(n, sizeof *t->slots);
  if (!t->slots) {
    pike_table_free(t);
    return -1;
  }
  t->mask = n - 1;
  t->seed = seed;
  t->window_ms = window_ms;
  t->density = density;
  t->block_ms = block_ms;
  return 0;
}

void pike_table_free(pike_table_t *t)
{
  for (size_t i = 0; t->locks && i <= t->lock_mask; i++)
    pthread_mutex_destroy(&t->locks[i].mu);
  free(t->locks);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static int pike_entry_blocked(const pike_entry_t *e, uint64_t now)
{
  return e->blocked_until > now;
}

/* The slot of group g holding addr, or the one to take for it: an empty
 * slot, else the least recently seen unblocked source, else the least
 * recently seen. */
static pike_entry_t *pike_table_slot(pike_table_t *t, size_t g,
                                     const pike_addr_t *addr, uint64_t now,
                                     int *found)
{
  pike_entry_t *empty = NULL, *idle = NULL, *oldest = NULL;
  for (size_t i = 0; i < PIKE_PROBE; i++) {
    pike_entry_t *e = &t->slots[g + i];
    if (!e->used) {
      if (!empty)
        empty = e;
      continue;
    }
    if (memcmp(&e->addr, addr, sizeof *addr) == 0) {
      *found = 1;
      return e;
    }
    if (!pike_entry_blocked(e, now) && (!idle || e->last_seen < idle->last_seen))
      idle = e;
    if (!oldest || e->last_seen < oldest->last_seen)
      oldest = e;
  }
  *found = 0;
  return empty ? empty : idle ? idle : oldest;
}

/* addr's entry in group g, made (or taken from another source) if it has
 * none. Called with the group's stripe l locked. */
static pike_entry_t *pike_entry_take(pike_table_t *t, struct pike_lock *l,
                                     size_t g, const pike_addr_t *addr,
                                     uint64_t now)
{
  int found;
  pike_entry_t *e = pike_table_slot(t, g, addr, now, &found);
  if (!found) {
    if (!e->used)
      l->used++;
    memset(e, 0, sizeof *e);
    e->used = 1;
    e->addr = *addr;
    e->win_start = now;
  }
  return e;
}

/* Moves the window forward to the one containing now. Workers read the
 * clock each on its own, so now may lag the window's start a little: the
 * request then counts in the current window. */
static void pike_entry_roll(const pike_table_t *t, pike_entry_t *e,
                            uint64_t now)
{
  if (now < e->win_start + t->window_ms)
    return;
  uint64_t n = (now - e->win_start) / t->window_ms;
  e->prev = n == 1 ? e->cur : 0;
  e->cur = 0;
  e->win_start += n * t->window_ms;
}

uint32_t pike_entry_rate(const pike_table_t *t, const pike_entry_t *e,
                         uint64_t now)
{
  uint64_t into = now > e->win_start ? now - e->win_start : 0;
  if (into >= 2 * (uint64_t)t->window_ms)
    return 0;
  if (into >= t->window_ms)
    return (uint32_t)((uint64_t)e->cur * (2 * t->window_ms - into) / t->window_ms);
  return (uint32_t)((uint64_t)e->prev * (t->window_ms - into) / t->window_ms) +
         e->cur;
}

/* Counts one request on e and judges it. Called with e's stripe locked. */
static pike_verdict_t pike_entry_count(const pike_table_t *t, pike_entry_t *e,
                                       uint64_t now)
{
  pike_entry_roll(t, e, now);
  if (e->cur < UINT32_MAX)
    e->cur++;
  e->last_seen = now;
  if (pike_entry_blocked(e, now)) {
    e->dropped++;
    return PIKE_BLOCKED;
  }
  if (pike_entry_rate(t, e, now) > t->density) {
    e->blocked_until = now + t->block_ms;
    e->dropped = 1;
    return PIKE_BLOCK;
  }
  e->blocked_until = 0;
  return PIKE_PASS;
}

pike_verdict_t pike_table_hit(pike_table_t *t, const pike_addr_t *addr,
                              uint64_t now, uint64_t *until)
{
  size_t g = pike_group(t, addr);
  struct pike_lock *l = pike_lock_of(t, g);
  pthread_mutex_lock(&l->mu);
  pike_entry_t *e = pike_entry_take(t, l, g, addr, now);
  pike_verdict_t v = pike_entry_count(t, e, now);
  *until = e->blocked_until;
  pthread_mutex_unlock(&l->mu);
  return v;
}

/* The sweep of group g, with its stripe l locked. A worker may have seen
 * a source after the sweep read the clock: last_seen can exceed now. */
static size_t pike_group_sweep(pike_table_t *t, struct pike_lock *l, size_t g,
                               uint64_t now)
{
  size_t n = 0;
  uint64_t idle = 2 * (uint64_t)t->window_ms;
  for (size_t i = 0; i < PIKE_PROBE; i++) {
    pike_entry_t *e = &t->slots[g + i];
    if (e->used && !pike_entry_blocked(e, now) && e->last_seen + idle <= now) {
      memset(e, 0, sizeof *e);
      l->used--;
      n++;
    }
  }
  return n;
}

/* One group at a time, so a hit never waits for more than one group. */
size_t pike_table_sweep(pike_table_t *t, uint64_t now)
{
  size_t n = 0;
  for (size_t g = 0; g <= t->mask; g += PIKE_PROBE) {
    struct pike_lock *l = pike_lock_of(t, g);
    pthread_mutex_lock(&l->mu);
    n += pike_group_sweep(t, l, g, now);
    pthread_mutex_unlock(&l->mu);
  }
  return n;
}

size_t pike_table_used(pike_table_t *t)
{
  size_t n = 0;
  for (size_t i = 0; i <= t->lock_mask; i++) {
    pthread_mutex_lock(&t->locks[i].mu);
    n += t->locks[i].used;
    pthread_mutex_unlock(&t->locks[i].mu);
  }
  return n;
}

/* Copies group g's sources blocked at now into out; returns how many. */
static size_t pike_group_blocked(pike_table_t *t, size_t g, uint64_t now,
                                 pike_entry_t out[PIKE_PROBE])
{
  struct pike_lock *l = pike_lock_of(t, g);
  size_t n = 0;
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < PIKE_PROBE; i++)
    if (t->slots[g + i].used && pike_entry_blocked(&t->slots[g + i], now))
      out[n++] = t->slots[g + i];
  pthread_mutex_unlock(&l->mu);
  return n;
}

void pike_table_each_blocked(pike_table_t *t, uint64_t now, pike_each_f fn,
                             void *arg)
{
  pike_entry_t copy[PIKE_PROBE];
  for (size_t g = 0; g <= t->mask; g += PIKE_PROBE) {
    size_t n = pike_group_blocked(t, g, now, copy);
    for (size_t i = 0; i < n; i++)
      fn(&copy[i], arg);
  }
}

int pike_addr_parse(const char *s, pike_addr_t *a)
{
  struct in_addr v4;
  memset(a, 0, sizeof *a);
  if (inet_pton(AF_INET, s, &v4) == 1) {
    a->b[10] = a->b[11] = 0xff;
    memcpy(a->b + 12, &v4, 4);
    return 0;
  }
  return inet_pton(AF_INET6, s, a->b) == 1 ? 0 : -1;
}

void pike_addr_format(const pike_addr_t *a, char *buf, size_t len)
{
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a->b, mapped, sizeof mapped) == 0)
    inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
  else
    inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
}
