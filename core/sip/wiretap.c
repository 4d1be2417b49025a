/*
 * wiretap.c - the wire tap registry: modules (hep) add a callback through
 * their instance, core/udpio.c hands each datagram to them.
 *
 * Locking rule: taps are added and removed in worker 0 (init, and the
 * instance's cleanup) while every worker runs them: taps_lock, read-held
 * while they run. tz_wiretap_count keeps the lock (and the list) off the
 * path of every datagram while no tap is registered.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/wiretap.h"
#include "lib/owner.h"
#include "runtime/gen.h"
#include "runtime/module.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct wiretap {
  struct wiretap *next, **prevp;
  tz_modinst_t *mod;
  tz_wiretap_f fn;
} wiretap_t;

atomic_uint tz_wiretap_count;
static wiretap_t *taps;
static pthread_rwlock_t taps_lock = PTHREAD_RWLOCK_INITIALIZER;

/* The tap's instance goes: so does the tap. */
static void wiretap_free(void *obj)
{
  wiretap_t *t = obj;
  pthread_rwlock_wrlock(&taps_lock);
  if ((*t->prevp = t->next))
    t->next->prevp = t->prevp;
  assert(atomic_load(&tz_wiretap_count) > 0);
  atomic_fetch_sub(&tz_wiretap_count, 1);
  pthread_rwlock_unlock(&taps_lock);
  free(t);
}

int tz_wiretap_add(tz_modinst_t *mod, tz_wiretap_f fn)
{
  wiretap_t *t = calloc(1, sizeof *t);
  if (!t)
    return -1;
  t->mod = mod;
  t->fn = fn;
  pthread_rwlock_wrlock(&taps_lock);
  if ((t->next = taps))
    taps->prevp = &t->next;
  t->prevp = &taps;
  taps = t;
  atomic_fetch_add(&tz_wiretap_count, 1);
  pthread_rwlock_unlock(&taps_lock);
  if (!tz_cleanup_add(tz_modinst_owner(mod), wiretap_free, t, NULL)) {
    wiretap_free(t);
    return -1;
  }
  return 0;
}

/* Only the calling worker's current generation's instances: during a
 * reload the old and the new instance are both registered, and an
 * instance is destroyed only once no worker serves its generation, so a
 * tap never runs on what its destroy freed. */
void tz_wiretap_run(const tz_wire_t *w)
{
  const tz_gen_t *g = tz_gen_current();
  pthread_rwlock_rdlock(&taps_lock);
  for (wiretap_t *t = taps; t; t = t->next)
    if (tz_gen_has_module(g, t->mod))
      t->fn(t->mod, w);
  pthread_rwlock_unlock(&taps_lock);
}
