/*
 * test_sipt.c - the .sipt parser: each directive's and fixture's result
 * (the JSON of every fixture, its escapes), send messages (CRLF, the
 * Content-Length added, "auto", raw escapes), respond header blocks, each
 * expectation, where a block ends and the line numbers after it, quoting
 * and comments, every error with its line:col, and did-you-mean.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "test/sipt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

static sipt_file_t *parse(const char *text)
{
  sipt_file_t *f = sipt_parse("t.sipt", text, strlen(text), err, sizeof err);
  if (!f)
    fprintf(stderr, "\n  unexpected error: %s\n", err);
  return f;
}

/* Item i, which must be of this kind. */
static const sipt_item_t *at(const sipt_file_t *f, size_t i, sipt_kind_t kind)
{
  const sipt_item_t *it = sipt_at(f, i);
  CU_ASSERT_PTR_NOT_NULL_FATAL(it);
  CU_ASSERT_EQUAL(it->kind, kind);
  return it;
}

/* A string that is NULL when absent. */
static void assert_opt_str(const char *got, const char *want)
{
  if (want) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, want);
  } else {
    CU_ASSERT_PTR_NULL(got);
  }
}

/* The parse must fail with exactly this message. */
static void assert_error_len(const char *text, size_t len, const char *want)
{
  sipt_file_t *f = sipt_parse("t.sipt", text, len, err, sizeof err);
  CU_ASSERT_PTR_NULL(f);
  sipt_free(f);
  if (strcmp(err, want))
    fprintf(stderr, "\n  input  %s\n  error  %s\n  wanted %s\n", text, err, want);
  CU_ASSERT_STRING_EQUAL(err, want);
}

static void assert_error(const char *text, const char *want)
{
  assert_error_len(text, strlen(text), want);
}

/* A case with one step, so that expectations may follow (at line 4). */
#define STEP "case \"c\"\nsend from udp 192.0.2.1:5060\n  OPTIONS sip:x SIP/2.0\n"

static void test_directives(void)
{
  sipt_file_t *f = parse("# a test\n"
                         "script ../cfg/proxy.cfg\n"
                         "\n"
                         "modparam registrar max_expires 600   # a comment\n"
                         "modparam tm fr_reason \"Request \\\"Timeout\\\" #1\"\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_STRING_EQUAL(sipt_name(f), "t.sipt");
  CU_ASSERT_EQUAL(sipt_count(f), 3);
  const sipt_item_t *it = at(f, 0, SIPT_SCRIPT);
  CU_ASSERT_STRING_EQUAL(it->text, "../cfg/proxy.cfg");
  CU_ASSERT_EQUAL(it->line, 2);
  CU_ASSERT_EQUAL(it->col, 1);
  it = at(f, 1, SIPT_MODPARAM);
  CU_ASSERT_STRING_EQUAL(it->text, "registrar.max_expires=600");
  CU_ASSERT_EQUAL(it->line, 4);
  it = at(f, 2, SIPT_MODPARAM);
  CU_ASSERT_STRING_EQUAL(it->text, "tm.fr_reason=Request \"Timeout\" #1");
  CU_ASSERT_PTR_NULL(sipt_at(f, 3));
  sipt_free(f);
}

static void test_fixtures(void)
{
  sipt_file_t *f = parse(
      "subscriber alice@example.com \"s3cr\\\"et\\\\\"\n"
      "binding sip:alice@example.com sip:alice@192.0.2.10:5070\n"
      "binding sip:bob@example.com sip:bob@192.0.2.11 expires=60 q=0.5 "
      "received=sip:198.51.100.1:40000\n"
      "dns A proxy.example.com 192.0.2.7 ttl=30\n"
      "dns AAAA proxy.example.com 2001:db8::7\n"
      "dns SRV _sip._udp.example.com 10 20 5060 proxy.example.com ttl=0\n"
      "dns NAPTR example.com 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com\n"
      "dns NXDOMAIN gone.example.com\n"
      "control location.flush {\"aor\": \"sip:a@b\", \"n\": [1, {\"x\": \"}#\"}]}  # c\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(sipt_count(f), 9);
  static const struct {
    const char *a, *b, *text;
  } want[] = {
      {"auth.subscriber_add", "subscriber",
       "{\"username\":\"alice\",\"domain\":\"example.com\",\"password\":\"s3cr\\\"et\\\\\"}"},
      {"location.add", "binding",
       "{\"aor\":\"sip:alice@example.com\",\"contact\":\"sip:alice@192.0.2.10:5070\","
       "\"expires\":3600}"},
      {"location.add", "binding",
       "{\"aor\":\"sip:bob@example.com\",\"contact\":\"sip:bob@192.0.2.11\","
       "\"expires\":60,\"q\":0.5,\"received\":\"sip:198.51.100.1:40000\"}"},
      {"dns.zone_add", "dns",
       "{\"type\":\"A\",\"name\":\"proxy.example.com\",\"address\":\"192.0.2.7\",\"ttl\":30}"},
      {"dns.zone_add", "dns",
       "{\"type\":\"AAAA\",\"name\":\"proxy.example.com\",\"address\":\"2001:db8::7\"}"},
      {"dns.zone_add", "dns",
       "{\"type\":\"SRV\",\"name\":\"_sip._udp.example.com\",\"priority\":10,"
       "\"weight\":20,\"port\":5060,\"target\":\"proxy.example.com\",\"ttl\":0}"},
      {"dns.zone_add", "dns",
       "{\"type\":\"NAPTR\",\"name\":\"example.com\",\"order\":100,\"preference\":10,"
       "\"flags\":\"S\",\"service\":\"SIP+D2U\",\"regexp\":\"\","
       "\"replacement\":\"_sip._udp.example.com\"}"},
      {"dns.zone_add", "dns", "{\"type\":\"NXDOMAIN\",\"name\":\"gone.example.com\"}"},
      {"location.flush", "control",
       "{\"aor\": \"sip:a@b\", \"n\": [1, {\"x\": \"}#\"}]}"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const sipt_item_t *it = at(f, i, SIPT_FIXTURE);
    CU_ASSERT_STRING_EQUAL(it->a, want[i].a);
    CU_ASSERT_STRING_EQUAL(it->b, want[i].b);
    CU_ASSERT_STRING_EQUAL(it->text, want[i].text);
    CU_ASSERT_EQUAL(it->line, i + 1);
  }
  sipt_free(f);
}

/* Control characters in a quoted value come out as \u escapes. */
static void test_json_escapes(void)
{
  sipt_file_t *f = parse("subscriber a@b \"x\ty\x01\\z\"\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_STRING_EQUAL(at(f, 0, SIPT_FIXTURE)->text,
                         "{\"username\":\"a\",\"domain\":\"b\","
                         "\"password\":\"x\\u0009y\\u0001\\\\z\"}");
  sipt_free(f);
}

static void test_send_sip(void)
{
  sipt_file_t *f = parse("case \"invite\"\n"
                         "send from udp 192.0.2.1:5060\n"
                         "    INVITE sip:bob@example.com SIP/2.0\n"
                         "    Via: SIP/2.0/UDP 192.0.2.1:5060\n"
                         "    Subject: folded\n"
                         "      continued\n"
                         "    Content-Type: application/sdp\n"
                         "\n"
                         "    v=0\n"
                         "\n"
                         "    o=- 1 1 IN IP4 192.0.2.1\n"
                         "\n"
                         "\n"
                         "expect reply 100\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  const sipt_item_t *it = at(f, 1, SIPT_SEND);
  CU_ASSERT_STRING_EQUAL(it->msg, "INVITE sip:bob@example.com SIP/2.0\r\n"
                                  "Via: SIP/2.0/UDP 192.0.2.1:5060\r\n"
                                  "Subject: folded\r\n"
                                  "  continued\r\n"
                                  "Content-Type: application/sdp\r\n"
                                  "Content-Length: 33\r\n"
                                  "\r\n"
                                  "v=0\r\n"
                                  "\r\n"
                                  "o=- 1 1 IN IP4 192.0.2.1\r\n");
  CU_ASSERT_EQUAL(strlen("v=0\r\n\r\no=- 1 1 IN IP4 192.0.2.1\r\n"), 33);
  CU_ASSERT_EQUAL(it->msglen, strlen(it->msg));
  CU_ASSERT_FALSE(it->raw);
  CU_ASSERT_EQUAL(it->repeat, 1);
  it = at(f, 2, SIPT_EXPECT);
  CU_ASSERT_EQUAL(it->line, 14);
  sipt_free(f);
}

/* No body: Content-Length 0; "auto" (also compact) is set in place; a
 * written number is kept, even wrong; CRLF sources read as LF ones. */
static void test_content_length(void)
{
  sipt_file_t *f = parse("case \"c\"\r\n"
                         "send from tcp 192.0.2.1:5060\r\n"
                         "\tOPTIONS sip:x SIP/2.0\r\n"
                         "\tMax-Forwards: 70\r\n"
                         "send from tcp 192.0.2.1:5060\n"
                         "  MESSAGE sip:x SIP/2.0\n"
                         "  content-length :  Auto \n"
                         "  To: <sip:x>\n"
                         "\n"
                         "  hello\n"
                         "send from tcp 192.0.2.1:5060\n"
                         "  MESSAGE sip:x SIP/2.0\n"
                         "  l: auto\n"
                         "\n"
                         "  hi\n"
                         "send from tcp 192.0.2.1:5060\n"
                         "  MESSAGE sip:x SIP/2.0\n"
                         "  Content-Length: 99\n"
                         "\n"
                         "  hi\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_STRING_EQUAL(at(f, 1, SIPT_SEND)->msg,
                         "OPTIONS sip:x SIP/2.0\r\nMax-Forwards: 70\r\n"
                         "Content-Length: 0\r\n\r\n");
  CU_ASSERT_STRING_EQUAL(at(f, 2, SIPT_SEND)->msg,
                         "MESSAGE sip:x SIP/2.0\r\ncontent-length :  7\r\n"
                         "To: <sip:x>\r\n\r\nhello\r\n");
  CU_ASSERT_STRING_EQUAL(at(f, 3, SIPT_SEND)->msg,
                         "MESSAGE sip:x SIP/2.0\r\nl: 4\r\n\r\nhi\r\n");
  CU_ASSERT_STRING_EQUAL(at(f, 4, SIPT_SEND)->msg,
                         "MESSAGE sip:x SIP/2.0\r\nContent-Length: 99\r\n\r\nhi\r\n");
  CU_ASSERT_EQUAL(at(f, 2, SIPT_SEND)->line, 5);
  CU_ASSERT_EQUAL(at(f, 4, SIPT_SEND)->line, 16);
  sipt_free(f);
}

static void test_send_raw(void)
{
  sipt_file_t *f = parse(STEP "send raw from udp 192.0.2.1:5060\n"
                              "  GARBAGE\\r\\nX: \\x41\\x00\\t\\\\ \\q\n"
                              "  Content-Length: 5\n"
                              "\n"
                              "  tail\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  const sipt_item_t *it = at(f, 2, SIPT_SEND);
  static const char want[] = "GARBAGE\r\nX: A\0\t\\ \\q\r\nContent-Length: 5\r\n\r\ntail\r\n";
  CU_ASSERT_TRUE(it->raw);
  CU_ASSERT_EQUAL_FATAL(it->msglen, sizeof want - 1);
  CU_ASSERT_EQUAL(memcmp(it->msg, want, sizeof want - 1), 0);
  sipt_free(f);
}

static void test_send_args(void)
{
  sipt_file_t *f = parse("case \"c\"\n"
                         "send from tls [2001:db8::1]:5061 with credentials alice \"p w\"\n"
                         "  REGISTER sip:example.com SIP/2.0\n"
                         "repeat 20 send raw from udp 198.51.100.9:1\n"
                         "  x\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  const sipt_item_t *it = at(f, 1, SIPT_SEND);
  CU_ASSERT_STRING_EQUAL(it->proto, "tls");
  CU_ASSERT_STRING_EQUAL(it->host, "2001:db8::1");
  CU_ASSERT_EQUAL(it->port, 5061);
  CU_ASSERT_STRING_EQUAL(it->user, "alice");
  CU_ASSERT_STRING_EQUAL(it->password, "p w");
  CU_ASSERT_EQUAL(it->repeat, 1);
  it = at(f, 2, SIPT_SEND);
  CU_ASSERT_STRING_EQUAL(it->proto, "udp");
  CU_ASSERT_STRING_EQUAL(it->host, "198.51.100.9");
  CU_ASSERT_EQUAL(it->port, 1);
  CU_ASSERT_PTR_NULL(it->user);
  CU_ASSERT_EQUAL(it->repeat, 20);
  CU_ASSERT_TRUE(it->raw);
  CU_ASSERT_STRING_EQUAL(it->msg, "x\r\n");
  CU_ASSERT_EQUAL(it->line, 4);
  sipt_free(f);
}

static void test_respond(void)
{
  sipt_file_t *f = parse(STEP "respond 180\n"
                              "respond 486 \"Busy \\\"Here\\\"\" to INVITE\n"
                              "    Retry-After: 30\n"
                              "    X-Note : a # not a comment\n"
                              "\n"
                              "respond 200 to BYE\n"
                              "expect reply 200 \"OK\"\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  const sipt_item_t *it = at(f, 2, SIPT_RESPOND);
  CU_ASSERT_EQUAL(it->n, 180);
  CU_ASSERT_PTR_NULL(it->a);
  CU_ASSERT_PTR_NULL(it->b);
  CU_ASSERT_PTR_NULL(it->msg);
  it = at(f, 3, SIPT_RESPOND);
  CU_ASSERT_EQUAL(it->n, 486);
  CU_ASSERT_STRING_EQUAL(it->b, "Busy \"Here\"");
  CU_ASSERT_STRING_EQUAL(it->a, "INVITE");
  CU_ASSERT_STRING_EQUAL(it->msg, "Retry-After: 30\r\nX-Note : a # not a comment\r\n");
  CU_ASSERT_EQUAL(it->msglen, strlen(it->msg));
  it = at(f, 4, SIPT_RESPOND);
  CU_ASSERT_EQUAL(it->line, 9);
  CU_ASSERT_STRING_EQUAL(it->a, "BYE");
  CU_ASSERT_PTR_NULL(it->b);
  it = at(f, 5, SIPT_EXPECT);
  CU_ASSERT_EQUAL(it->line, 10);
  CU_ASSERT_EQUAL(it->x, SIPT_X_REPLY);
  CU_ASSERT_EQUAL(it->n, 200);
  CU_ASSERT_STRING_EQUAL(it->a, "OK");
  sipt_free(f);
}

static void test_expects(void)
{
  sipt_file_t *f = parse(STEP "expect reply 404\n"
                              "expect no reply\n"
                              "expect relay sip:bob@192.0.2.9:5080;transport=tcp\n"
                              "expect relays 2\n"
                              "expect no relay\n"
                              "expect request INVITE sip:bob@example.com\n"
                              "expect ruri sip:bob@example.com\n"
                              "expect header Via#2 = \"SIP/2.0/UDP 192.0.2.1:5060\"\n"
                              "expect header Contact ~ \"192\\.0\\.2\\.7\"\n"
                              "expect header Record-Route absent\n"
                              "expect body ~ \"^v=0\"\n"
                              "expect drop\n"
                              "expect route failure_route[MISSED]\n"
                              "expect no route request_route\n"
                              "expect log ~ \"relay(ing)? to .*\"\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL_FATAL(sipt_count(f), 17);
  static const struct {
    sipt_expect_t x;
    int n;
    const char *a, *b;
  } want[] = {
      {SIPT_X_REPLY, 404, NULL, NULL},
      {SIPT_X_NO_REPLY, 0, NULL, NULL},
      {SIPT_X_RELAY, 0, "sip:bob@192.0.2.9:5080;transport=tcp", NULL},
      {SIPT_X_RELAYS, 2, NULL, NULL},
      {SIPT_X_NO_RELAY, 0, NULL, NULL},
      {SIPT_X_REQUEST, 0, "INVITE", "sip:bob@example.com"},
      {SIPT_X_RURI, 0, "sip:bob@example.com", NULL},
      {SIPT_X_HEADER, 2, "Via", "SIP/2.0/UDP 192.0.2.1:5060"},
      {SIPT_X_HEADER, 0, "Contact", "192\\.0\\.2\\.7"},
      {SIPT_X_HEADER, 0, "Record-Route", NULL},
      {SIPT_X_BODY, 0, NULL, "^v=0"},
      {SIPT_X_DROP, 0, NULL, NULL},
      {SIPT_X_ROUTE, 0, "failure_route[MISSED]", NULL},
      {SIPT_X_ROUTE, 0, "request_route", NULL},
      {SIPT_X_LOG, 0, NULL, "relay(ing)? to .*"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const sipt_item_t *it = at(f, i + 2, SIPT_EXPECT);
    CU_ASSERT_EQUAL(it->line, i + 4);
    CU_ASSERT_EQUAL(it->x, want[i].x);
    CU_ASSERT_EQUAL(it->n, want[i].n);
    assert_opt_str(it->a, want[i].a);
    assert_opt_str(it->b, want[i].b);
  }
  CU_ASSERT_EQUAL(sipt_at(f, 9)->op, SIPT_OP_EQ);
  CU_ASSERT_EQUAL(sipt_at(f, 10)->op, SIPT_OP_MATCH);
  CU_ASSERT_EQUAL(sipt_at(f, 11)->op, SIPT_OP_ABSENT);
  CU_ASSERT_EQUAL(sipt_at(f, 12)->op, SIPT_OP_MATCH);
  CU_ASSERT_FALSE(sipt_at(f, 14)->negate);
  CU_ASSERT_TRUE(sipt_at(f, 15)->negate);
  sipt_free(f);
}

/* A block ends at the first non-blank line that is not indented; blank
 * lines before it are the file's, a comment line ends it, blank lines
 * between its lines are kept, and line numbers run on. */
static void test_block_end(void)
{
  sipt_file_t *f = parse("case \"one\"\n"             /* 1 */
                         "send from udp 192.0.2.1:5060\n" /* 2 */
                         "\n"                          /* 3 */
                         "   OPTIONS sip:x SIP/2.0\n"  /* 4 */
                         "   To: <sip:x>\n"            /* 5 */
                         "  \t \n"                     /* 6 */
                         "\n"                          /* 7 */
                         "   body\n"                   /* 8 */
                         "\n"                          /* 9 */
                         "  \n"                        /* 10 */
                         "# a comment\n"               /* 11 */
                         "   # inside no block\n"      /* 12 */
                         "expect reply 200\n"          /* 13 */
                         "case \"two\"\n"              /* 14 */
                         "respond 100\n"               /* 15 */
                         "  X: 1\n"                    /* 16 */
                         "expect no reply\n");         /* 17 */
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL_FATAL(sipt_count(f), 6);
  const sipt_item_t *it = at(f, 1, SIPT_SEND);
  CU_ASSERT_EQUAL(it->line, 2);
  CU_ASSERT_STRING_EQUAL(it->msg, "OPTIONS sip:x SIP/2.0\r\nTo: <sip:x>\r\n"
                                  "Content-Length: 8\r\n\r\n\r\nbody\r\n");
  CU_ASSERT_EQUAL(at(f, 2, SIPT_EXPECT)->line, 13);
  CU_ASSERT_EQUAL(at(f, 3, SIPT_CASE)->line, 14);
  CU_ASSERT_STRING_EQUAL(at(f, 3, SIPT_CASE)->a, "two");
  CU_ASSERT_STRING_EQUAL(at(f, 4, SIPT_RESPOND)->msg, "X: 1\r\n");
  CU_ASSERT_EQUAL(at(f, 5, SIPT_EXPECT)->line, 17);
  sipt_free(f);
}

/* Quotes know only \" and \\; '#' is a comment only where a word starts. */
static void test_quoting(void)
{
  sipt_file_t *f = parse(STEP "expect header X-A = \"a\\\"b\\\\c\\d # e\" # comment\n"
                              "expect header X-B = \"\"\n"
                              "expect relay sip:a@b#frag\n"
                              "expect header X-C ~ \"^a\\.b\"#comment\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_STRING_EQUAL(at(f, 2, SIPT_EXPECT)->b, "a\"b\\c\\d # e");
  CU_ASSERT_STRING_EQUAL(at(f, 3, SIPT_EXPECT)->b, "");
  CU_ASSERT_STRING_EQUAL(at(f, 4, SIPT_EXPECT)->a, "sip:a@b#frag");
  CU_ASSERT_STRING_EQUAL(at(f, 5, SIPT_EXPECT)->b, "^a\\.b");
  sipt_free(f);
}

static void test_errors(void)
{
  /* order: steps and expectations need a case, expectations a step */
  assert_error("script a.cfg\n\nsend from udp 192.0.2.1:1\n  X\n",
               "t.sipt:3:1: error: 'send' before the first 'case'");
  assert_error("respond 200\n", "t.sipt:1:1: error: 'respond' before the first 'case'");
  assert_error("expect reply 200\n", "t.sipt:1:1: error: 'expect' before the first 'case'");
  assert_error("case \"c\"\nexpect drop\n",
               "t.sipt:2:1: error: 'expect' before any 'send' or 'respond' in case \"c\"");
  assert_error(STEP "case \"d\"\nsubscriber a@b pw\nexpect drop\n",
               "t.sipt:6:1: error: 'expect' before any 'send' or 'respond' in case \"d\"");
  assert_error("script a.cfg\nscript b.cfg\n",
               "t.sipt:2:1: error: 'script' given twice (first at line 1)");
  assert_error("case \"c\"\ncase \"c\"\n",
               "t.sipt:2:6: error: case \"c\" already defined at line 1");
  assert_error("case \"\"\n", "t.sipt:1:6: error: empty case name");
  assert_error("case c\n", "t.sipt:1:6: error: expected a quoted case name, found 'c'");
  /* numbers */
  assert_error(STEP "expect reply 700\n",
               "t.sipt:4:14: error: status must be a number from 100 to 699, not '700'");
  assert_error(STEP "expect reply 20x\n",
               "t.sipt:4:14: error: status must be a number from 100 to 699, not '20x'");
  assert_error(STEP "respond 99\n",
               "t.sipt:4:9: error: status must be a number from 100 to 699, not '99'");
  assert_error("case \"c\"\nrepeat 0 send from udp 192.0.2.1:1\n  X\n",
               "t.sipt:2:8: error: repeat count must be a number from 1 to 100000, not '0'");
  assert_error("dns SRV s.example.com 1 2 70000 t.example.com\n",
               "t.sipt:1:27: error: port must be a number from 0 to 65535, not '70000'");
  assert_error("binding sip:a@b sip:a@c expires=-1\n",
               "t.sipt:1:33: error: expires must be a number from 1 to 2147483647, not '-1'");
  assert_error("binding sip:a@b sip:a@c q=1.5\n",
               "t.sipt:1:27: error: q must be from 0 to 1 with at most 3 decimals, not '1.5'");
  assert_error(STEP "expect header Via#0 absent\n",
               "t.sipt:4:19: error: header index must be a number from 1 to 1000, not '0'");
  /* addresses */
  assert_error("case \"c\"\nsend from udp 192.0.2.300:5060\n  X\n",
               "t.sipt:2:15: error: bad address '192.0.2.300:5060' "
               "(expected IP:PORT or [IPv6]:PORT)");
  assert_error("case \"c\"\nsend from udp ::1:5060\n  X\n",
               "t.sipt:2:15: error: bad address '::1:5060' (expected IP:PORT or [IPv6]:PORT)");
  assert_error("case \"c\"\nsend from udp [::1]5060\n  X\n",
               "t.sipt:2:15: error: bad address '[::1]5060' (expected IP:PORT or [IPv6]:PORT)");
  assert_error("case \"c\"\nsend from udp [::1]:0\n  X\n",
               "t.sipt:2:21: error: port must be a number from 1 to 65535, not '0'");
  assert_error("dns A h.example.com 2001:db8::1\n",
               "t.sipt:1:21: error: bad IPv4 address '2001:db8::1'");
  assert_error("dns AAAA h.example.com 192.0.2.1\n",
               "t.sipt:1:24: error: bad IPv6 address '192.0.2.1'");
  assert_error("dns A h_$.example.com 192.0.2.1\n",
               "t.sipt:1:7: error: bad domain name 'h_$.example.com'");
  /* missing arguments, trailing garbage */
  assert_error("subscriber alice@example.com\n",
               "t.sipt:1:29: error: missing password after 'alice@example.com'");
  assert_error("subscriber alice pw\n",
               "t.sipt:1:12: error: expected USER@DOMAIN, found 'alice'");
  assert_error("case \"c\"\nsend from udp   # where from?\n",
               "t.sipt:2:17: error: missing source address after 'udp'");
  assert_error("case \"c\"\nsend to udp 192.0.2.1:1\n",
               "t.sipt:2:6: error: expected 'from', found 'to'");
  assert_error("case \"c\"\nsend from ws 192.0.2.1:1\n",
               "t.sipt:2:11: error: unknown transport 'ws'");
  assert_error("case \"c\"\nsend from udp 192.0.2.1:1 with password x y\n",
               "t.sipt:2:32: error: expected 'credentials', found 'password'");
  assert_error("case \"c\"\nsend from udp 192.0.2.1:1\nexpect drop\n",
               "t.sipt:2:1: error: 'send' needs a message: indented lines after it");
  assert_error("case \"c\"\nrepeat 2 sned from udp 192.0.2.1:1\n",
               "t.sipt:2:10: error: expected 'send', found 'sned'");
  assert_error(STEP "expect drop now\n", "t.sipt:4:13: error: unexpected 'now' after 'drop'");
  assert_error(STEP "expect reply 200 OK\n",
               "t.sipt:4:18: error: expected a quoted reason phrase, found 'OK'");
  assert_error(STEP "respond 200 OK\n",
               "t.sipt:4:13: error: expected a quoted reason phrase, found 'OK'");
  assert_error(STEP "expect header To == \"x\"\n",
               "t.sipt:4:18: error: expected '=', '~' or 'absent', found '=='");
  assert_error(STEP "expect body = \"x\"\n", "t.sipt:4:13: error: expected '~', found '='");
  assert_error(STEP "expect relay bob@example.com\n",
               "t.sipt:4:14: error: bad URI 'bob@example.com' (expected scheme:...)");
  assert_error(STEP "expect log ~ \"a(\"\n",
               "t.sipt:4:14: error: bad regular expression: Unmatched ( or \\(");
  assert_error("clock 2026-02-30 10:00\n",
               "t.sipt:1:7: error: a time is YYYY-MM-DDTHH:MM:SSZ (UTC), not '2026-02-30'");
  assert_error(STEP "clock 2026-03-01T10:00:00Z\n",
               "t.sipt:4:1: error: 'clock' must come before the first 'case'");
  assert_error(STEP "advance 5d\n",
               "t.sipt:4:9: error: a duration is a number with ms, s, m or h, up to 24h, not '5d'");
  assert_error(STEP "expect route failure_route\n", "t.sipt:4:14: error: 'failure_route' needs a [name]");
  assert_error(STEP "expect route route[x]\n", "t.sipt:4:14: error: unknown route 'route'");
  assert_error(STEP "expect route reply_route[x]\n",
               "t.sipt:4:14: error: 'reply_route' takes no [name]");
  assert_error("binding sip:a@b sip:a@c expires=60 expires=70\n",
               "t.sipt:1:36: error: option 'expires' given twice");
  assert_error("binding sip:a@b sip:a@c 60\n", "t.sipt:1:25: error: unexpected '60' after 'sip:a@c'");
  assert_error("modparam tm.x a b\n", "t.sipt:1:10: error: bad module name 'tm.x'");
  /* quotes */
  assert_error(STEP "expect header X = \"abc\n",
               "t.sipt:4:19: error: unterminated quoted string");
  assert_error(STEP "expect header X = \"a\\\"\n",
               "t.sipt:4:19: error: unterminated quoted string");
  assert_error(STEP "expect header X = \"a\"b\n",
               "t.sipt:4:22: error: expected a space after the closing quote");
  /* dns and control */
  assert_error("dns MX example.com mail.example.com\n",
               "t.sipt:1:5: error: unknown dns type 'MX'");
  assert_error("dns NAPTR e.example.com 1 2 S \"SIP+D2U\" \"\" .\n",
               "t.sipt:1:29: error: expected a quoted flags, found 'S'");
  assert_error("control location.flush [1]\n",
               "t.sipt:1:24: error: expected a JSON object, found '[1]'");
  assert_error("control location.flush\n",
               "t.sipt:1:23: error: missing JSON object after 'location.flush'");
  assert_error("control location.flush {\"a\": \"}\"\n",
               "t.sipt:1:24: error: unterminated JSON object");
  assert_error("control location.flush {} x\n", "t.sipt:1:27: error: unexpected 'x' after '}'");
  assert_error("control {\"a\": 1}\n", "t.sipt:1:9: error: bad command name '{\"a\":'");
  /* blocks */
  assert_error("case \"c\"\n  send from udp 192.0.2.1:1\n",
               "t.sipt:2:3: error: indented line outside a message block "
               "(only the lines after 'send' or 'respond' are)");
  assert_error(STEP "respond 200\n  X-A: 1\n\n  X-B: 2\n",
               "t.sipt:6:1: error: blank line in a 'respond' block (it holds header lines only)");
  assert_error(STEP "respond 200\n  X-A: 1\n  not a header\n",
               "t.sipt:6:3: error: expected a header line 'Name: value'");
  assert_error(STEP "send raw from udp 192.0.2.1:1\n   ok\\x4\n",
               "t.sipt:5:6: error: '\\x' needs two hex digits");
  static const char nul[] = "# x\nca\0se \"c\"\n";
  assert_error_len(nul, sizeof nul - 1, "t.sipt:2:3: error: NUL byte in the file");
}

/* Every error above names its line; the "unknown" ones offer the closest
 * keyword when it is close enough to be a typo. */
static void test_did_you_mean(void)
{
  assert_error("case \"c\"\nexpcet reply 200\n",
               "t.sipt:2:1: error: unknown directive 'expcet'; did you mean 'expect'?");
  assert_error("subscribr a@b pw\n",
               "t.sipt:1:1: error: unknown directive 'subscribr'; did you mean 'subscriber'?");
  assert_error("frobnicate\n", "t.sipt:1:1: error: unknown directive 'frobnicate'");
  assert_error(STEP "expect replay 200\n",
               "t.sipt:4:8: error: unknown expectation 'replay'; did you mean 'reply'?");
  assert_error(STEP "expect no replay\n",
               "t.sipt:4:11: error: unknown expectation 'no replay'; did you mean 'no reply'?");
  assert_error(STEP "expect\n", "t.sipt:4:7: error: missing expectation after 'expect'");
  assert_error(STEP "expect route faliure_route[x]\n",
               "t.sipt:4:14: error: unknown route 'faliure_route'; did you mean 'failure_route'?");
  assert_error("dns NXDOMAN gone.example.com\n",
               "t.sipt:1:5: error: unknown dns type 'NXDOMAN'; did you mean 'NXDOMAIN'?");
  assert_error("binding sip:a@b sip:a@c expire=60\n",
               "t.sipt:1:25: error: unknown option 'expire'; did you mean 'expires'?");
}

/* A block past 64 KB is a lost dedent, not a message. */
static void test_limits(void)
{
  size_t n = 70000;
  char *text = malloc(n + 64);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  strcpy(text, STEP "send from udp 192.0.2.1:5060\n");
  size_t len = strlen(text);
  while (len < n) {
    memcpy(text + len, "  X-Pad: 0123456789012345678901234567890123456789\n", 50);
    len += 50;
  }
  text[len] = '\0';
  assert_error(text, "t.sipt:5:1: error: message block longer than 65536 bytes");
  free(text);
}

static void test_file(void)
{
  char path[] = "/tmp/test_sipt.XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  static const char text[] = STEP "expect reply 200\nexpect bogus\n";
  CU_ASSERT_EQUAL(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  sipt_file_t *f = sipt_parse_file(path, err, sizeof err);
  CU_ASSERT_PTR_NULL(f);
  char want[128];
  snprintf(want, sizeof want, "%s:5:8: error: unknown expectation 'bogus'", path);
  CU_ASSERT_STRING_EQUAL(err, want);
  unlink(path);
  f = sipt_parse_file(path, err, sizeof err);
  CU_ASSERT_PTR_NULL(f);
  snprintf(want, sizeof want, "%s: error: No such file or directory", path);
  CU_ASSERT_STRING_EQUAL(err, want);
  /* an empty file is a valid one, with nothing in it */
  f = sipt_parse("empty", "", 0, err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(sipt_count(f), 0);
  sipt_free(f);
}

/* The directives around time and place: listen, clock, advance. */
static void test_time_and_place(void)
{
  sipt_file_t *f = parse("listen udp:127.0.0.1:5070\n"
                         "clock 2026-03-01T10:00:00Z\n" STEP
                         "advance 1500ms\nadvance 2h\n");
  CU_ASSERT_STRING_EQUAL(at(f, 0, SIPT_LISTEN)->text, "udp:127.0.0.1:5070");
  CU_ASSERT_STRING_EQUAL(at(f, 1, SIPT_CLOCK)->text, "2026-03-01T10:00:00Z");
  CU_ASSERT_EQUAL(at(f, 4, SIPT_ADVANCE)->n, 1500);
  CU_ASSERT_EQUAL(at(f, 5, SIPT_ADVANCE)->n, 7200000);
  sipt_free(f);
}

static const tz_unit_test_t item_tests[] = {
    {"directives", test_directives},
    {"fixtures as control JSON", test_fixtures},
    {"JSON escapes", test_json_escapes},
    {"send: CRLF and Content-Length", test_send_sip},
    {"Content-Length added, auto, kept", test_content_length},
    {"send raw: escapes", test_send_raw},
    {"send: transport, address, credentials, repeat", test_send_args},
    {"respond and its headers", test_respond},
    {"every expectation", test_expects},
    {"block end and line numbers", test_block_end},
    {"quoting and comments", test_quoting},
    {"listen, clock, advance", test_time_and_place},
    {NULL, NULL},
};

static const tz_unit_test_t error_tests[] = {
    {"errors with line:col", test_errors},
    {"did you mean", test_did_you_mean},
    {"block size limit", test_limits},
    {"files", test_file},
    {NULL, NULL},
};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"sipt items", item_tests, NULL, NULL},
      {"sipt errors", error_tests, NULL, NULL},
      {NULL, NULL, NULL, NULL},
  };
  return tz_unit_main(suites);
}
