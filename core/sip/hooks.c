/*
 * hooks.c - lists of modules' callbacks (hooks.h says who changes and who
 * runs them, and the locking rule).
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/hooks.h"
#include "lib/owner.h"
#include "runtime/module.h"

#include <assert.h>
#include <stdlib.h>

/* The hook's instance goes: so does the hook. */
static void hooks_free(void *obj)
{
  tz_hook_t *h = obj;
  tz_hooks_t *l = h->list;
  pthread_rwlock_wrlock(&l->lock);
  if ((*h->prevp = h->next))
    h->next->prevp = h->prevp;
  assert(atomic_load(&l->count) > 0);
  atomic_fetch_sub(&l->count, 1);
  pthread_rwlock_unlock(&l->lock);
  free(h);
}

int tz_hooks_add(tz_hooks_t *l, tz_modinst_t *mod, void (*fn)(void))
{
  tz_hook_t *h = calloc(1, sizeof *h);
  if (!h)
    return -1;
  *h = (tz_hook_t){.list = l, .mod = mod, .fn = fn};
  pthread_rwlock_wrlock(&l->lock);
  if ((h->next = l->head))
    l->head->prevp = &h->next;
  h->prevp = &l->head;
  l->head = h;
  atomic_fetch_add(&l->count, 1);
  pthread_rwlock_unlock(&l->lock);
  if (!tz_cleanup_add(tz_modinst_owner(mod), hooks_free, h, NULL)) {
    hooks_free(h);
    return -1;
  }
  return 0;
}

void tz_hooks_read(tz_hooks_t *l) { pthread_rwlock_rdlock(&l->lock); }

void tz_hooks_done(tz_hooks_t *l) { pthread_rwlock_unlock(&l->lock); }
