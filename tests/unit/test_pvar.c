/*
 * test_pvar.c - pseudo-variables and the core header/method functions on
 * real SIP messages parsed by Sofia.
 */
#include <sofia-sip/su_string.h>

#include "script_test.h"

static const char invite[] =
    "INVITE sip:bob@example.com:5070;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776other\r\n"
    "Max-Forwards: 70\r\n"
    "t: Bob <sip:bob@example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1>\r\n"
    "User-Agent: TestUA/1.0\r\n"
    "X-Custom: hello world\r\n"
    "x-custom: second\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static const char bye[] = "BYE sips:carol@chicago.example.com SIP/2.0\r\n"
                          "Via: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bKbye\r\n"
                          "To: <sips:carol@chicago.example.com>;tag=314\r\n"
                          "From: <sips:alice@example.com>;tag=abc\r\n"
                          "Call-ID: bye-1\r\n"
                          "CSeq: 2 BYE\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n";

static const char ringing[] = "SIP/2.0 180 Ringing\r\n"
                              "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKr\r\n"
                              "To: <sip:bob@example.com>;tag=xyz\r\n"
                              "From: <sip:alice@example.com>;tag=abc\r\n"
                              "Call-ID: r-1\r\n"
                              "CSeq: 7 INVITE\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";

static const char foo[] = "FOO sip:x@example.com SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKf\r\n"
                          "To: <sip:x@example.com>\r\n"
                          "From: <sip:alice@example.com>;tag=abc\r\n"
                          "Call-ID: f-1\r\n"
                          "CSeq: 1 FOO\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n";

/* Runs the script's route for `kind` on a message parsed from raw; the
 * context stays open in *m for inspection (test_msg_deinit it). */
static void run_on(tz_msg_t *m, const char *script, const char *raw,
                   unsigned kind)
{
  test_record_buf[0] = '\0';
  tz_script_t *s;
  TEST_LOAD_OK(s, script);
  test_msg_init(m, raw, kind);
  strcpy(m->src_ip, "192.0.2.7");
  m->src_port = 5062;
  m->proto = "udp";
  const tz_route_t *r = kind == TZ_ROUTE_REPLY ? tz_script_reply_route(s)
                                                : tz_script_request_route(s);
  CU_ASSERT_EQUAL(test_run(s, r, m), TZ_RUN_OK);
  tz_script_free(s);
}

#define RECORDS_ON(raw, kind, body, want)                                     \
  do {                                                                        \
    tz_msg_t m_;                                                              \
    run_on(&m_, kind == TZ_ROUTE_REPLY ? "reply_route {" body "}"            \
                                       : "request_route {" body "}",         \
           raw, kind);                                                        \
    CU_ASSERT_STRING_EQUAL(test_record_buf, want);                            \
    test_msg_deinit(&m_);                                                     \
  } while (0)

static void test_request_pvars(void)
{
  RECORDS_ON(invite, TZ_ROUTE_REQUEST,
             "t_record(\"$rm|$ru|$rU|$rd|$rp\");"
             "t_record(\"$fu|$fU|$fd|$ft\");"
             "t_record(\"$tu|$tU|$td|$tt\");"
             "t_record(\"$ci|$cs|$ua\");"
             "t_record(\"$si|$sp|$pr|$proto|$rs|$rr|$du\");",
             "INVITE|sip:bob@example.com:5070;transport=udp|bob|example.com|"
             "5070,"
             "sip:alice@atlanta.example.com|alice|atlanta.example.com|"
             "1928301774,"
             "sip:bob@example.com|bob|example.com|<null>,"
             "a84b4c76e66710@pc33.atlanta.example.com|314159|TestUA/1.0,"
             "192.0.2.7|5062|udp|udp|<null>|<null>|<null>,");
  RECORDS_ON(bye, TZ_ROUTE_REQUEST, "t_record(\"$rp $tt $rm\");",
             "5061 314 BYE,");
}

static void test_pvar_types(void)
{
  RECORDS_ON(invite, TZ_ROUTE_REQUEST,
             "if ($cs == 314159 && $cs > 1000 && $rp == 5070) "
             "t_record(\"int\");"
             "if ($cs + 1 == 314160) t_record(\"sum\");"
             "if ($rm == \"INVITE\" && $tt == \"\") t_record(\"str\");",
             "int,sum,str,");
}

static void test_hdr(void)
{
  RECORDS_ON(invite, TZ_ROUTE_REQUEST,
             "t_record(\"$hdr(X-Custom)\");"
             "t_record(\"$hdr(x-CUSTOM)\");"
             "t_record(\"$hdr(f)\");"
             "t_record(\"$hdr(To)\");"
             "t_record(\"$hdr(Via)\");"
             "t_record(\"$hdr(Max-Forwards)|$hdr(CSeq)\");"
             "t_record(\"$hdr(X-Missing)\");"
             "if ($hdr(Max-Forwards) == 70) t_record(\"mf\");",
             "hello world,hello world,"
             "Alice <sip:alice@atlanta.example.com>;tag=1928301774,"
             "Bob <sip:bob@example.com>,"
             "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds,"
             "70|314159 INVITE,<null>,mf,");
}

static void test_ruri_assign(void)
{
  tz_msg_t m;
  run_on(&m,
         "request_route {\n"
         "  $var(old) = $rU;\n"
         "  $ru = \"sip:carol@chicago.example.com\";\n"
         "  t_record(\"$var(old) $rU@$rd $rp $ru\");\n"
         "  $rU = \"dave\";\n"
         "  $rd = \"x.test\";\n"
         "  t_record($ru);\n"
         "  $ru = \"not a uri\";\n"
         "  t_record($ru);\n"
         "  $du = \"sip:10.0.0.9:5080\";\n"
         "  t_record($du);\n"
         "}\n",
         invite, TZ_ROUTE_REQUEST);
  CU_ASSERT_STRING_EQUAL(test_record_buf,
                         "bob carol@chicago.example.com 5060 "
                         "sip:carol@chicago.example.com,"
                         "sip:dave@x.test,sip:dave@x.test,"
                         "sip:10.0.0.9:5080,");
  const url_t *u = m.sip->sip_request->rq_url;
  CU_ASSERT_STRING_EQUAL(u->url_user, "dave");
  CU_ASSERT_STRING_EQUAL(u->url_host, "x.test");
  CU_ASSERT_STRING_EQUAL(m.sip->sip_request->rq_method_name, "INVITE");
  test_msg_deinit(&m);
}

static void test_reply_pvars(void)
{
  RECORDS_ON(ringing, TZ_ROUTE_REPLY,
             "t_record(\"$rs $rr $rm $ru $tt\");"
             "if ($rs >= 100 && $rs < 200) t_record(\"prov\");"
             "if (is_method(\"INVITE\") && has_totag()) t_record(\"inv\");",
             "180 Ringing INVITE <null> xyz,prov,inv,");
  tz_msg_t m;
  run_on(&m, "reply_route { $ru = \"sip:a@b\"; t_record(\"after\"); }",
         ringing, TZ_ROUTE_REPLY);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "after,");
  test_msg_deinit(&m);
}

static void test_is_method_has_totag(void)
{
  RECORDS_ON(invite, TZ_ROUTE_REQUEST,
             "if (is_method(\"INVITE\")) t_record(\"a\");"
             "if (is_method(\"REGISTER|INVITE\")) t_record(\"b\");"
             "if (is_method(\"invite\")) t_record(\"c\");"
             "if (is_method(\"BYE|REGISTER\")) t_record(\"no\");"
             "if (is_method(\"FOO\")) t_record(\"no\");"
             "if (!has_totag()) t_record(\"initial\");",
             "a,b,c,initial,");
  RECORDS_ON(bye, TZ_ROUTE_REQUEST,
             "if (has_totag() && is_method(\"ACK|BYE\")) t_record(\"dlg\");",
             "dlg,");
  RECORDS_ON(foo, TZ_ROUTE_REQUEST,
             "if (is_method(\"INVITE|FOO\")) t_record(\"ext\");"
             "if (is_method(\"BAR|INVITE\")) t_record(\"no\");",
             "ext,");
}

static void test_append_remove_hf(void)
{
  tz_msg_t m;
  run_on(
      &m,
      "request_route {\n"
      "  $var(n) = 3;\n"
      "  append_hf(\"X-Added: $rU-$var(n)\\r\\n\");\n"
      "  append_hf(\"Subject: hi\");\n"
      "  t_record(\"$hdr(X-Added)|$hdr(Subject)|$hdr(s)\");\n"
      "  if (remove_hf(\"X-Custom\")) t_record(\"removed\");\n"
      "  if (!remove_hf(\"X-Custom\")) t_record(\"gone\");\n"
      "  if (!is_present_hf(\"x-custom\")) t_record(\"absent\");\n"
      "  if (is_present_hf(\"User-Agent\")) t_record(\"ua\");\n"
      "  if (remove_hf(\"User-Agent\")) t_record(\"$ua\");\n"
      "  if (remove_hf(\"v\") && !is_present_hf(\"Via\")) t_record(\"nov\");\n"
      "  $var(h) = \"X-Dyn\";\n"
      "  if (!append_hf($var(h))) t_record(\"bad\");\n"
      "}\n",
      invite, TZ_ROUTE_REQUEST);
  CU_ASSERT_STRING_EQUAL(test_record_buf,
                         "bob-3|hi|hi,removed,gone,absent,ua,<null>,nov,bad,");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m.sip->sip_subject);
  CU_ASSERT_STRING_EQUAL(m.sip->sip_subject->g_string, "hi");
  CU_ASSERT_PTR_NULL(m.sip->sip_user_agent);
  CU_ASSERT_PTR_NULL(m.sip->sip_via);
  int added = 0, custom = 0;
  for (sip_unknown_t *u = m.sip->sip_unknown; u; u = u->un_next) {
    added += !strcmp(u->un_name, "X-Added") && !strcmp(u->un_value, "bob-3");
    custom += su_casematch(u->un_name, "X-Custom");
  }
  CU_ASSERT_EQUAL(added, 1);
  CU_ASSERT_EQUAL(custom, 0);
  test_msg_deinit(&m);
}

/* Lines accumulate on the message, CRLF-terminated, formats expanded; a
 * bad line at run time fails the call and adds nothing. */
static void test_append_to_reply(void)
{
  tz_msg_t m;
  run_on(&m,
         "request_route {\n"
         "  append_to_reply(\"X-One: $rU\");\n"
         "  append_to_reply(\"X-Two: 2\\nX-Three: 3\\r\\n\");\n"
         "  $var(h) = \"no colon\";\n"
         "  if (!append_to_reply($var(h))) t_record(\"bad\");\n"
         "}\n",
         invite, TZ_ROUTE_REQUEST);
  CU_ASSERT_STRING_EQUAL(test_record_buf, "bad,");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m.reply_hdrs);
  CU_ASSERT_STRING_EQUAL(m.reply_hdrs, "X-One: bob\r\nX-Two: 2\r\nX-Three: 3\r\n");
  test_msg_deinit(&m);
}

static const tz_unit_test_t pvar_tests[] = {
    {"request pseudo-variables", test_request_pvars},
    {"int and string pvars", test_pvar_types},
    {"$hdr()", test_hdr},
    {"R-URI assignment", test_ruri_assign},
    {"reply pseudo-variables", test_reply_pvars},
    {"is_method and has_totag", test_is_method_has_totag},
    {"append_hf and remove_hf", test_append_remove_hf},
    {"append_to_reply collects reply headers", test_append_to_reply},
    {NULL, NULL}};

int main(void)
{
  static const tz_unit_suite_t suites[] = {
      {"pvar", pvar_tests, NULL, test_cleanup}, {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
