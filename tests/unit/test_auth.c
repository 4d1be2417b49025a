/*
 * test_auth.c - the auth module's pure parts: SHA-256 and HMAC-SHA256 test
 * vectors, MD5 through the digest hash, digest responses from RFC 2617 and
 * RFC 7616 3.9.1, nonces (make, verify, expiry, tampering), the nonce-count
 * replay table, the table shared by threads as workers share it, and
 * trusted address lists.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha256(const void *data, size_t n, const char *want)
{
  auth_sha256_t c;
  unsigned char d[AUTH_SHA256_LEN];
  char h[AUTH_HEX_MAX];
  auth_sha256_init(&c);
  auth_sha256_update(&c, data, n);
  auth_sha256_final(&c, d);
  hex(d, sizeof d, h);
  CU_ASSERT_STRING_EQUAL(h, want);
}

static void test_sha256_vectors(void)
{
  check_sha256("", 0,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check_sha256("abc", 3,
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_sha256(two, strlen(two),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* one million 'a', fed in uneven pieces across block boundaries */
  auth_sha256_t c;
  unsigned char d[AUTH_SHA256_LEN];
  char h[AUTH_HEX_MAX], chunk[997];
  memset(chunk, 'a', sizeof chunk);
  auth_sha256_init(&c);
  size_t left = 1000000;
  while (left) {
    size_t k = left < sizeof chunk ? left : sizeof chunk;
    auth_sha256_update(&c, chunk, k);
    left -= k;
  }
  auth_sha256_final(&c, d);
  hex(d, sizeof d, h);
  CU_ASSERT_STRING_EQUAL(
      h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* 55, 56 and 64 bytes: the padding edge cases */
  check_sha256("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
               "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  check_sha256("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56,
               "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  check_sha256("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               64,
               "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than a block). */
static void test_hmac_sha256_vectors(void)
{
  unsigned char key[131], d[AUTH_SHA256_LEN];
  char h[AUTH_HEX_MAX];
  memset(key, 0x0b, 20);
  auth_hmac_sha256(key, 20, "Hi There", 8, d);
  hex(d, sizeof d, h);
  CU_ASSERT_STRING_EQUAL(
      h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  const char *what = "what do ya want for nothing?";
  auth_hmac_sha256("Jefe", 4, what, strlen(what), d);
  hex(d, sizeof d, h);
  CU_ASSERT_STRING_EQUAL(
      h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  memset(key, 0xaa, sizeof key);
  const char *big = "Test Using Larger Than Block-Size Key - Hash Key First";
  auth_hmac_sha256(key, sizeof key, big, strlen(big), d);
  hex(d, sizeof d, h);
  CU_ASSERT_STRING_EQUAL(
      h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_md5_vectors(void)
{
  char h[AUTH_HEX_MAX];
  const char *empty[] = {"", NULL}, *abc[] = {"abc", NULL};
  auth_calc_hash(AUTH_ALG_MD5, empty, h);
  CU_ASSERT_STRING_EQUAL(h, "d41d8cd98f00b204e9800998ecf8427e");
  auth_calc_hash(AUTH_ALG_MD5, abc, h);
  CU_ASSERT_STRING_EQUAL(h, "900150983cd24fb0d6963f7d28e17f72");
  /* parts are joined with ':' */
  const char *joined[] = {"a:b", NULL}, *parts[] = {"a", "b", NULL};
  char h2[AUTH_HEX_MAX];
  auth_calc_hash(AUTH_ALG_SHA256, joined, h);
  auth_calc_hash(AUTH_ALG_SHA256, parts, h2);
  CU_ASSERT_STRING_EQUAL(h, h2);
}

static void test_algorithm_names(void)
{
  auth_alg_t a;
  CU_ASSERT_EQUAL(auth_alg_parse(NULL, &a), 0);
  CU_ASSERT_EQUAL(a, AUTH_ALG_MD5);
  CU_ASSERT_EQUAL(auth_alg_parse("sha-256", &a), 0);
  CU_ASSERT_EQUAL(a, AUTH_ALG_SHA256);
  CU_ASSERT_EQUAL(auth_alg_parse("MD5", &a), 0);
  CU_ASSERT_EQUAL(a, AUTH_ALG_MD5);
  CU_ASSERT_EQUAL(auth_alg_parse("SHA-512-256", &a), -1);
  CU_ASSERT_EQUAL(auth_alg_parse("MD5-sess", &a), -1);
  CU_ASSERT_STRING_EQUAL(auth_alg_name(AUTH_ALG_SHA256), "SHA-256");
}

/* RFC 7616 section 3.9.1: the same request with SHA-256 and with MD5. */
static void test_rfc7616_example(void)
{
  char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
  auth_calc_in_t in = {AUTH_ALG_SHA256, ha1,
                         "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                         "00000001",
                         "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                         "auth", "GET", "/dir/index.html"};
  auth_calc_ha1(AUTH_ALG_SHA256, "Mufasa", "http-auth@example.org",
                  "Circle of Life", ha1);
  auth_calc_response(&in, resp);
  CU_ASSERT_STRING_EQUAL(
      resp, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  in.alg = AUTH_ALG_MD5;
  auth_calc_ha1(AUTH_ALG_MD5, "Mufasa", "http-auth@example.org",
                  "Circle of Life", ha1);
  auth_calc_response(&in, resp);
  CU_ASSERT_STRING_EQUAL(resp, "8ca523f5e9506fed4657c9700eebdbec");
}

/* RFC 2617 section 3.5, and the RFC 2069 form without qop. */
static void test_rfc2617_example(void)
{
  char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX], want[AUTH_HEX_MAX];
  auth_calc_ha1(AUTH_ALG_MD5, "Mufasa", "testrealm@host.com",
                  "Circle Of Life", ha1);
  auth_calc_in_t in = {AUTH_ALG_MD5, ha1,
                         "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                         "0a4f113b", "auth", "GET", "/dir/index.html"};
  auth_calc_response(&in, resp);
  CU_ASSERT_STRING_EQUAL(resp, "6629fae49393a05397450978507c4ef1");
  in.qop = NULL;
  auth_calc_response(&in, resp);
  char ha2[AUTH_HEX_MAX];
  const char *a2[] = {"GET", "/dir/index.html", NULL};
  auth_calc_hash(AUTH_ALG_MD5, a2, ha2);
  const char *kd[] = {ha1, in.nonce, ha2, NULL};
  auth_calc_hash(AUTH_ALG_MD5, kd, want);
  CU_ASSERT_STRING_EQUAL(resp, want);
}

static void test_digest_equal(void)
{
  CU_ASSERT_TRUE(auth_calc_equal("6629fae4", "6629FAE4"));
  CU_ASSERT_FALSE(auth_calc_equal("6629fae4", "6629fae5"));
  CU_ASSERT_FALSE(auth_calc_equal("6629fae4", "6629fae"));
  CU_ASSERT_FALSE(auth_calc_equal("", "0"));
}

/* ---- nonces ----------------------------------------------------------------- */

static const unsigned char secret[AUTH_SHA256_LEN] = "0123456789abcdef0123456789abcde";

static void test_nonce_make_verify(void)
{
  auth_nonces_t t;
  char n1[AUTH_NONCE_LEN + 1], n2[AUTH_NONCE_LEN + 1];
  uint32_t idx;
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&t, 64, secret), 0);
  auth_nonce_make(&t, 1000, 42, n1);
  auth_nonce_make(&t, 1000, 42, n2);
  CU_ASSERT_EQUAL(strlen(n1), AUTH_NONCE_LEN);
  CU_ASSERT_STRING_NOT_EQUAL(n1, n2); /* another slot index */
  CU_ASSERT_EQUAL(auth_nonce_check(&t, n1, 1000, 300, &idx), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(idx, 0);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, n2, 1300, 300, &idx), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(idx, 1);
  /* expiry: stale, not bad */
  CU_ASSERT_EQUAL(auth_nonce_check(&t, n1, 1301, 300, &idx), AUTH_NONCE_STALE);
  /* issued in the future */
  CU_ASSERT_EQUAL(auth_nonce_check(&t, n1, 999, 300, &idx), AUTH_NONCE_BAD);
  auth_nonces_free(&t);
}

static void test_nonce_tamper(void)
{
  auth_nonces_t t, other;
  char n[AUTH_NONCE_LEN + 1], bad[AUTH_NONCE_LEN + 2];
  uint32_t idx;
  unsigned char secret2[AUTH_SHA256_LEN] = {1};
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&t, 64, secret), 0);
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&other, 64, secret2), 0);
  auth_nonce_make(&t, 50, 7, n);
  for (size_t i = 0; i < AUTH_NONCE_LEN; i++) {
    strcpy(bad, n);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(auth_nonce_check(&t, bad, 50, 300, &idx), AUTH_NONCE_BAD);
  }
  strcpy(bad, n);
  bad[AUTH_NONCE_LEN - 1] = '\0';
  CU_ASSERT_EQUAL(auth_nonce_check(&t, bad, 50, 300, &idx), AUTH_NONCE_BAD);
  strcpy(bad, n);
  strcat(bad, "A");
  CU_ASSERT_EQUAL(auth_nonce_check(&t, bad, 50, 300, &idx), AUTH_NONCE_BAD);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, "", 50, 300, &idx), AUTH_NONCE_BAD);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, "not base64 at all!!", 50, 300, &idx),
                  AUTH_NONCE_BAD);
  /* another process's secret */
  CU_ASSERT_EQUAL(auth_nonce_check(&other, n, 50, 300, &idx), AUTH_NONCE_BAD);
  auth_nonces_free(&t);
  auth_nonces_free(&other);
}

static void test_nonce_count_replay(void)
{
  auth_nonces_t t;
  char n[AUTH_NONCE_LEN + 1];
  uint32_t idx;
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&t, 16, secret), 0);
  auth_nonce_make(&t, 10, 1, n);
  CU_ASSERT_EQUAL_FATAL(auth_nonce_check(&t, n, 10, 300, &idx), AUTH_NONCE_OK);
  /* a dry run records nothing */
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 1, 100, 0), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 1, 100, 1), AUTH_NONCE_OK);
  /* the same request again (a retransmission) passes; another does not */
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 1, 100, 1), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 1, 101, 1), AUTH_NONCE_REPLAY);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 3, 102, 1), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 2, 103, 1), AUTH_NONCE_REPLAY);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 3, 104, 1), AUTH_NONCE_REPLAY);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 0, 105, 1), AUTH_NONCE_REPLAY);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 4, 105, 1), AUTH_NONCE_OK);
  auth_nonces_free(&t);
}

/* The table never grows: once 16 newer nonces took the slots, the first
 * one is stale (a fresh challenge), never silently replayable. */
static void test_nonce_table_bounded(void)
{
  auth_nonces_t t;
  char first[AUTH_NONCE_LEN + 1], n[AUTH_NONCE_LEN + 1];
  uint32_t idx, first_idx;
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&t, 16, secret), 0);
  auth_nonce_make(&t, 10, 1, first);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, first, 10, 300, &first_idx),
                  AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, first_idx, 1, 1, 1), AUTH_NONCE_OK);
  for (int i = 0; i < 15; i++)
    auth_nonce_make(&t, 10, 1, n);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, first, 10, 300, &idx), AUTH_NONCE_OK);
  auth_nonce_make(&t, 10, 1, n);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, first, 10, 300, &idx),
                  AUTH_NONCE_STALE);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, first_idx, 2, 2, 1), AUTH_NONCE_STALE);
  CU_ASSERT_EQUAL(auth_nonce_check(&t, n, 10, 300, &idx), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(auth_nonce_use(&t, idx, 1, 3, 1), AUTH_NONCE_OK);
  CU_ASSERT_EQUAL(t.nslots, 16);
  auth_nonces_free(&t);
}

/* ---- nonces shared by workers ------------------------------------------------- */

/* Threads stand for workers; assertions are made after they are joined,
 * as CUnit's are not thread-safe. */
#define WORKERS 4
#define PER_WORKER 2000
#define CONTESTED 200

static auth_nonces_t shared;
static char contested[CONTESTED][AUTH_NONCE_LEN + 1];
static pthread_barrier_t start;

typedef struct nonce_worker {
  pthread_t thread;
  uint32_t id;
  uint32_t idx[PER_WORKER]; /* of the nonces it made */
  unsigned refused;         /* of its own nonces, used once each */
  unsigned won[CONTESTED];  /* 1 where its use of a contested nonce passed */
} nonce_worker_t;

static nonce_worker_t workers[WORKERS];

/* Challenges and their one retry each, all in the same table at once. */
static void *nonce_make_use(void *arg)
{
  nonce_worker_t *w = arg;
  char n[AUTH_NONCE_LEN + 1];
  pthread_barrier_wait(&start);
  for (unsigned i = 0; i < PER_WORKER; i++) {
    auth_nonce_make(&shared, 10, w->id, n);
    if (auth_nonce_check(&shared, n, 10, 300, &w->idx[i]) != AUTH_NONCE_OK ||
        auth_nonce_use(&shared, w->idx[i], 1, w->id, 1) != AUTH_NONCE_OK)
      w->refused++;
  }
  return NULL;
}

/* Every worker tries each contested nonce with nonce-count 1 from its own
 * request, as a replayed request reaching several workers would. */
static void *nonce_contend(void *arg)
{
  nonce_worker_t *w = arg;
  uint32_t idx;
  pthread_barrier_wait(&start);
  for (unsigned i = 0; i < CONTESTED; i++)
    w->won[i] = auth_nonce_check(&shared, contested[i], 10, 300, &idx) ==
                    AUTH_NONCE_OK &&
                auth_nonce_use(&shared, idx, 1, w->id, 1) == AUTH_NONCE_OK;
  return NULL;
}

static void workers_run(void *(*fn)(void *))
{
  CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&start, NULL, WORKERS), 0);
  for (uint32_t i = 0; i < WORKERS; i++) {
    workers[i] = (nonce_worker_t){.id = i + 1};
    CU_ASSERT_EQUAL_FATAL(
        pthread_create(&workers[i].thread, NULL, fn, &workers[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++)
    pthread_join(workers[i].thread, NULL);
  pthread_barrier_destroy(&start);
}

/* Nonces made at once by several workers are all distinct and each usable
 * once: no index is handed out twice. */
static void test_nonce_workers_make(void)
{
  static unsigned char seen[WORKERS * PER_WORKER];
  memset(seen, 0, sizeof seen);
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&shared, WORKERS * PER_WORKER, secret),
                        0);
  workers_run(nonce_make_use);
  for (int i = 0; i < WORKERS; i++) {
    CU_ASSERT_EQUAL(workers[i].refused, 0);
    for (int j = 0; j < PER_WORKER; j++) {
      uint32_t idx = workers[i].idx[j];
      CU_ASSERT_FATAL(idx < WORKERS * PER_WORKER);
      CU_ASSERT_EQUAL(seen[idx]++, 0);
    }
  }
  auth_nonces_free(&shared);
}

/* A nonce issued by one worker is good in every other, and its nonce-count
 * is taken exactly once however many workers race for it. */
static void test_nonce_workers_contend(void)
{
  CU_ASSERT_EQUAL_FATAL(auth_nonces_init(&shared, 1024, secret), 0);
  for (int i = 0; i < CONTESTED; i++)
    auth_nonce_make(&shared, 10, 0, contested[i]);
  workers_run(nonce_contend);
  for (int i = 0; i < CONTESTED; i++) {
    unsigned won = 0;
    for (int j = 0; j < WORKERS; j++)
      won += workers[j].won[i];
    CU_ASSERT_EQUAL(won, 1);
  }
  auth_nonces_free(&shared);
}

/* ---- trusted lists ---------------------------------------------------------------- */

static void test_trusted_match(void)
{
  auth_trusted_t t;
  char err[200];
  CU_ASSERT_EQUAL_FATAL(
      auth_trusted_parse(&t, "127.0.0.1, 10.0.0.0/8,192.168.1.128/25 "
                             "2001:db8::/32, ::1, fe80::1:2:3:4/127",
                         err, sizeof err),
      0);
  CU_ASSERT_EQUAL(t.n, 6);
  CU_ASSERT_TRUE(auth_trusted_match(&t, "127.0.0.1"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "127.0.0.2"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "10.255.1.2"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "11.0.0.1"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "192.168.1.200"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "192.168.1.127"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "2001:db8:ffff::5"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "2001:db9::5"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "::1"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "::2"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "fe80::1:2:3:5"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "fe80::1:2:3:6"));
  CU_ASSERT_TRUE(auth_trusted_match(&t, "::ffff:10.1.2.3")); /* mapped */
  CU_ASSERT_FALSE(auth_trusted_match(&t, "example.test"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, NULL));
  auth_trusted_free(&t);

  CU_ASSERT_EQUAL(auth_trusted_parse(&t, "0.0.0.0/0", err, sizeof err), 0);
  CU_ASSERT_TRUE(auth_trusted_match(&t, "203.0.113.9"));
  CU_ASSERT_FALSE(auth_trusted_match(&t, "2001:db8::1"));
  auth_trusted_free(&t);

  CU_ASSERT_EQUAL(auth_trusted_parse(&t, "", err, sizeof err), 0);
  CU_ASSERT_FALSE(auth_trusted_match(&t, "127.0.0.1"));
  auth_trusted_free(&t);
}

static void test_trusted_errors(void)
{
  auth_trusted_t t;
  char err[200];
  const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.1/", "10.0.0.1/x",
                       "host.example", "127.0.0.1, 300.1.1.1", NULL};
  for (int i = 0; bad[i]; i++) {
    err[0] = '\0';
    CU_ASSERT_EQUAL(auth_trusted_parse(&t, bad[i], err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "trusted"));
    CU_ASSERT_PTR_NULL(t.nets);
  }
}

static const tz_unit_test_t hash_tests[] = {
  {"SHA-256 FIPS 180-4 vectors", test_sha256_vectors},
  {"HMAC-SHA256 RFC 4231 vectors", test_hmac_sha256_vectors},
  {"MD5 vectors and part joining", test_md5_vectors},
  {NULL, NULL}};

static const tz_unit_test_t digest_tests[] = {
  {"algorithm names", test_algorithm_names},
  {"RFC 7616 3.9.1 SHA-256 and MD5", test_rfc7616_example},
  {"RFC 2617 3.5 and no-qop form", test_rfc2617_example},
  {"constant-time compare", test_digest_equal},
  {NULL, NULL}};

static const tz_unit_test_t nonce_tests[] = {
  {"make, verify, expire", test_nonce_make_verify},
  {"tampered and foreign nonces", test_nonce_tamper},
  {"nonce-count replay", test_nonce_count_replay},
  {"bounded table", test_nonce_table_bounded},
  {"made by several workers at once", test_nonce_workers_make},
  {"one use across workers", test_nonce_workers_contend},
  {NULL, NULL}};

static const tz_unit_test_t trusted_tests[] = {
  {"IPv4 and IPv6 CIDR matching", test_trusted_match},
  {"bad entries", test_trusted_errors},
  {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
    {"hashes", hash_tests, NULL, NULL},
    {"digest", digest_tests, NULL, NULL},
    {"nonces", nonce_tests, NULL, NULL},
    {"trusted", trusted_tests, NULL, NULL},
    {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
