/*
 * hooks.h - a list of modules' callbacks that every worker runs and worker
 * 0 changes (hooks.c): relay.c's relay hooks, wiretap.c's taps. Each entry
 * belongs to a module instance and goes with it (its cleanup list).
 *
 * Locking rule: entries are added and removed in worker 0 under the
 * list's rwlock, which walkers read-hold while the callbacks run; the
 * count lets a caller skip the lock (and the walk) with one relaxed load
 * while the list is empty.
 */
#ifndef TZ_HOOKS_H
#define TZ_HOOKS_H

#include <trapezoid/trapezoid.h>

#include <pthread.h>
#include <stdatomic.h>

typedef struct tz_hook {
  struct tz_hook *next, **prevp;
  struct tz_hooks *list;
  tz_modinst_t *mod;
  void (*fn)(void); /* the list's own callback type: its owner casts back */
} tz_hook_t;

typedef struct tz_hooks {
  tz_hook_t *head;
  atomic_uint count;
  pthread_rwlock_t lock;
} tz_hooks_t;

#define TZ_HOOKS_INIT {NULL, 0, PTHREAD_RWLOCK_INITIALIZER}

/* Adds fn for mod (newest first) until mod is destroyed. 0, or -1 when
 * out of memory. */
int tz_hooks_add(tz_hooks_t *l, tz_modinst_t *mod, void (*fn)(void));

static inline int tz_hooks_any(tz_hooks_t *l)
{
  return atomic_load_explicit(&l->count, memory_order_relaxed) != 0;
}

/* Bracket a walk of l->head: no entry goes while it runs. */
void tz_hooks_read(tz_hooks_t *l);
void tz_hooks_done(tz_hooks_t *l);

#endif
