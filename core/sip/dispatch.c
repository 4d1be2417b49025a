/*
 * dispatch.c - where received messages enter the script: every request
 * that matches no transaction (Kamailio-style, statelessly), responses
 * nobody waits for, and messages over max_msg_size, which are refused.
 * Starts and stops the SIP side of the server in order.
 *
 * Whatever the script leaves unanswered is dropped silently, except after
 * a runtime error, where the caller gets a 500 instead of silence.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/dispatch.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "sip/handoff.h"
#include "sip/msg.h"
#include "sip/relay.h"
#include "sip/transport.h"
#include "sip/udp.h"
#include "runtime/worker.h"
#include "runtime/loop.h"

#include <stdio.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/tport.h>

/* RFC 3581 section 4: with rport in the top Via the server MUST add
 * received, even when it equals sent-by. nta fills rport but adds received
 * only when the address differs; responses we make or relay upstream then
 * carry both. */
static void sip_via_received(tz_msg_t *m)
{
  sip_via_t *v = m->sip->sip_via;
  if (!v || !v->v_rport || v->v_received || !m->src_ip[0])
    return;
  su_home_t *home = msg_home(m->msg);
  char *param = su_sprintf(home, "received=%s", m->src_ip);
  if (!param || msg_header_replace_param(home, v->v_common, param) < 0)
    tz_sip_log(m->sip, TZ_LOG_WARN, "cannot add received=%s to the Via", m->src_ip);
}

static void sip_run_script(tz_msg_t *m, sip_t *sip)
{
  tz_stat_add(tz_worker()->st_requests, 1);
  tz_stats_request(sip->sip_request->rq_method, sip->sip_request->rq_method_name);
  if (tz_relay_preprocess(m) < 0)
    tz_sip_log(sip, TZ_LOG_WARN, "%s from %s:%u: cannot process its Route set",
           sip->sip_request->rq_method_name, m->src_ip, m->src_port);
  tz_run_result_t rc = tz_msg_run(m, tz_script_request_route(m->gen->script));
  int is_ack = sip->sip_request->rq_method == sip_method_ack;
  if (rc == TZ_RUN_ERROR && !is_ack && m->disp == TZ_DISP_OPEN)
    tz_msg_reply(m, SIP_500_INTERNAL_SERVER_ERROR, NULL);
  else if (m->disp == TZ_DISP_OPEN)
    tz_log(TZ_LOG_DBG, "%s from %s:%u left unanswered by the script",
           sip->sip_request->rq_method_name, m->src_ip, m->src_port);
}

/* Another worker ran the script and made the request ready to leave; its
 * next hop is a connection this worker owns (handoff.c). */
static void sip_relay_handed(tz_msg_t *m, const char *hop)
{
  m->dst = hop;
  m->flags |= TZ_MSG_HANDED;
  if (tz_relay(m) < 0)
    tz_sip_log(m->sip, TZ_LOG_WARN, "%s handed over for %s: not relayed",
           m->sip->sip_request->rq_method_name, hop);
}

static void sip_run_request(msg_t *msg, sip_t *sip)
{
  const char *hop = tz_handoff_take(msg);
  tz_msg_t m;
  tz_msg_open(&m, tz_gen_current(), msg, NULL, TZ_ROUTE_REQUEST);
  sip_via_received(&m);
  if (hop)
    sip_relay_handed(&m, hop);
  else
    sip_run_script(&m, sip);
  tz_relay_script_done(&m);
  /* A transaction made for a reply is nta's now; a relay or a suspension
   * owns its own. */
  if (m.irq && m.disp != TZ_DISP_SUSPENDED && m.disp != TZ_DISP_RELAYED)
    nta_incoming_destroy(m.irq);
  tz_msg_close(&m);
}

/* A message over max_msg_size is not processed. Over a stream, a request
 * whose start line and Via Sofia parsed gets 513 (RFC 3261 21.5.9); then
 * the connection stops reading and sends FIN, so whatever else the peer
 * sends costs no memory. A datagram is dropped: its sender may not even
 * be where its Via says. */
static void sip_refuse_too_large(msg_t *msg, sip_t *sip)
{
  tport_t *tp = nta_incoming_transport(tz_sip_agent(), NULL, msg);
  int stream = tp && tport_is_stream(tp);
  tz_stat_add(tz_st_too_large, 1);
  tz_log(TZ_LOG_NOTICE, "%s message of %lu octets over max_msg_size %s",
         stream ? "stream" : "datagram", (unsigned long)msg_size(msg),
         stream ? "refused, connection closed" : "dropped");
  if (stream && sip && sip->sip_request && sip->sip_via &&
      sip->sip_request->rq_method != sip_method_ack &&
      tz_sip_reply_stateless(msg, NULL, SIP_513_MESSAGE_TOO_LARGE, NULL) == 0)
    tz_stats_reply(513, 0);
  if (stream) {
    tport_stall(tp);
    tport_shutdown(tp, 1);
  }
  tport_unref(tp);
}

/* Everything that matches no transaction: new requests, and responses
 * nobody waits for (2xx retransmissions, answers to forward()). */
static int sip_on_message(nta_agent_magic_t *magic, nta_agent_t *agent,
                          msg_t *msg, sip_t *sip)
{
  (void)magic;
  (void)agent;
  if (tz_sip_too_large(msg, tz_gen_current())) {
    sip_refuse_too_large(msg, sip);
    msg_destroy(msg);
    return 0;
  }
  if (sip && sip->sip_status) {
    tz_relay_stray_response(msg);
    return 0;
  }
  if (sip && sip->sip_request)
    sip_run_request(msg, sip);
  msg_destroy(msg);
  return 0;
}

int tz_dispatch_start(const tz_gen_t *g, char *err, size_t errlen)
{
  if ((tz_worker()->id == 0 && tz_handoff_init() < 0) || tz_relay_start() < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (tz_sip_start(g, sip_on_message, err, errlen) < 0) {
    tz_relay_shutdown();
    return -1;
  }
  tz_sip_apply(g);
  char name[48];
  snprintf(name, sizeof name, "core.worker.%u.requests", tz_worker()->id);
  tz_worker()->st_requests = tz_stat_get(name, "new requests this worker ran "
                                         "the script for");
  if (tz_worker()->id == 0)
    tz_udp_report(g);
  return 0;
}

/* A worker thread serves worker 0's generation until its mailbox brings
 * another (worker 0 waits in tz_workers_start meanwhile). */
static int dispatch_worker_start(tz_worker_t *w, char *err, size_t errlen)
{
  w->gen = tz_gen_ref(tz_worker_at(0)->gen);
  if (tz_loop_lag_start() == 0 && tz_dispatch_start(w->gen, err, errlen) == 0)
    return 0;
  tz_gen_unref(w->gen);
  w->gen = NULL;
  return -1;
}

static int dispatch_worker_stop(tz_worker_t *w, char *err, size_t errlen)
{
  (void)err;
  (void)errlen;
  tz_sip_drain(3000);
  tz_worker_seal(w); /* what others sent meets live transactions */
  tz_dispatch_stop();
  tz_gen_unref(w->gen);
  w->gen = NULL;
  return 0;
}

int tz_dispatch_start_workers(unsigned n, char *err, size_t errlen)
{
  return tz_workers_start(n, dispatch_worker_start, dispatch_worker_stop, err,
                          errlen);
}

/* Transactions first: they answer their callers while the transports are
 * still there. */
void tz_dispatch_stop(void)
{
  tz_relay_shutdown();
  tz_sip_stop();
}
