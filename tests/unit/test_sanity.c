/*
 * test_sanity.c - unit tests of the sanity checks on messages parsed by
 * Sofia: each check's failure and reason phrase, the flag names,
 * messages that must pass, and checks run by several threads at once.
 */
#define _POSIX_C_SOURCE 200809L
#include "sanity_check.h"
#include "tzunit.h"

#include <pthread.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_parser.h>

static msg_t *msg;
static sanity_verdict_t verdict;
#define reason verdict.reason

/* A request with the given request line and headers (CRLF-terminated
 * lines, "\n" in the literal), then "body". */
static const sip_t *parse(const char *text)
{
  char buf[2048];
  size_t n = 0;
  for (const char *p = text; *p && n < sizeof buf - 2; p++) {
    if (*p == '\n')
      buf[n++] = '\r';
    buf[n++] = *p;
  }
  if (msg)
    msg_destroy(msg);
  msg = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
  return sip_object(msg);
}

#define HDRS                                                                   \
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\n"                          \
  "From: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\n"                 \
  "Call-ID: x@y\n"

/* Over UDP, supporting the option tags in supported (or none). */
static int check_with(const char *text, unsigned flags, int datagram,
                      const char *supported)
{
  sanity_opts_t o = {flags, datagram, supported};
  return sanity_check_request(parse(text), &o, &verdict);
}

static int check(const char *text, unsigned flags)
{
  return check_with(text, flags, 1, NULL);
}

static void test_valid_passes(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n",
                        SANITY_ALL), 0);
  CU_ASSERT_EQUAL(check("INVITE tel:+15551234 SIP/2.0\n" HDRS
                        "CSeq: 2 INVITE\nContent-Length: 3\n\nabc", SANITY_DEFAULT),
                  0);
}

static void test_missing_header(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n"
                        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n"
                        "From: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\n"
                        "CSeq: 1 OPTIONS\n\n", SANITY_DEFAULT), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Missing Call-ID header");
  /* Max-Forwards only when asked for */
  const char *nomf = "OPTIONS sip:b@example.com SIP/2.0\n" HDRS "CSeq: 1 OPTIONS\n\n";
  CU_ASSERT_EQUAL(check(nomf, SANITY_DEFAULT), 0);
  CU_ASSERT_EQUAL(check(nomf, SANITY_ALL), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Missing Max-Forwards header");
}

static void test_cseq(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 INVITE\n\n", SANITY_CSEQ), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - CSeq method mismatch");
  CU_ASSERT_EQUAL(check("NEWMETHOD sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 NEWMETHOX\n\n", SANITY_CSEQ), 400);
  CU_ASSERT_EQUAL(check("NEWMETHOD sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 NEWMETHOD\n\n", SANITY_CSEQ), 0);
  CU_ASSERT_EQUAL(check("ACK sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 INVITE\n\n", SANITY_CSEQ), 400);
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 2147483648 OPTIONS\n\n", SANITY_CSEQ), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - CSeq number too large");
}

static void test_content_length(void)
{
  const char *text = "MESSAGE sip:b@example.com SIP/2.0\n" HDRS
                     "CSeq: 1 MESSAGE\nContent-Length: 10\n\nabc";
  CU_ASSERT_EQUAL(check(text, SANITY_CL), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Content-Length exceeds body");
  /* over a stream the header frames the message: nothing to compare */
  CU_ASSERT_EQUAL(check_with(text, SANITY_CL, 0, NULL), 0);
}

static void test_ruri(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS mailto:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\n\n", SANITY_RURI), 416);
  CU_ASSERT_STRING_EQUAL(reason, "Unsupported URI Scheme");
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com:99999 SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\n\n", SANITY_RURI), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Invalid Request-URI port");
}

static void test_via(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n"
                        "Via: SIP/2.0/UDP 192.0.2.1:0;branch=z9hG4bK1\n"
                        "From: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>\n"
                        "Call-ID: x@y\nCSeq: 1 OPTIONS\n\n", SANITY_VIA), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Invalid Via sent-by port");
}

static void test_max_forwards(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\nMax-Forwards: 256\n\n", SANITY_MAXFWD),
                  400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Max-Forwards out of range");
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\nMax-Forwards: 0\n\n", SANITY_MAXFWD), 0);
}

static void test_malformed_header(void)
{
  CU_ASSERT_EQUAL(check("OPTIONS sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 OPTIONS\nExpires: soon\n\n", SANITY_PARSE), 400);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Request - Malformed Expires header");
}

/* RFC 3261 16.3 step 5: every unsupported tag is listed, once; supported
 * ones are not; CANCEL and ACK ignore the header; it is a default check. */
static void test_proxy_require(void)
{
  const char *text = "INVITE sip:b@example.com SIP/2.0\n" HDRS
                     "CSeq: 1 INVITE\nProxy-Require: foo, sec-agree\n"
                     "Proxy-Require: bar, foo\n\n";
  CU_ASSERT_EQUAL(check(text, SANITY_DEFAULT), 420);
  CU_ASSERT_STRING_EQUAL(reason, "Bad Extension");
  CU_ASSERT_STRING_EQUAL(verdict.headers, "Unsupported: foo, sec-agree, bar\r\n");
  CU_ASSERT_EQUAL(check_with(text, SANITY_PROXY_REQUIRE, 1, "Sec-Agree"), 420);
  CU_ASSERT_STRING_EQUAL(verdict.headers, "Unsupported: foo, bar\r\n");
  CU_ASSERT_EQUAL(check_with(text, SANITY_PROXY_REQUIRE, 1, "bar,foo, sec-agree"), 0);
  CU_ASSERT_EQUAL(check(text, SANITY_CSEQ), 0); /* not asked for */
  CU_ASSERT_EQUAL(check("CANCEL sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 CANCEL\nProxy-Require: foo\n\n", SANITY_DEFAULT), 0);
  /* Require is end to end: a proxy does not look at it */
  CU_ASSERT_EQUAL(check("INVITE sip:b@example.com SIP/2.0\n" HDRS
                        "CSeq: 1 INVITE\nRequire: foo\n\n", SANITY_DEFAULT), 0);
  CU_ASSERT_STRING_EQUAL(verdict.headers, "");
}

static void test_flag_names(void)
{
  char err[200];
  CU_ASSERT_EQUAL(sanity_flags_parse("cseq, via", err, sizeof err),
                  SANITY_CSEQ | SANITY_VIA);
  CU_ASSERT_EQUAL(sanity_flags_parse("all", err, sizeof err), SANITY_ALL);
  CU_ASSERT_EQUAL(sanity_flags_parse("proxy_require", err, sizeof err),
                  SANITY_PROXY_REQUIRE);
  CU_ASSERT(SANITY_DEFAULT & SANITY_PROXY_REQUIRE);
  CU_ASSERT_EQUAL(sanity_flags_parse("cseq,bogus", err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'bogus'"));
  CU_ASSERT_EQUAL(sanity_flags_parse(" , ", err, sizeof err), 0);
}

/* Workers check requests side by side: the checks share nothing, so each
 * gets its own verdict. Threads count mismatches; CUnit asserts after. */
#define WORKERS 4

static const sip_t *shared_sip;

static void *check_repeatedly(void *arg)
{
  unsigned *wrong = arg;
  sanity_opts_t o = {SANITY_ALL, 1, "sec-agree"};
  sanity_verdict_t v;
  for (int i = 0; i < 2000; i++)
    *wrong += sanity_check_request(shared_sip, &o, &v) != 420 ||
              strcmp(v.headers, "Unsupported: foo\r\n") != 0;
  return NULL;
}

static void test_workers(void)
{
  pthread_t th[WORKERS];
  unsigned wrong[WORKERS] = {0};
  shared_sip = parse("INVITE sip:b@example.com SIP/2.0\n" HDRS
                     "CSeq: 1 INVITE\nMax-Forwards: 70\n"
                     "Proxy-Require: foo, sec-agree\n\n");
  for (int i = 0; i < WORKERS; i++)
    CU_ASSERT_EQUAL_FATAL(
        pthread_create(&th[i], NULL, check_repeatedly, &wrong[i]), 0);
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(wrong[i], 0);
  }
}

static int teardown(void)
{
  if (msg)
    msg_destroy(msg);
  msg = NULL;
  return 0;
}

int main(void)
{
  static const tz_unit_test_t tests[] = {
      {"valid requests pass", test_valid_passes},
      {"missing required headers", test_missing_header},
      {"CSeq method and number", test_cseq},
      {"Content-Length beyond a datagram's body", test_content_length},
      {"Request-URI scheme and port", test_ruri},
      {"Via sent-by", test_via},
      {"Max-Forwards range", test_max_forwards},
      {"headers Sofia could not parse", test_malformed_header},
      {"Proxy-Require: 420 listing every unsupported tag", test_proxy_require},
      {"check names", test_flag_names},
      {"several workers at once", test_workers},
      {NULL, NULL}};
  static const tz_unit_suite_t suites[] = {
      {"sanity checks", tests, NULL, teardown}, {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
