/*
 * pike_table.c - the per-source rate table of the pike module: fixed-size
 * open addressing with a bounded probe range, so a packet costs a hash
 * and at most PIKE_PROBE slot compares, and nothing is ever allocated
 * after init.
 */
#define _POSIX_C_SOURCE 200809L
#include "pike_table.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lookups scan the whole probe range rather than stopping at an empty
 * slot, so the sweep may empty any slot without tombstones. */
#define PIKE_PROBE 16

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

int pike_table_init(pike_table_t *t, size_t max_sources, uint32_t window_ms,
                    uint32_t density, uint32_t block_ms, uint64_t seed)
{
  size_t n = PIKE_PROBE;
  while (n < max_sources && n < ((size_t)1 << 30))
    n <<= 1;
  memset(t, 0, sizeof *t);
  t->slots = calloc(n, sizeof *t->slots);
  if (!t->slots || !window_ms) {
    free(t->slots);
    t->slots = NULL;
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
  free(t->slots);
  t->slots = NULL;
  t->used = 0;
}

static int pike_entry_blocked(const pike_entry_t *e, uint64_t now)
{
  return e->blocked_until > now;
}

/* The slot holding addr, or the one to take for it: an empty slot, else
 * the least recently seen unblocked source, else the least recently seen. */
static pike_entry_t *pike_table_slot(pike_table_t *t, const pike_addr_t *addr,
                                     uint64_t now, int *found)
{
  size_t h = pike_hash(t, addr);
  pike_entry_t *empty = NULL, *idle = NULL, *oldest = NULL;
  for (size_t i = 0; i < PIKE_PROBE; i++) {
    pike_entry_t *e = &t->slots[(h + i) & t->mask];
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

/* Moves the window forward to the one containing now. */
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

pike_verdict_t pike_table_hit(pike_table_t *t, const pike_addr_t *addr,
                              uint64_t now, uint64_t *until)
{
  int found;
  pike_entry_t *e = pike_table_slot(t, addr, now, &found);
  if (!found) {
    if (!e->used)
      t->used++;
    memset(e, 0, sizeof *e);
    e->used = 1;
    e->addr = *addr;
    e->win_start = now;
  }
  pike_entry_roll(t, e, now);
  if (e->cur < UINT32_MAX)
    e->cur++;
  e->last_seen = now;
  pike_verdict_t v = PIKE_PASS;
  if (pike_entry_blocked(e, now)) {
    e->dropped++;
    v = PIKE_BLOCKED;
  } else if (pike_entry_rate(t, e, now) > t->density) {
    e->blocked_until = now + t->block_ms;
    e->dropped = 1;
    v = PIKE_BLOCK;
  } else {
    e->blocked_until = 0;
  }
  *until = e->blocked_until;
  return v;
}

size_t pike_table_sweep(pike_table_t *t, uint64_t now)
{
  size_t n = 0;
  uint64_t idle = 2 * (uint64_t)t->window_ms;
  for (size_t i = 0; i <= t->mask; i++) {
    pike_entry_t *e = &t->slots[i];
    if (e->used && !pike_entry_blocked(e, now) && now - e->last_seen >= idle) {
      memset(e, 0, sizeof *e);
      t->used--;
      n++;
    }
  }
  return n;
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
