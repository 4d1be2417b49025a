/*
 * owner.h - owners and their cleanup lists (nginx pool cleanups, Sofia's
 * home destructors): whoever registers something with a registry on
 * behalf of an owner adds one undo entry to that owner's list, and
 * releasing the owner runs them all, newest first.
 *
 * So the owner (a module instance, the core) knows no registry, and a new
 * registry touches only its own file. Event-loop thread only.
 */
#ifndef TZ_OWNER_H
#define TZ_OWNER_H

typedef struct tz_cleanup tz_cleanup_t;
typedef void (*tz_undo_f)(void *obj);

typedef struct tz_owner {
  tz_cleanup_t *head; /* newest first */
} tz_owner_t;

/* Adds an entry that runs undo(obj) when o is released. leak: a label
 * ("timer") if an entry still there at release means the owner forgot to
 * undo it (counted by tz_owner_release), NULL if releasing it is the
 * normal way out. Returns the entry, or NULL when out of memory (nothing
 * was added). */
tz_cleanup_t *tz_cleanup_add(tz_owner_t *o, tz_undo_f undo, void *obj,
                             const char *leak);
/* The registration was undone by other means: drop its entry, unrun. */
void tz_cleanup_forget(tz_cleanup_t *c);
/* Runs and frees every entry of o, newest first; returns how many of them
 * had a leak label (*what, if not NULL, gets the last such label). */
unsigned tz_owner_release(tz_owner_t *o, const char **what);

/* The owner of what the core registers for itself: released last, when
 * the event loop goes. */
tz_owner_t *tz_core_owner(void);

#endif
