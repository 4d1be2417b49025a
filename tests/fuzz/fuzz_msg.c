/*
 * fuzz_msg.c - libFuzzer target for the message path: raw datagram bytes
 * through Sofia's parser and nta's acceptance checks, then what sip.c and
 * relay.c do with what passes (route preprocessing, the request or reply
 * route of a fixed script that touches every pseudo-variable and core
 * header function), and finally the encoding nta would do to send the
 * result on.
 *
 * The "transport" is fake: the bytes arrive as if on UDP from
 * 192.0.2.7:5062, and stateless replies are built and encoded by a
 * stand-in for nta_msg_treply (linked with -Wl,--wrap) instead of being
 * sent, since without a running nta agent there is nowhere to send them.
 */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tagarg.h>

#include "control/build.h"
#include "lib/log.h"
#include "sip/msg.h"
#include "sip/relay.h"
#include "lib/stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __wrap_nta_msg_treply(nta_agent_t *agent, msg_t *req_msg, int status,
                          char const *phrase, tag_type_t tag,
                          tag_value_t value, ...);

/* Aliases make is_myself() and Route preprocessing answer yes for some
 * inputs; the dictionary carries the same names. */
static const char fuzz_cfg[] =
    "alias=\"proxy.example.test\"\n"
    "alias=\"10.0.0.1:5060\"\n"
    "alias=\"[2001:db8::1]:5070\"\n"
    "request_route {\n"
    "  if (!maxfwd_check()) { sl_reply(483, \"Too Many Hops\"); exit; }\n"
    "  route(SANITY);\n"
    "  $var(pv) = \"$rm|$ru|$rU|$rd|$rp|$du|$fu|$fU|$fd|$ft|$tu|$tU|$td|$tt"
    "|$ci|$cs|$si|$sp|$pr|$proto|$ua|$rs|$rr\";\n"
    "  $var(h) = $hdr(Via) + $hdr(v) + $hdr(Route) + $hdr(Contact) +\n"
    "            $hdr(Content-Length) + $hdr(X-Custom) + $hdr(Max-Forwards);\n"
    "  if (is_method(\"INVITE|ACK|BYE|CANCEL|REGISTER|OPTIONS|MESSAGE|"
    "SUBSCRIBE|NOTIFY|PRACK|UPDATE|REFER|INFO|PUBLISH|FOO\"))\n"
    "    $var(known) = 1;\n"
    "  if (has_totag() && is_myself($ru)) log(\"in-dialog $rm for us\");\n"
    "  if (is_myself(\"sip:$rd:$rp\") || is_myself($fu) || "
    "is_myself($hdr(Route)))\n"
    "    $var(me) = 1;\n"
    "  if ($ru =~ \"^sips?:\\+?[0-9]+@\" && $rU != \"\") $var(k) = \"pstn\";\n"
    "  else if ($hdr(User-Agent) =~ \"friendly-scanner|sipvicious\") drop;\n"
    "  if ($cs > 2000000000 || $rp == 0 || $cs + $rp == 5060)\n"
    "    $var(odd) = $cs + $rp - $sp;\n"
    "  append_hf(\"X-Fuzz: $rm $rU@$rd;k=$var(k)\\r\\n\");\n"
    "  append_hf(\"Subject: $hdr(Subject)\");\n"
    "  remove_hf(\"X-Internal\");\n"
    "  remove_hf(\"Record-Route\");\n"
    "  if (is_present_hf(\"X-Fuzz\") && $hdr(X-Fuzz) != \"\")\n"
    "    $var(x) = $hdr(X-Fuzz);\n"
    "  $var(old) = $ru;\n"
    "  $rU = $fU;\n"
    "  $rd = $td;\n"
    "  $ru = \"sip:\" + $tU + \"@\" + $fd + \";transport=\" + $proto;\n"
    "  if (is_present_hf(\"Contact\")) $ru = $hdr(Contact);\n"
    "  $ru = $var(old);\n"
    "  $du = \"sip:\" + $si + \":\" + $sp;\n"
    "  $du = $hdr(Route);\n"
    "  if (is_method(\"OPTIONS\") && is_myself($ru)) {\n"
    "    sl_reply(200, \"OK $rU\");\n"
    "    exit;\n"
    "  }\n"
    "  if (is_method(\"ACK\")) exit;\n"
    "  sl_reply(404, \"Not Here $rU\");\n"
    "  # Last: a non-numeric header makes it a runtime error.\n"
    "  if (is_present_hf(\"X-Num\")) $var(n) = -$hdr(X-Num) - $cs + $rp;\n"
    "}\n"
    "route[SANITY] {\n"
    "  if ($hdr(Max-Forwards) == \"0\" || is_present_hf(\"X-Loop\"))\n"
    "    return(-1);\n"
    "  return;\n"
    "}\n"
    "reply_route {\n"
    "  if ($rs >= 100 && $rs < 200) $var(p) = \"$rs $rr\";\n"
    "  if (is_method(\"INVITE\") && has_totag()) $var(d) = $tt + $ft;\n"
    "  if ($rr =~ \"^(Busy|Decline)\") log(\"busy $ci $cs\");\n"
    "  append_hf(\"X-Reply: $rs $hdr(Server)\\r\\n\");\n"
    "  remove_hf(\"Server\");\n"
    "  $var(v) = $hdr(Via) + \"$fu$tu$ua$ci\";\n"
    "}\n";

static tz_gen_t *fuzz_gen;

/* nta's own defaults (nta.c): errors in other headers do not reject. */
#define FUZZ_BAD_REQ_MASK                                                      \
  (~(unsigned)(sip_mask_response | sip_mask_proxy | sip_mask_registrar |       \
               sip_mask_pref | sip_mask_privacy))
#define FUZZ_BAD_RESP_MASK                                                     \
  (~(unsigned)(sip_mask_request | sip_mask_proxy | sip_mask_registrar |        \
               sip_mask_pref | sip_mask_privacy))

/* What nta's complete_response() does, minus choosing a transport. */
static int fuzz_complete_response(msg_t *reply, int status,
                                  const char *phrase, msg_t *req_msg)
{
  su_home_t *home = msg_home(reply);
  sip_t *rs = sip_object(reply);
  const sip_t *rq = sip_object(req_msg);
  if (!rs || !rq || !rq->sip_request)
    return -1;
  if (!rs->sip_status)
    rs->sip_status = sip_status_create(home, status, phrase, NULL);
  if (!rs->sip_via)
    rs->sip_via = sip_via_dup(home, rq->sip_via);
  if (!rs->sip_from)
    rs->sip_from = sip_from_dup(home, rq->sip_from);
  if (!rs->sip_to)
    rs->sip_to = sip_to_dup(home, rq->sip_to);
  if (!rs->sip_call_id)
    rs->sip_call_id = sip_call_id_dup(home, rq->sip_call_id);
  if (!rs->sip_cseq)
    rs->sip_cseq = sip_cseq_dup(home, rq->sip_cseq);
  if (!rs->sip_record_route && rq->sip_record_route)
    sip_add_dup(reply, rs, (const sip_header_t *)rq->sip_record_route);
  int incomplete = sip_complete_message(reply) < 0;
  msg_serialize(reply, (msg_pub_t *)rs);
  if (incomplete || !rs->sip_status || !rs->sip_via || !rs->sip_to)
    return -1;
  if (status > 100 && !rs->sip_to->a_tag &&
      sip_to_tag(home, rs->sip_to, "fuzz") < 0)
    return -1;
  return 0;
}

/* Stands in for nta_msg_treply (sip.c's stateless reply): builds and
 * encodes the reply as nta would, then drops it. Like nta it takes over
 * the caller's reference to req_msg. */
int __wrap_nta_msg_treply(nta_agent_t *agent, msg_t *req_msg, int status,
                          char const *phrase, tag_type_t tag,
                          tag_value_t value, ...)
{
  (void)agent;
  ta_list ta;
  ta_start(ta, tag, value);
  int rc = -1;
  msg_t *reply = msg_create(sip_default_mclass(), MSG_DO_CANONIC);
  sip_t *sip = sip_object(reply);
  if (sip && sip_add_tl(reply, sip, ta_tags(ta)) >= 0 &&
      fuzz_complete_response(reply, status, phrase, req_msg) == 0 &&
      msg_prepare(reply) > 0)
    rc = 0;
  (void)ta_end(ta); /* the macro yields a value nobody needs */
  msg_destroy(reply);
  msg_destroy(req_msg);
  return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  tz_log_set_level(TZ_LOG_ERR);
  tz_stats_init();
  static const tz_gen_opts_t opts = {.check_only = 1};
  tz_diag_t d = {0};
  fuzz_gen = tz_gen_build_text("fuzz_msg.cfg", fuzz_cfg, &opts, &d);
  if (!fuzz_gen) {
    fprintf(stderr, "fuzz_msg: the fixed script does not load:\n%s",
            tz_diag_text(&d));
    abort();
  }
  tz_diag_clear(&d);
  tz_gen_set_current(fuzz_gen);
  return 0;
}

/* The bytes as tport_recv_dgram() and tport_parse() would hand them to
 * nta: committed into the message buffer and extracted, a short read
 * marked as an error. */
static msg_t *fuzz_receive(const uint8_t *data, size_t size)
{
  msg_t *msg = msg_create(sip_default_mclass(), MSG_DO_CANONIC);
  if (!msg)
    return NULL;
  su_sockaddr_t from = {0};
  from.su_sin.sin_family = AF_INET;
  from.su_sin.sin_port = htons(5062);
  from.su_sin.sin_addr.s_addr = htonl(0xc0000207); /* 192.0.2.7 */
  msg_set_address(msg, &from, sizeof from.su_sin);
  su_addrinfo_t *ai = msg_addrinfo(msg);
  ai->ai_family = AF_INET;
  ai->ai_protocol = IPPROTO_UDP;
  ai->ai_socktype = SOCK_DGRAM;

  msg_iovec_t vec[msg_n_fragments];
  issize_t veclen = msg_recv_iovec(msg, vec, msg_n_fragments, size, 1);
  if (veclen < 0) {
    msg_destroy(msg);
    return NULL;
  }
  size_t off = 0;
  for (issize_t i = 0; i < veclen && off < size; i++) {
    size_t n = vec[i].mv_len < size - off ? vec[i].mv_len : size - off;
    memcpy(vec[i].mv_base, data + off, n);
    off += n;
  }
  msg_recv_commit(msg, size, 1);
  if (msg_extract(msg) == 0)
    msg_mark_as_complete(msg, MSG_FLG_ERROR);
  return msg;
}

/* nta's agent_recv_request() checks; a request failing them gets a 400
 * (or nothing) from nta and never reaches the core. */
static int fuzz_nta_accepts_request(msg_t *msg, sip_t *sip)
{
  return !(sip->sip_flags & (MSG_FLG_TOOLARGE | MSG_FLG_ERROR)) &&
         !(msg_extract_errors(msg) & FUZZ_BAD_REQ_MASK) &&
         sip_sanity_check(sip) >= 0 &&
         su_casematch(sip->sip_request->rq_version, sip_version_2_0) &&
         sip->sip_via && su_strmatch(sip->sip_via->v_protocol, "SIP/2.0/UDP");
}

static int fuzz_nta_accepts_response(msg_t *msg, sip_t *sip)
{
  return !(msg_extract_errors(msg) & FUZZ_BAD_RESP_MASK) &&
         sip_sanity_check(sip) >= 0 &&
         su_casematch(sip->sip_status->st_version, sip_version_2_0) &&
         !(sip->sip_cseq && sip->sip_cseq->cs_method == sip_method_ack);
}

/* dispatch.c's sip_run_request(), without the transaction handling. */
static void fuzz_request(msg_t *msg, sip_t *sip)
{
  tz_msg_t m;
  tz_msg_open(&m, fuzz_gen, msg, NULL, TZ_ROUTE_REQUEST);
  tz_stats_request(sip->sip_request->rq_method,
                   sip->sip_request->rq_method_name);
  tz_relay_preprocess(&m);
  tz_run_result_t rc = tz_msg_run(&m, tz_script_request_route(fuzz_gen->script));
  if (rc == TZ_RUN_ERROR && sip->sip_request->rq_method != sip_method_ack &&
      m.disp == TZ_DISP_OPEN)
    tz_msg_reply(&m, SIP_500_INTERNAL_SERVER_ERROR, NULL);
  tz_relay_script_done(&m);
  tz_msg_close(&m);
}

/* relay.c's reply-route run for a response from downstream. */
static void fuzz_response(msg_t *msg)
{
  tz_msg_t m;
  tz_msg_open(&m, fuzz_gen, msg, NULL, TZ_ROUTE_REPLY);
  tz_msg_run(&m, tz_script_reply_route(fuzz_gen->script));
  tz_msg_close(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* tport drops runts and hands SigComp elsewhere. */
  if (size <= 1 || (data[0] & 0xf8) == 0xf8)
    return 0;
  msg_t *msg = fuzz_receive(data, size);
  if (!msg)
    return 0;
  sip_t *sip = sip_object(msg);
  int go = 0;
  if (sip && sip->sip_request && fuzz_nta_accepts_request(msg, sip)) {
    fuzz_request(msg, sip);
    go = 1;
  } else if (sip && sip->sip_status && fuzz_nta_accepts_response(msg, sip)) {
    fuzz_response(msg);
    go = 1;
  }
  /* What the script left is what t_relay()/forward() would encode. */
  if (go && msg_serialize(msg, (msg_pub_t *)sip) == 0)
    msg_prepare(msg);
  msg_destroy(msg);
  return 0;
}
