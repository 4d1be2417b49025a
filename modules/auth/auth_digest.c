/*
 * auth_digest.c - the digest arithmetic of RFC 2617 and RFC 7616 (qop=auth
 * and the RFC 2069 form without qop): HA1, HA2 and the response, with MD5
 * (Sofia's) or SHA-256 (ours), and the constant-time comparison.
 */
#define _DEFAULT_SOURCE
#include "auth.h"

#include <string.h>
#include <strings.h>

#include <sofia-sip/su_md5.h>

static const char *const auth_alg_names[AUTH_NALGS] = {"MD5", "SHA-256"};

int auth_alg_parse(const char *s, auth_alg_t *alg)
{
  if (!s) {
    *alg = AUTH_ALG_MD5;
    return 0;
  }
  for (int i = 0; i < AUTH_NALGS; i++)
    if (strcasecmp(s, auth_alg_names[i]) == 0) {
      *alg = (auth_alg_t)i;
      return 0;
    }
  return -1;
}

const char *auth_alg_name(auth_alg_t alg) { return auth_alg_names[alg]; }

static void digest_hex(const unsigned char *d, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  out[2 * n] = '\0';
}

void auth_calc_hash(auth_alg_t alg, const char *const *parts,
                      char out[AUTH_HEX_MAX])
{
  unsigned char d[AUTH_SHA256_LEN];
  if (alg == AUTH_ALG_SHA256) {
    auth_sha256_t c;
    auth_sha256_init(&c);
    for (size_t i = 0; parts[i]; i++) {
      if (i)
        auth_sha256_update(&c, ":", 1);
      auth_sha256_update(&c, parts[i], strlen(parts[i]));
    }
    auth_sha256_final(&c, d);
    digest_hex(d, AUTH_SHA256_LEN, out);
  } else {
    su_md5_t c;
    su_md5_init(&c);
    for (size_t i = 0; parts[i]; i++) {
      if (i)
        su_md5_update(&c, ":", 1);
      su_md5_strupdate(&c, parts[i]);
    }
    su_md5_digest(&c, d);
    su_md5_deinit(&c);
    digest_hex(d, SU_MD5_DIGEST_SIZE, out);
  }
}

void auth_calc_ha1(auth_alg_t alg, const char *username, const char *realm,
                     const char *password, char out[AUTH_HEX_MAX])
{
  const char *parts[] = {username, realm, password, NULL};
  auth_calc_hash(alg, parts, out);
}

void auth_calc_response(const auth_calc_in_t *in, char out[AUTH_HEX_MAX])
{
  char ha2[AUTH_HEX_MAX];
  const char *a2[] = {in->method, in->uri, NULL};
  auth_calc_hash(in->alg, a2, ha2);
  if (in->qop) {
    const char *kd[] = {in->ha1, in->nonce, in->nc, in->cnonce, in->qop, ha2,
                        NULL};
    auth_calc_hash(in->alg, kd, out);
  } else {
    const char *kd[] = {in->ha1, in->nonce, ha2, NULL};
    auth_calc_hash(in->alg, kd, out);
  }
}

int auth_calc_equal(const char *a, const char *b)
{
  size_t n = strlen(a);
  if (n != strlen(b))
    return 0;
  unsigned char diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)((a[i] | 0x20) ^ (b[i] | 0x20));
  return diff == 0;
}
