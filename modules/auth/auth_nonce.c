/*
 * auth_nonce.c - nonces we can verify without remembering them, and the
 * fixed-size table of nonce-counts that makes each one usable only with
 * increasing counts (RFC 7616 3.3, 3.4).
 *
 * Locking rule (see auth.h): every worker makes and checks nonces in the
 * one table; a slot's counts change only under its stripe lock, which is
 * held for a few loads and stores, never across the HMAC.
 */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "auth.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/base64.h>

#define NONCE_MAC_LEN 16 /* truncated HMAC-SHA256 (RFC 2104 section 5) */
#define NONCE_BODY_LEN (AUTH_NONCE_RAW - NONCE_MAC_LEN)

/* Adaptive: the lock is held for a few loads and stores, so a worker that
 * finds it taken spins a little instead of sleeping. */
static void nonce_mutex_init(pthread_mutex_t *mu)
{
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
  pthread_mutex_init(mu, &a);
  pthread_mutexattr_destroy(&a);
}

int auth_nonces_init(auth_nonces_t *t, uint32_t nslots,
                     const unsigned char secret[AUTH_SHA256_LEN])
{
  memset(t, 0, sizeof *t);
  for (int i = 0; i < AUTH_NONCE_LOCKS; i++)
    nonce_mutex_init(&t->locks[i].mu);
  t->slots = calloc(nslots, sizeof *t->slots);
  if (!t->slots) {
    auth_nonces_free(t);
    return -1;
  }
  t->nslots = nslots;
  memcpy(t->secret, secret, AUTH_SHA256_LEN);
  atomic_init(&t->next, 0);
  /* Slot i starts owned by index i + nslots, which no nonce has yet: a
   * forged-but-signed index cannot exist, and index 0 must not match an
   * empty slot. */
  for (uint32_t i = 0; i < nslots; i++)
    atomic_init(&t->slots[i].index, i + nslots);
  return 0;
}

void auth_nonces_free(auth_nonces_t *t)
{
  for (int i = 0; i < AUTH_NONCE_LOCKS; i++)
    pthread_mutex_destroy(&t->locks[i].mu);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static auth_nonce_slot_t *nonce_slot(const auth_nonces_t *t, uint32_t index)
{
  assert(t->slots && t->nslots);
  return &t->slots[index % t->nslots];
}

/* The stripe lock of index's slot. */
static pthread_mutex_t *nonce_lock(auth_nonces_t *t, uint32_t index)
{
  return &t->locks[index % t->nslots % AUTH_NONCE_LOCKS].mu;
}

static void nonce_put(unsigned char *p, uint64_t v, int n)
{
  for (int i = 0; i < n; i++)
    p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t nonce_get(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static void nonce_mac(const auth_nonces_t *t, const unsigned char *body,
                      unsigned char mac[NONCE_MAC_LEN])
{
  unsigned char full[AUTH_SHA256_LEN];
  auth_hmac_sha256(t->secret, sizeof t->secret, body, NONCE_BODY_LEN, full);
  memcpy(mac, full, NONCE_MAC_LEN);
}

/* Gives index's slot to index, forgetting the counts of the nonce that had
 * it. Two makers race for one slot only with a whole table of challenges
 * in flight at once; either may win, and the loser's nonce is stale. */
static void nonce_claim(auth_nonces_t *t, uint32_t index)
{
  auth_nonce_slot_t *s = nonce_slot(t, index);
  pthread_mutex_t *mu = nonce_lock(t, index);
  pthread_mutex_lock(mu);
  atomic_store_explicit(&s->index, index, memory_order_relaxed);
  s->nc = 0;
  s->req = 0;
  pthread_mutex_unlock(mu);
}

void auth_nonce_make(auth_nonces_t *t, uint64_t now, uint64_t salt,
                     char out[AUTH_NONCE_LEN + 1])
{
  unsigned char raw[AUTH_NONCE_RAW];
  /* Only uniqueness matters here, not order with other memory. */
  uint32_t index = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
  nonce_claim(t, index);
  nonce_put(raw, now, 8);
  nonce_put(raw + 8, index, 4);
  nonce_put(raw + 12, salt, 8);
  nonce_mac(t, raw, raw + NONCE_BODY_LEN);
  base64_e(out, AUTH_NONCE_LEN + 1, raw, sizeof raw);
}

/* Decodes exactly the canonical encoding of AUTH_NONCE_RAW bytes. */
static int nonce_decode(const char *nonce, unsigned char raw[AUTH_NONCE_RAW])
{
  char buf[AUTH_NONCE_RAW + 3], again[AUTH_NONCE_LEN + 1];
  if (strlen(nonce) != AUTH_NONCE_LEN ||
      base64_d(buf, sizeof buf, nonce) != AUTH_NONCE_RAW)
    return -1;
  memcpy(raw, buf, AUTH_NONCE_RAW);
  base64_e(again, sizeof again, raw, AUTH_NONCE_RAW);
  return strcmp(again, nonce) == 0 ? 0 : -1;
}

auth_nonce_status_t auth_nonce_check(const auth_nonces_t *t,
                                     const char *nonce, uint64_t now,
                                     unsigned expires, uint32_t *index)
{
  unsigned char raw[AUTH_NONCE_RAW], mac[NONCE_MAC_LEN];
  if (nonce_decode(nonce, raw) < 0)
    return AUTH_NONCE_BAD;
  nonce_mac(t, raw, mac);
  unsigned char diff = 0;
  for (int i = 0; i < NONCE_MAC_LEN; i++)
    diff |= mac[i] ^ raw[NONCE_BODY_LEN + i];
  uint64_t issued = nonce_get(raw, 8);
  if (diff || issued > now)
    return AUTH_NONCE_BAD;
  *index = (uint32_t)nonce_get(raw + 8, 4);
  /* Unlocked: a slot taken meanwhile is caught by auth_nonce_use. */
  if (now - issued > expires ||
      atomic_load_explicit(&nonce_slot(t, *index)->index,
                           memory_order_relaxed) != *index)
    return AUTH_NONCE_STALE;
  return AUTH_NONCE_OK;
}

/* auth_nonce_use with the slot's stripe locked. */
static auth_nonce_status_t nonce_count(auth_nonce_slot_t *s, uint32_t index,
                                       uint32_t nc, uint32_t req, int commit)
{
  if (atomic_load_explicit(&s->index, memory_order_relaxed) != index)
    return AUTH_NONCE_STALE;
  if (nc == s->nc && nc && req == s->req)
    return AUTH_NONCE_OK; /* a retransmission of the request that used it */
  if (nc <= s->nc)
    return AUTH_NONCE_REPLAY;
  if (commit) {
    s->nc = nc;
    s->req = req;
  }
  return AUTH_NONCE_OK;
}

auth_nonce_status_t auth_nonce_use(auth_nonces_t *t, uint32_t index,
                                   uint32_t nc, uint32_t req, int commit)
{
  pthread_mutex_t *mu = nonce_lock(t, index);
  pthread_mutex_lock(mu);
  auth_nonce_status_t st = nonce_count(nonce_slot(t, index), index, nc, req,
                                       commit);
  pthread_mutex_unlock(mu);
  return st;
}
