/*
 * test_respsel.c - best-response selection and challenge merging (RFC 3261
 * 16.7 steps 6 and 7) on branch statuses and Sofia-parsed responses.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/respsel.h"
#include "tzunit.h"

#include <string.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>

/* The status of the branch tz_resp_best picks among statuses (0 ends the
 * list; a negative status is a superseded branch of that status), or 0. */
static int best_of(const int *statuses)
{
  tz_resp_cand_t c[16];
  size_t n = 0;
  for (; statuses[n]; n++) {
    c[n].status = statuses[n] < 0 ? -statuses[n] : statuses[n];
    c[n].superseded = statuses[n] < 0;
  }
  int i = tz_resp_best(c, n);
  return i < 0 ? 0 : c[i].status;
}

#define BEST(...) best_of((const int[]){__VA_ARGS__, 0})

static void test_six_wins(void)
{
  CU_ASSERT_EQUAL(BEST(486, 603, 404), 603);
  CU_ASSERT_EQUAL(BEST(603, 486), 603);   /* a 6xx first stays the best */
  CU_ASSERT_EQUAL(BEST(404, 600, 603), 600); /* the first 6xx */
  CU_ASSERT_EQUAL(BEST(302, 503, 606), 606);
}

static void test_lowest_class(void)
{
  CU_ASSERT_EQUAL(BEST(503, 486), 486);
  CU_ASSERT_EQUAL(BEST(486, 404), 486); /* same class: the first */
  CU_ASSERT_EQUAL(BEST(500, 302, 404), 302);
  CU_ASSERT_EQUAL(BEST(180, 503), 503); /* a provisional is no candidate */
}

static void test_none_and_failover(void)
{
  CU_ASSERT_EQUAL(BEST(180), 0);
  CU_ASSERT_EQUAL(best_of((const int[]){0}), 0);
  /* a superseded branch (failed over) does not compete... */
  CU_ASSERT_EQUAL(BEST(-404, 503), 503);
  /* ...unless every failed branch was: then the last one speaks */
  CU_ASSERT_EQUAL(BEST(-404, -503), 503);
}

static void test_upstream_status(void)
{
  CU_ASSERT_EQUAL(tz_resp_upstream_status(503), 500);
  CU_ASSERT_EQUAL(tz_resp_upstream_status(500), 500);
  CU_ASSERT_EQUAL(tz_resp_upstream_status(486), 486);
  CU_ASSERT(tz_resp_is_challenge(401) && tz_resp_is_challenge(407));
  CU_ASSERT(!tz_resp_is_challenge(403));
}

static msg_t *response(const char *status_line, const char *hdrs)
{
  char buf[2048];
  int n = snprintf(buf, sizeof buf,
                   "SIP/2.0 %s\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
                   "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
                   "Call-ID: x@y\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n",
                   status_line, hdrs);
  msg_t *m = msg_make(sip_default_mclass(), 0, buf, n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  return m;
}

static int count(const msg_header_t *h)
{
  int n = 0;
  for (; h; h = h->sh_next)
    n++;
  return n;
}

/* Both challenges of one branch (SHA-256 and MD5, as our auth module
 * sends) and the other branch's proxy challenge end up once each in the
 * chosen response; a 486 among them adds nothing. */
static void test_merge_challenges(void)
{
  msg_t *out = response("401 Unauthorized",
                        "WWW-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\n");
  msg_t *www = response("401 Unauthorized",
                        "WWW-Authenticate: Digest realm=\"b\", nonce=\"2\", algorithm=SHA-256\r\n"
                        "WWW-Authenticate: Digest realm=\"b\", nonce=\"3\", algorithm=MD5\r\n");
  msg_t *proxy = response("407 Proxy Authentication Required",
                          "Proxy-Authenticate: Digest realm=\"c\", nonce=\"4\"\r\n");
  msg_t *busy = response("486 Busy Here",
                         "WWW-Authenticate: Digest realm=\"d\", nonce=\"5\"\r\n");
  msg_t *others[] = {NULL, www, busy, proxy};
  CU_ASSERT_EQUAL(tz_resp_merge_challenges(out, others, 4), 3);
  sip_t *sip = sip_object(out);
  CU_ASSERT_EQUAL(count((msg_header_t *)sip->sip_www_authenticate), 3);
  CU_ASSERT_EQUAL(count((msg_header_t *)sip->sip_proxy_authenticate), 1);
  char *text = msg_as_string(msg_home(out), out, NULL, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "nonce=\"3\", algorithm=MD5"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "realm=\"c\""));
  CU_ASSERT_PTR_NULL(strstr(text, "realm=\"d\""));
  msg_t *all[] = {out, www, busy, proxy};
  for (size_t i = 0; i < 4; i++)
    msg_destroy(all[i]);
}

int main(void)
{
  static const tz_unit_test_t tests[] = {
      {"any 6xx wins", test_six_wins},
      {"else the lowest class", test_lowest_class},
      {"no candidate; failed-over branches", test_none_and_failover},
      {"503 goes upstream as 500; challenges", test_upstream_status},
      {"401/407 challenges of all branches merged", test_merge_challenges},
      {NULL, NULL}};
  static const tz_unit_suite_t suites[] = {
      {"response selection", tests, NULL, NULL}, {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
