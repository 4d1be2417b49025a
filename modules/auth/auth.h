/*
 * auth.h - the auth module's internal interfaces: SHA-256 (auth_sha256.c),
 * digest computation (auth_digest.c), nonces and their replay table
 * (auth_nonce.c), trusted address lists (auth_trusted.c) and the
 * subscriber store (auth_db.c). All but auth_db.c are pure code that the
 * unit test compiles in directly. The nonce table is shared by the workers
 * and locks itself; the rest is either read-only once made or, for the
 * subscriber cache, locked by its owner (auth.c).
 */
#ifndef AUTH_H
#define AUTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) --------------------- */

#define AUTH_SHA256_LEN 32

typedef struct auth_sha256 {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char buf[64];
  size_t nbuf;
} auth_sha256_t;

void auth_sha256_init(auth_sha256_t *c);
void auth_sha256_update(auth_sha256_t *c, const void *data, size_t n);
void auth_sha256_final(auth_sha256_t *c, unsigned char out[AUTH_SHA256_LEN]);
void auth_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                      unsigned char out[AUTH_SHA256_LEN]);

/* ---- digest computation (RFC 2617, RFC 7616) ----------------------------- */

typedef enum { AUTH_ALG_MD5 = 0, AUTH_ALG_SHA256 = 1, AUTH_NALGS } auth_alg_t;

/* Room for the longest hex digest (SHA-256) and its NUL. */
#define AUTH_HEX_MAX 65

/* The algorithm named s (RFC 7616 3.3: absent means MD5); -1 if unknown. */
int auth_alg_parse(const char *s, auth_alg_t *alg);
const char *auth_alg_name(auth_alg_t alg);

/* H(a:b:c...) of the NULL-terminated parts, as lowercase hex. */
void auth_calc_hash(auth_alg_t alg, const char *const *parts,
                      char out[AUTH_HEX_MAX]);
/* HA1 = H(username:realm:password). */
void auth_calc_ha1(auth_alg_t alg, const char *username, const char *realm,
                     const char *password, char out[AUTH_HEX_MAX]);

/* What the response of one request depends on. qop NULL is RFC 2069 style
 * (no cnonce, no nc). */
typedef struct auth_calc_in {
  auth_alg_t alg;
  const char *ha1;
  const char *nonce, *nc, *cnonce, *qop;
  const char *method, *uri;
} auth_calc_in_t;

void auth_calc_response(const auth_calc_in_t *in, char out[AUTH_HEX_MAX]);
/* 1 if the two hex strings are equal (case-insensitive), in time that does
 * not depend on where they differ. */
int auth_calc_equal(const char *a, const char *b);

/* ---- nonces ------------------------------------------------------------------ */

/* A nonce is base64(issued | index | salt | MAC) with the MAC an HMAC-SHA256
 * (truncated to 128 bits) under a per-process secret: anyone can hold it,
 * only we can have made it. The index names a slot of a fixed table that
 * remembers the highest nonce-count used, so a nonce cannot be replayed and
 * memory stays bounded; a slot reused by a newer nonce makes the old one
 * stale.
 *
 * One table serves every worker, so a nonce issued by one is good in all.
 * Locking rule: the secret and nslots are fixed after init; next is an
 * atomic counter; a slot's nc and req, and writes to its index, are
 * guarded by the stripe lock of its slot number (slot % AUTH_NONCE_LOCKS).
 * index is atomic as well, so auth_nonce_check reads it without a lock. */
#define AUTH_NONCE_RAW 36
#define AUTH_NONCE_LEN 48 /* base64 of the raw bytes, no padding */
/* Enough stripes that workers seldom meet on one; each on its own cache
 * line, so taking one does not slow another worker's. */
#define AUTH_NONCE_LOCKS 64

typedef struct auth_nonce_slot {
  _Atomic uint32_t index; /* of the nonce that owns the slot */
  uint32_t nc;            /* highest nonce-count accepted; 0 = none yet */
  uint32_t req;           /* fingerprint of the request that used nc */
} auth_nonce_slot_t;

typedef struct auth_nonce_lock {
  _Alignas(64) pthread_mutex_t mu;
} auth_nonce_lock_t;

typedef struct auth_nonces {
  unsigned char secret[AUTH_SHA256_LEN];
  _Atomic uint32_t next;
  uint32_t nslots;
  auth_nonce_slot_t *slots;
  auth_nonce_lock_t locks[AUTH_NONCE_LOCKS];
} auth_nonces_t;

typedef enum {
  AUTH_NONCE_OK = 0,
  AUTH_NONCE_BAD,    /* not made by us (or altered) */
  AUTH_NONCE_STALE,  /* ours, but expired or its slot was reused */
  AUTH_NONCE_REPLAY  /* nonce-count not above the last one accepted */
} auth_nonce_status_t;

/* A table of nslots slots under secret. Returns 0 or -1 (no memory). */
int auth_nonces_init(auth_nonces_t *t, uint32_t nslots,
                     const unsigned char secret[AUTH_SHA256_LEN]);
void auth_nonces_free(auth_nonces_t *t);
/* A fresh nonce issued at now (seconds), salted with salt; claims a slot. */
void auth_nonce_make(auth_nonces_t *t, uint64_t now, uint64_t salt,
                     char out[AUTH_NONCE_LEN + 1]);
/* Whether nonce is ours and no older than expires seconds at now; *index
 * is its slot index when the answer is OK or STALE. */
auth_nonce_status_t auth_nonce_check(const auth_nonces_t *t,
                                     const char *nonce, uint64_t now,
                                     unsigned expires, uint32_t *index);
/* Whether nonce-count nc may be used with the nonce of index by request
 * req; records it when commit is set. The same nc from the same request
 * is a retransmission, and accepted again. */
auth_nonce_status_t auth_nonce_use(auth_nonces_t *t, uint32_t index,
                                   uint32_t nc, uint32_t req, int commit);

/* ---- trusted addresses ------------------------------------------------------- */

typedef struct auth_net {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  unsigned bits;
} auth_net_t;

typedef struct auth_trusted {
  auth_net_t *nets;
  size_t n;
} auth_trusted_t;

/* "192.0.2.1, 198.51.100.0/24, 2001:db8::/32": addresses or CIDR networks,
 * separated by commas and/or blanks. Returns 0, or -1 with err set. */
int auth_trusted_parse(auth_trusted_t *t, const char *list, char *err,
                       size_t errlen);
/* True if ip (text; an IPv4-mapped IPv6 address counts as IPv4) is in t. */
int auth_trusted_match(const auth_trusted_t *t, const char *ip);
void auth_trusted_free(auth_trusted_t *t);

/* ---- subscribers ----------------------------------------------------------------- */

typedef struct auth_sub {
  struct auth_sub *next;
  char *username, *domain; /* domain lowercased */
  char *password;          /* "" when only HA1s are stored */
  char *ha1[AUTH_NALGS];   /* "" when absent */
} auth_sub_t;

/* The in-memory copy of the subscriber table: lookups on the event loop
 * never touch the disk. It has no lock of its own: its owner (auth.c)
 * guards it. */
typedef struct auth_subs {
  auth_sub_t **buckets;
  size_t nbuckets, count;
} auth_subs_t;

int auth_subs_init(auth_subs_t *s);
void auth_subs_free(auth_subs_t *s);
const auth_sub_t *auth_subs_find(const auth_subs_t *s, const char *username,
                                 const char *domain);
/* Adds or replaces; the strings are copied. Returns 0 or -1. */
int auth_subs_put(auth_subs_t *s, const auth_sub_t *sub);
/* Returns 1 if removed, 0 if there was none. */
int auth_subs_remove(auth_subs_t *s, const char *username, const char *domain);

/* The sqlite table (db/sqlite/subscriber.sql). Each call opens the file,
 * does its work and closes it: only start-up and operator commands come
 * here, in worker 0, so no connection is ever shared between threads.
 * Return 0 or -1 with err set. */
int auth_db_load(const char *path, auth_subs_t *subs, char *err,
                 size_t errlen);
/* A row made from a password: HA1s with realm = domain (lowercased), and
 * Kamailio's ha1b (username "user@domain") for tables shared with it. The
 * sub's strings point into n and the arguments. Returns 0, or -1 if too
 * long. */
typedef struct auth_newsub {
  auth_sub_t sub;
  char domain[256];
  char ha1[AUTH_NALGS][AUTH_HEX_MAX], ha1b[AUTH_HEX_MAX];
} auth_newsub_t;

int auth_newsub_make(auth_newsub_t *n, const char *username,
                     const char *domain, const char *password);
/* Adds the row, or replaces the one of the same username and domain. */
int auth_db_add(const char *path, const auth_newsub_t *n, char *err,
                size_t errlen);
/* *removed is the number of rows deleted (0 or 1). */
int auth_db_remove(const char *path, const char *username,
                   const char *domain, int *removed, char *err,
                   size_t errlen);

#endif
