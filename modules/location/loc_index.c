/*
 * loc_index.c - the in-memory binding store every lookup reads: binding
 * sets, the AOR hash table, and the expiry heap.
 *
 * Locking rule: none here. An index is one stripe of a store, and
 * location.c holds that stripe's lock around every call: shared for the
 * functions that take a const index (they write nothing, not even a
 * cache), exclusive for the others. Sets are immutable once built, so any
 * thread may build one (the writer builds the sets it reads back) and read
 * one it holds a reference to; only refs changes, atomically.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc.h"

#include <limits.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/su_alloc.h>

/* ---- binding sets --------------------------------------------------------- */

/* The string members of tz_binding_t, so sizing and copying stay in step
 * with the struct. */
static const size_t set_str_fields[] = {
  offsetof(tz_binding_t, contact),   offsetof(tz_binding_t, received),
  offsetof(tz_binding_t, path),      offsetof(tz_binding_t, callid),
  offsetof(tz_binding_t, user_agent), offsetof(tz_binding_t, socket),
  offsetof(tz_binding_t, instance),  offsetof(tz_binding_t, methods),
  offsetof(tz_binding_t, branch),
};
#define SET_NSTR (sizeof set_str_fields / sizeof set_str_fields[0])

static const char **set_str_at(tz_binding_t *b, size_t i)
{
  return (const char **)(void *)((char *)b + set_str_fields[i]);
}

static size_t set_measure_binding(const tz_binding_t *b)
{
  size_t bytes = 0;
  for (size_t i = 0; i < SET_NSTR; i++) {
    const char *s = *set_str_at((tz_binding_t *)b, i);
    if (s)
      bytes += strlen(s) + 1;
  }
  return bytes;
}

/* Copies *src into *dst with its strings at p; returns the end of them. */
static char *set_copy_binding(tz_binding_t *dst, const tz_binding_t *src,
                              char *p)
{
  *dst = *src;
  for (size_t i = 0; i < SET_NSTR; i++) {
    const char **s = set_str_at(dst, i);
    if (*s) {
      size_t len = strlen(*s) + 1;
      memcpy(p, *s, len);
      *s = p;
      p += len;
    }
  }
  return p;
}

/* Bytes for the live bindings of b[0..n-1] (expires > now) and their
 * strings; *live gets their count. */
static size_t set_measure(const tz_binding_t *b, size_t n, long now,
                          size_t *live)
{
  size_t bytes = 0;
  *live = 0;
  for (size_t i = 0; i < n; i++)
    if (b[i].expires > now) {
      bytes += sizeof b[i] + set_measure_binding(&b[i]);
      (*live)++;
    }
  return bytes;
}

/* Copies the live bindings of src into out[], strings after out[live-1]. */
static void set_copy_live(tz_binding_t *out, size_t live,
                          const tz_binding_t *src, size_t n, long now)
{
  char *p = (char *)(out + live);
  for (size_t i = 0, j = 0; i < n; i++)
    if (src[i].expires > now)
      p = set_copy_binding(&out[j++], &src[i], p);
}

/* An unspecified q ranks as 1.0, the RFC 3261 default. */
static int set_q(const tz_binding_t *b) { return b->q < 0 ? 1000 : b->q; }

static int set_better(const tz_binding_t *a, const tz_binding_t *b)
{
  if (set_q(a) != set_q(b))
    return set_q(a) > set_q(b);
  return a->last_modified > b->last_modified;
}

/* Insertion sort: sets are small and equal bindings keep the UA's order. */
static void set_sort(tz_binding_t *b, size_t n)
{
  for (size_t i = 1; i < n; i++) {
    tz_binding_t x = b[i];
    size_t j = i;
    for (; j > 0 && set_better(&x, &b[j - 1]); j--)
      b[j] = b[j - 1];
    b[j] = x;
  }
}

/* Builds a set from the bindings of b[0..n-1] that expire after `after`. */
static loc_set_t *set_build(const tz_binding_t *b, size_t n, long after)
{
  size_t live;
  size_t bytes = set_measure(b, n, after, &live);
  loc_set_t *s = malloc(sizeof *s + bytes);
  if (!s)
    return NULL;
  atomic_init(&s->refs, 1);
  s->n = live;
  set_copy_live(s->b, live, b, n, after);
  s->min_expires = LONG_MAX;
  for (size_t i = 0; i < live; i++)
    if (s->b[i].expires < s->min_expires)
      s->min_expires = s->b[i].expires;
  return s;
}

loc_set_t *loc_set_new(const tz_binding_t *b, size_t n)
{
  loc_set_t *s = set_build(b, n, LONG_MIN);
  if (s)
    set_sort(s->b, s->n);
  return s;
}

/* Relaxed: whoever holds it already holds a reference. */
loc_set_t *loc_set_hold(loc_set_t *s)
{
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

/* acq_rel: every reader's use of the set happens before its free. */
void loc_set_release(loc_set_t *s)
{
  if (!s)
    return;
  unsigned was = atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel);
  assert(was > 0);
  if (was == 1)
    free(s);
}

/* ---- expiry heap ------------------------------------------------------------ */

static long heap_key(const loc_index_t *ix, size_t i)
{
  return ix->heap[i]->set->min_expires;
}

static void heap_place(loc_index_t *ix, size_t i, loc_aor_t *a)
{
  ix->heap[i] = a;
  a->heap_pos = i;
}

static void heap_up(loc_index_t *ix, size_t i)
{
  loc_aor_t *a = ix->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (ix->heap[parent]->set->min_expires <= a->set->min_expires)
      break;
    heap_place(ix, i, ix->heap[parent]);
    i = parent;
  }
  heap_place(ix, i, a);
}

static void heap_down(loc_index_t *ix, size_t i)
{
  loc_aor_t *a = ix->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= ix->heap_len)
      break;
    if (c + 1 < ix->heap_len && heap_key(ix, c + 1) < heap_key(ix, c))
      c++;
    if (a->set->min_expires <= heap_key(ix, c))
      break;
    heap_place(ix, i, ix->heap[c]);
    i = c;
  }
  heap_place(ix, i, a);
}

static int heap_insert(loc_index_t *ix, loc_aor_t *a)
{
  if (ix->heap_len == ix->heap_cap) {
    size_t cap = ix->heap_cap ? ix->heap_cap * 2 : 64;
    loc_aor_t **h = realloc(ix->heap, cap * sizeof *h);
    if (!h)
      return -1;
    ix->heap = h;
    ix->heap_cap = cap;
  }
  heap_place(ix, ix->heap_len++, a);
  heap_up(ix, a->heap_pos);
  return 0;
}

static void heap_remove(loc_index_t *ix, loc_aor_t *a)
{
  size_t i = a->heap_pos;
  loc_aor_t *last = ix->heap[--ix->heap_len];
  a->heap_pos = LOC_NOT_IN_HEAP;
  if (last == a)
    return;
  heap_place(ix, i, last);
  heap_up(ix, i);
  heap_down(ix, last->heap_pos);
}

/* ---- hash table ------------------------------------------------------------- */

uint32_t loc_index_hash(const char *key)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}

int loc_index_init(loc_index_t *ix)
{
  memset(ix, 0, sizeof *ix);
  ix->nbuckets = 64; /* a store has many stripes; each grows on its own */
  ix->buckets = calloc(ix->nbuckets, sizeof *ix->buckets);
  return ix->buckets ? 0 : -1;
}

void loc_index_free(loc_index_t *ix)
{
  for (size_t i = 0; i < ix->nbuckets; i++)
    for (loc_aor_t *a = ix->buckets[i], *next; a; a = next) {
      next = a->next;
      loc_set_release(a->set);
      free(a);
    }
  free(ix->buckets);
  free(ix->heap);
  memset(ix, 0, sizeof *ix);
}

loc_aor_t *loc_index_find(const loc_index_t *ix, const char *key)
{
  uint32_t h = loc_index_hash(key);
  for (loc_aor_t *a = ix->buckets[h & (ix->nbuckets - 1)]; a; a = a->next)
    if (a->hash == h && strcmp(a->key, key) == 0)
      return a;
  return NULL;
}

/* Doubles the table once it holds as many AORs as buckets; failing to grow
 * only makes chains longer. */
static void index_grow(loc_index_t *ix)
{
  size_t n = ix->nbuckets * 2;
  loc_aor_t **b = calloc(n, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < ix->nbuckets; i++)
    for (loc_aor_t *a = ix->buckets[i], *next; a; a = next) {
      next = a->next;
      a->next = b[a->hash & (n - 1)];
      b[a->hash & (n - 1)] = a;
    }
  free(ix->buckets);
  ix->buckets = b;
  ix->nbuckets = n;
}

loc_aor_t *loc_index_get(loc_index_t *ix, const char *key)
{
  loc_aor_t *a = loc_index_find(ix, key);
  if (a)
    return a;
  size_t len = strlen(key) + 1;
  a = calloc(1, sizeof *a + len);
  if (!a || !(a->set = set_build(NULL, 0, 0))) {
    free(a);
    return NULL;
  }
  memcpy(a->key, key, len);
  a->hash = loc_index_hash(key);
  a->heap_pos = LOC_NOT_IN_HEAP;
  if (ix->naors >= ix->nbuckets)
    index_grow(ix);
  loc_aor_t **bucket = &ix->buckets[a->hash & (ix->nbuckets - 1)];
  a->next = *bucket;
  *bucket = a;
  ix->naors++;
  return a;
}

void loc_index_assign(loc_index_t *ix, loc_aor_t *aor, loc_set_t *set)
{
  loc_set_t *old = aor->set;
  ix->bindings += set->n;
  ix->bindings -= old->n;
  ix->live_aors += (set->n > 0) - (old->n > 0);
  aor->set = set;
  loc_set_release(old);
  if (aor->heap_pos != LOC_NOT_IN_HEAP) {
    if (set->n == 0) {
      heap_remove(ix, aor);
    } else {
      heap_up(ix, aor->heap_pos);
      heap_down(ix, aor->heap_pos);
    }
  } else if (set->n > 0) {
    /* Without a heap slot (out of memory) the sweep cannot see the AOR;
     * lookups still hide its bindings once expired, and the next save
     * retries. */
    (void)heap_insert(ix, aor);
  }
}

void loc_index_drop_idle(loc_index_t *ix, loc_aor_t *aor)
{
  if (aor->set->n > 0 || aor->pending > 0)
    return;
  for (loc_aor_t **pp = &ix->buckets[aor->hash & (ix->nbuckets - 1)]; *pp;
       pp = &(*pp)->next)
    if (*pp == aor) {
      *pp = aor->next;
      break;
    }
  ix->naors--;
  loc_set_release(aor->set);
  free(aor);
}

size_t loc_index_sweep(loc_index_t *ix, long now)
{
  size_t removed = 0;
  while (ix->heap_len > 0 && heap_key(ix, 0) <= now) {
    loc_aor_t *a = ix->heap[0];
    loc_set_t *live = set_build(a->set->b, a->set->n, now);
    if (!live)
      break; /* out of memory: try again next tick */
    removed += a->set->n - live->n;
    loc_index_assign(ix, a, live);
    loc_index_drop_idle(ix, a);
  }
  return removed;
}

int loc_index_lookup(const loc_index_t *ix, const char *key, long now,
                     su_home_t *home, tz_binding_t **out)
{
  *out = NULL;
  const loc_aor_t *a = loc_index_find(ix, key);
  if (!a)
    return 0;
  size_t live;
  size_t bytes = set_measure(a->set->b, a->set->n, now, &live);
  if (live == 0)
    return 0;
  tz_binding_t *b = su_alloc(home, bytes);
  if (!b)
    return -1;
  set_copy_live(b, live, a->set->b, a->set->n, now);
  *out = b;
  return (int)live;
}
