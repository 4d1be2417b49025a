/*
 * auth_sha256.c - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): the
 * RFC 7616 digest algorithm and the MAC of our nonces. Sofia-SIP has only
 * MD5, and one small hash is cheaper than a crypto library dependency.
 */
#include "auth.h"

#include <string.h>

static const uint32_t sha256_k[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t sha256_rotr(uint32_t x, unsigned n)
{
  return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
  uint32_t w[64], v[8];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = sha256_rotr(w[i - 15], 7) ^ sha256_rotr(w[i - 15], 18) ^
                  (w[i - 15] >> 3);
    uint32_t s1 = sha256_rotr(w[i - 2], 17) ^ sha256_rotr(w[i - 2], 19) ^
                  (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, h, sizeof v);
  for (int i = 0; i < 64; i++) {
    uint32_t s1 = sha256_rotr(v[4], 6) ^ sha256_rotr(v[4], 11) ^
                  sha256_rotr(v[4], 25);
    uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
    uint32_t t1 = v[7] + s1 + ch + sha256_k[i] + w[i];
    uint32_t s0 = sha256_rotr(v[0], 2) ^ sha256_rotr(v[0], 13) ^
                  sha256_rotr(v[0], 22);
    uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
    memmove(v + 1, v, 7 * sizeof v[0]);
    v[4] += t1;
    v[0] = t1 + s0 + maj;
  }
  for (int i = 0; i < 8; i++)
    h[i] += v[i];
}

void auth_sha256_init(auth_sha256_t *c)
{
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof iv);
  c->bytes = 0;
  c->nbuf = 0;
}

void auth_sha256_update(auth_sha256_t *c, const void *data, size_t n)
{
  const unsigned char *p = data;
  c->bytes += n;
  while (n) {
    size_t k = 64 - c->nbuf < n ? 64 - c->nbuf : n;
    memcpy(c->buf + c->nbuf, p, k);
    c->nbuf += k;
    p += k;
    n -= k;
    if (c->nbuf == 64) {
      sha256_block(c->h, c->buf);
      c->nbuf = 0;
    }
  }
}

void auth_sha256_final(auth_sha256_t *c, unsigned char out[AUTH_SHA256_LEN])
{
  uint64_t bits = c->bytes * 8;
  unsigned char pad[72] = {0x80};
  /* 0x80, zeros up to 56 mod 64, then the 64-bit big-endian length */
  size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
  for (int i = 0; i < 8; i++)
    pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
  auth_sha256_update(c, pad, npad + 8);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++)
      out[4 * i + j] = (unsigned char)(c->h[i] >> (24 - 8 * j));
}

void auth_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                      unsigned char out[AUTH_SHA256_LEN])
{
  unsigned char k[64] = {0}, pad[64], inner[AUTH_SHA256_LEN];
  auth_sha256_t c;
  if (klen > sizeof k) {
    auth_sha256_init(&c);
    auth_sha256_update(&c, key, klen);
    auth_sha256_final(&c, k);
  } else {
    memcpy(k, key, klen);
  }
  for (int i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x36;
  auth_sha256_init(&c);
  auth_sha256_update(&c, pad, sizeof pad);
  auth_sha256_update(&c, msg, n);
  auth_sha256_final(&c, inner);
  for (int i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x5c;
  auth_sha256_init(&c);
  auth_sha256_update(&c, pad, sizeof pad);
  auth_sha256_update(&c, inner, sizeof inner);
  auth_sha256_final(&c, out);
}
