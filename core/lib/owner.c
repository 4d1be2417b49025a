/*
 * owner.c - cleanup lists: one per owner, one undo entry per registration.
 * Owns the entries; the registries own what the entries point at.
 */
#define _POSIX_C_SOURCE 200809L
#include "lib/owner.h"

#include <assert.h>
#include <stdlib.h>

struct tz_cleanup {
  tz_cleanup_t *next, **prevp;
  tz_undo_f undo;
  void *obj;
  const char *leak;
};

static tz_owner_t core_owner;

tz_owner_t *tz_core_owner(void) { return &core_owner; }

tz_cleanup_t *tz_cleanup_add(tz_owner_t *o, tz_undo_f undo, void *obj,
                             const char *leak)
{
  assert(o && undo);
  tz_cleanup_t *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->undo = undo;
  c->obj = obj;
  c->leak = leak;
  if ((c->next = o->head))
    c->next->prevp = &c->next;
  c->prevp = &o->head;
  o->head = c;
  return c;
}

static void cleanup_unlink(tz_cleanup_t *c)
{
  assert(*c->prevp == c);
  if ((*c->prevp = c->next))
    c->next->prevp = c->prevp;
}

void tz_cleanup_forget(tz_cleanup_t *c)
{
  if (!c)
    return;
  cleanup_unlink(c);
  free(c);
}

/* An undo may add or forget other entries of the same owner: take one
 * entry off at a time. */
unsigned tz_owner_release(tz_owner_t *o, const char **what)
{
  unsigned leaks = 0;
  while (o->head) {
    tz_cleanup_t *c = o->head;
    cleanup_unlink(c);
    if (c->leak) {
      leaks++;
      if (what)
        *what = c->leak;
    }
    tz_undo_f undo = c->undo;
    void *obj = c->obj;
    free(c);
    undo(obj);
  }
  return leaks;
}
