/*
 * auth_nonce.c - nonces we can verify without remembering them, and the
 * fixed-size table of nonce-counts that makes each one usable only with
 * increasing counts (RFC 7616 3.3, 3.4).
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <sofia-sip/base64.h>

#define NONCE_MAC_LEN 16 /* truncated HMAC-SHA256 (RFC 2104 section 5) */
#define NONCE_BODY_LEN (AUTH_NONCE_RAW - NONCE_MAC_LEN)

int auth_nonces_init(auth_nonces_t *t, uint32_t nslots,
                     const unsigned char secret[AUTH_SHA256_LEN])
{
  memset(t, 0, sizeof *t);
  t->slots = calloc(nslots, sizeof *t->slots);
  if (!t->slots)
    return -1;
  t->nslots = nslots;
  memcpy(t->secret, secret, AUTH_SHA256_LEN);
  /* Slot i starts owned by index i + nslots, which no nonce has yet: a
   * forged-but-signed index cannot exist, and index 0 must not match an
   * empty slot. */
  for (uint32_t i = 0; i < nslots; i++)
    t->slots[i].index = i + nslots;
  return 0;
}

void auth_nonces_free(auth_nonces_t *t)
{
  free(t->slots);
  memset(t, 0, sizeof *t);
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

void auth_nonce_make(auth_nonces_t *t, uint64_t now, uint64_t salt,
                     char out[AUTH_NONCE_LEN + 1])
{
  unsigned char raw[AUTH_NONCE_RAW];
  uint32_t index = t->next++;
  auth_nonce_slot_t *s = &t->slots[index % t->nslots];
  s->index = index;
  s->nc = 0;
  s->req = 0;
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
  if (now - issued > expires ||
      t->slots[*index % t->nslots].index != *index)
    return AUTH_NONCE_STALE;
  return AUTH_NONCE_OK;
}

auth_nonce_status_t auth_nonce_use(auth_nonces_t *t, uint32_t index,
                                   uint32_t nc, uint32_t req, int commit)
{
  auth_nonce_slot_t *s = &t->slots[index % t->nslots];
  if (s->index != index)
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
