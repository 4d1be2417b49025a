/*
 * stats.c - named counters and gauges: one sorted table for the whole
 * process, looked up by name only when a counter is created, never per
 * message (callers keep the pointer).
 *
 * Threads: values are atomic (relaxed: a counter orders nothing), so any
 * worker counts without a lock. The table is guarded by stats_lock, taken
 * only to create a counter and to read them all.
 */
#define _POSIX_C_SOURCE 200809L
#include "lib/stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tz_stat {
  char *name;
  char *help;
  atomic_long value;
  atomic_int gauge;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static tz_stat_t **stats; /* sorted by name */
static size_t nstats, capstats;

tz_stat_t *tz_st_requests_in, *tz_st_replies_local, *tz_st_replies_relayed,
    *tz_st_script_errors, *tz_st_tx_inflight, *tz_st_generation,
    *tz_st_too_large;

/* Per-status and per-method counters are made on first use; cache the
 * common ones so the hot path does not search. Two workers may make the
 * same one at once: both get the same counter from the table. */
typedef _Atomic(tz_stat_t *) stat_slot_t;
static stat_slot_t reply_local[700], reply_relayed[700], requests[64];

static tz_stat_t *stats_cached(stat_slot_t *slot, const char *name)
{
  tz_stat_t *st = atomic_load_explicit(slot, memory_order_acquire);
  if (!st && (st = tz_stat_get(name, NULL)))
    atomic_store_explicit(slot, st, memory_order_release);
  return st;
}

static size_t stats_find(const char *name, int *found)
{
  size_t lo = 0, hi = nstats;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(stats[mid]->name, name);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

static tz_stat_t *stats_get_locked(const char *name, const char *help)
{
  int found;
  size_t at = stats_find(name, &found);
  if (found)
    return stats[at];
  if (nstats == capstats) {
    size_t cap = capstats ? capstats * 2 : 64;
    tz_stat_t **n = realloc(stats, cap * sizeof *n);
    if (!n)
      return NULL;
    stats = n;
    capstats = cap;
  }
  tz_stat_t *st = calloc(1, sizeof *st);
  if (!st || !(st->name = strdup(name)) ||
      (help && !(st->help = strdup(help)))) {
    if (st)
      free(st->name);
    free(st);
    return NULL;
  }
  memmove(&stats[at + 1], &stats[at], (nstats - at) * sizeof *stats);
  stats[at] = st;
  nstats++;
  return st;
}

tz_stat_t *tz_stat_get(const char *name, const char *help)
{
  pthread_mutex_lock(&stats_lock);
  tz_stat_t *st = stats_get_locked(name, help);
  pthread_mutex_unlock(&stats_lock);
  return st;
}

void tz_stat_add(tz_stat_t *st, long delta)
{
  if (st)
    atomic_fetch_add_explicit(&st->value, delta, memory_order_relaxed);
}

void tz_stat_set(tz_stat_t *st, long value)
{
  if (st) {
    atomic_store_explicit(&st->value, value, memory_order_relaxed);
    atomic_store_explicit(&st->gauge, 1, memory_order_relaxed);
  }
}

int tz_stats_init(void)
{
  tz_st_requests_in = tz_stat_get("sip.requests", "requests received");
  tz_st_replies_local = tz_stat_get("sip.replies.local", "replies we made");
  tz_st_replies_relayed = tz_stat_get("sip.replies.relayed", "replies relayed upstream");
  tz_st_script_errors = tz_stat_get("script.errors", "script runs ended by a runtime error");
  tz_st_tx_inflight = tz_stat_get("tm.inflight", "relaying transactions in progress");
  tz_st_generation = tz_stat_get("core.generation", "id of the serving generation");
  tz_st_too_large = tz_stat_get("sip.too_large", "messages over max_msg_size, not processed");
  tz_stat_set(tz_st_tx_inflight, 0);
  tz_stat_set(tz_st_generation, 0);
  return tz_st_requests_in && tz_st_replies_local && tz_st_replies_relayed &&
                 tz_st_script_errors && tz_st_tx_inflight && tz_st_generation &&
                 tz_st_too_large
             ? 0
             : -1;
}

void tz_stats_deinit(void)
{
  for (size_t i = 0; i < nstats; i++) {
    free(stats[i]->name);
    free(stats[i]->help);
    free(stats[i]);
  }
  free(stats);
  stats = NULL;
  nstats = capstats = 0;
  stat_slot_t *slots[] = {reply_local, reply_relayed, requests};
  size_t lens[] = {700, 700, 64};
  for (size_t k = 0; k < 3; k++)
    for (size_t i = 0; i < lens[k]; i++)
      atomic_store(&slots[k][i], NULL);
}

void tz_stats_request(int method, const char *name)
{
  tz_stat_add(tz_st_requests_in, 1);
  /* Known methods get a counter each, cached by code. Extension methods
   * share one: their names come from the network, and a counter per name
   * would let anyone grow the table without bound. */
  int known = method > 0 && method < (int)(sizeof requests / sizeof *requests);
  stat_slot_t *slot = &requests[known ? method : 0];
  char full[80] = "";
  if (!atomic_load_explicit(slot, memory_order_relaxed))
    snprintf(full, sizeof full, "sip.requests.%s", known ? name : "other");
  tz_stat_add(stats_cached(slot, full), 1);
}

void tz_stats_reply(int status, int relayed)
{
  if (status < 100 || status > 699)
    return;
  stat_slot_t *slot = &(relayed ? reply_relayed : reply_local)[status];
  char name[64] = "";
  if (!atomic_load_explicit(slot, memory_order_relaxed))
    snprintf(name, sizeof name, "sip.replies.%s.%d",
             relayed ? "relayed" : "local", status);
  tz_stat_add(relayed ? tz_st_replies_relayed : tz_st_replies_local, 1);
  tz_stat_add(stats_cached(slot, name), 1);
}

void tz_stats_each(void (*fn)(const tz_stat_t *st, void *arg), void *arg)
{
  pthread_mutex_lock(&stats_lock);
  for (size_t i = 0; i < nstats; i++)
    fn(stats[i], arg);
  pthread_mutex_unlock(&stats_lock);
}

const char *tz_stat_name(const tz_stat_t *st) { return st->name; }
const char *tz_stat_help(const tz_stat_t *st) { return st->help; }
long tz_stat_value(const tz_stat_t *st)
{
  return atomic_load_explicit(&st->value, memory_order_relaxed);
}

int tz_stat_is_gauge(const tz_stat_t *st)
{
  return atomic_load_explicit(&st->gauge, memory_order_relaxed);
}

