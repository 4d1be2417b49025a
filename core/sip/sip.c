/*
 * sip.c - owns the nta agent and its default leg, the transports bound to
 * the listen addresses, and the per-message context the script runs on.
 *
 * Requests that match no existing transaction arrive statelessly at the
 * agent callback, as in Kamailio: the script decides, and a server
 * transaction exists only once something needs one (a suspended request,
 * a relay). sl_reply answers statelessly. Whatever the script leaves
 * unanswered is dropped silently, except after a runtime error, where the
 * caller gets a 500 instead of silence.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/sip.h"
#include "script/script.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "sip/msg.h"
#include "sip/relay.h"
#include "lib/stats.h"
#include "sip/tcplimit.h"
#include "sip/trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/tport.h>
#include <sofia-sip/tport_tag.h>

static nta_agent_t *sip_agent;
static tz_listen_t *sip_listens; /* what we actually bound */
static size_t sip_nlistens;

/* ---- the message context ------------------------------------------------ */

/* TLS messages carry the TCP protocol number; their transport knows. */
static int sip_is_tls(msg_t *msg)
{
  if (!sip_agent)
    return 0;
  tport_t *tp = nta_incoming_transport(sip_agent, NULL, msg);
  const tp_name_t *n = tp ? tport_name(tp) : NULL;
  int tls = n && n->tpn_proto && strcasecmp(n->tpn_proto, "tls") == 0;
  tport_unref(tp);
  return tls;
}

static void msg_fill_source(tz_msg_t *m)
{
  su_addrinfo_t *ai = msg_addrinfo(m->msg);
  m->proto = "udp";
  if (!ai || !ai->ai_addr)
    return;
  su_sockaddr_t *su = (su_sockaddr_t *)ai->ai_addr;
  if (ai->ai_protocol == IPPROTO_TCP)
    m->proto = sip_is_tls(m->msg) ? "tls" : "tcp";
  else if (ai->ai_protocol != IPPROTO_UDP && ai->ai_protocol != 0)
    m->proto = "tls";
  su_inet_ntop(su->su_family, SU_ADDR(su), m->src_ip, sizeof m->src_ip);
  m->src_port = ntohs(su->su_port);
}

/* The local socket as "proto:host:port", from the primary transport (a
 * TCP connection's own name is its peer). */
static void msg_fill_socket(tz_msg_t *m)
{
  if (!sip_agent)
    return;
  tport_t *tp = nta_incoming_transport(sip_agent, m->irq, m->msg);
  tport_t *primary = tp ? tport_parent(tp) : NULL;
  const tp_name_t *n = primary ? tport_name(primary) : NULL;
  if (n && n->tpn_proto && n->tpn_host && n->tpn_port) {
    int v6 = strchr(n->tpn_host, ':') && n->tpn_host[0] != '[';
    snprintf(m->socket, sizeof m->socket, "%s:%s%s%s:%s", n->tpn_proto,
             v6 ? "[" : "", n->tpn_host, v6 ? "]" : "", n->tpn_port);
  }
  tport_unref(tp);
}

void tz_msg_init(tz_msg_t *m, struct tz_gen *gen, msg_t *msg,
                 nta_incoming_t *irq, unsigned route_kind)
{
  memset(m, 0, sizeof *m);
  su_home_init(m->home);
  m->msg = msg;
  m->sip = sip_object(msg);
  m->irq = irq;
  m->gen = gen;
  m->route_kind = route_kind;
  msg_fill_source(m);
}

void tz_msg_deinit(tz_msg_t *m) { su_home_deinit(m->home); }

msg_t *tz_msg_sofia(tz_msg_t *m) { return m->msg; }
sip_t *tz_msg_sip(tz_msg_t *m) { return m->sip; }
su_home_t *tz_msg_home(tz_msg_t *m) { return m->home; }
unsigned tz_msg_route_kind(const tz_msg_t *m) { return m->route_kind; }

static int sip_reply(nta_incoming_t *irq, int status, const char *reason,
                     const char *extra_headers)
{
  return nta_incoming_treply(irq, status, reason,
                             TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                             TAG_END());
}

/* Stateless: nothing is kept, a retransmitted request runs the script
 * again. nta takes over a reference to the request. */
static int sip_reply_stateless(msg_t *req, int status, const char *reason,
                               const char *extra_headers)
{
  if (!sip_agent) /* nta would keep our reference */
    return -1;
  return nta_msg_treply(sip_agent, msg_ref_create(req), status, reason,
                        TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                        TAG_END());
}

const char *tz_msg_src_ip(const tz_msg_t *m) { return m->src_ip; }
unsigned tz_msg_src_port(const tz_msg_t *m) { return m->src_port; }
const char *tz_msg_proto(const tz_msg_t *m) { return m->proto; }
const char *tz_msg_socket(tz_msg_t *m)
{
  if (!m->socket[0]) /* on demand: most messages never ask */
    msg_fill_socket(m);
  return m->socket;
}
const char *tz_msg_dst(const tz_msg_t *m) { return m->dst; }
unsigned tz_msg_branch_count(const tz_msg_t *m) { return m->nbranches; }

const char *tz_msg_received_ruri(tz_msg_t *m)
{
  if (m->orig_ruri)
    return m->orig_ruri;
  if (!m->sip || !m->sip->sip_request)
    return NULL;
  return url_as_string(m->home, m->sip->sip_request->rq_url);
}

int tz_msg_set_ruri(tz_msg_t *m, const char *uri)
{
  sip_t *sip = m->sip;
  if (!sip || !sip->sip_request)
    return -1;
  if (!m->orig_ruri &&
      !(m->orig_ruri = url_as_string(m->home, sip->sip_request->rq_url)))
    return -1;
  url_t *url = url_make(msg_home(m->msg), uri);
  if (!url || url->url_type == url_invalid || url->url_type == url_unknown)
    return -1;
  sip_request_t *rq = sip_request_create(msg_home(m->msg),
                                         sip->sip_request->rq_method,
                                         sip->sip_request->rq_method_name,
                                         (url_string_t *)url, NULL);
  if (!rq ||
      msg_header_replace(m->msg, (msg_pub_t *)sip,
                         (msg_header_t *)sip->sip_request,
                         (msg_header_t *)rq) < 0)
    return -1;
  return 0;
}

int tz_msg_set_dst(tz_msg_t *m, const char *uri)
{
  if (!uri) {
    m->dst = NULL;
    return 0;
  }
  url_t *url = url_make(m->home, uri);
  if (!url || url->url_type == url_invalid || url->url_type == url_unknown)
    return -1;
  m->dst = su_strdup(m->home, uri);
  return m->dst ? 0 : -1;
}

int tz_msg_add_branch(tz_msg_t *m, const char *uri, const char *dst,
                      const char *path, int q)
{
  if (m->nbranches == TZ_MAX_BRANCHES)
    return -1;
  tz_branch_t *b = &m->branches[m->nbranches];
  b->uri = su_strdup(m->home, uri);
  b->dst = dst ? su_strdup(m->home, dst) : NULL;
  b->path = path ? su_strdup(m->home, path) : NULL;
  b->q = q;
  if (!b->uri)
    return -1;
  m->nbranches++;
  return 0;
}

int tz_msg_append_to_reply(tz_msg_t *m, const char *lines)
{
  const char *all = m->reply_hdrs ? su_sprintf(m->home, "%s%s", m->reply_hdrs, lines)
                                  : su_strdup(m->home, lines);
  if (!all)
    return -1;
  m->reply_hdrs = all;
  return 0;
}

/* The script's append_to_reply() lines, then the caller's; NULL if none.
 * Allocated in home (NULL: malloc). */
static char *sip_reply_headers(su_home_t *home, const char *script,
                               const char *extra)
{
  if (!script && !extra)
    return NULL;
  return su_sprintf(home, "%s%s", script ? script : "", extra ? extra : "");
}

int tz_msg_reply(tz_msg_t *m, int status, const char *reason,
                 const char *extra_headers)
{
  if (!m->sip || !m->sip->sip_request ||
      (m->flags & (TZ_MSG_REPLIED | TZ_MSG_SUSPENDED))) {
    tz_log(TZ_LOG_ERR, "cannot reply %d: %s", status,
           !(m->sip && m->sip->sip_request) ? "no request to answer"
           : (m->flags & TZ_MSG_SUSPENDED) ? "the request is suspended"
                                           : "a final reply was already sent");
    return -1;
  }
  if (m->sip && m->sip->sip_request &&
      m->sip->sip_request->rq_method == sip_method_ack) {
    tz_log(TZ_LOG_ERR, "cannot reply %d to an ACK", status);
    return -1;
  }
  const char *hdrs = sip_reply_headers(m->home, m->reply_hdrs, extra_headers);
  int rc = m->irq ? sip_reply(m->irq, status, reason, hdrs)
                  : sip_reply_stateless(m->msg, status, reason, hdrs);
  if (rc < 0)
    return -1;
  tz_stats_reply(status, 0);
  if (status >= 200)
    m->flags |= TZ_MSG_REPLIED;
  return 0;
}

/* ---- suspended requests ------------------------------------------------- */

struct tz_suspended {
  nta_incoming_t *irq;
  msg_t *msg;
  tz_gen_t *gen;
  char *reply_hdrs; /* the script's append_to_reply() lines, or NULL */
};

static unsigned sip_nsuspended; /* handles not yet answered or dropped */

/* Makes the request stateful: retransmissions now reach the transaction
 * instead of the script. */
nta_incoming_t *tz_sip_transaction(tz_msg_t *m)
{
  if (m->irq)
    return m->irq;
  tport_t *tp = nta_incoming_transport(sip_agent, NULL, m->msg);
  m->irq = nta_incoming_create(sip_agent, NULL, msg_ref_create(m->msg),
                               m->sip, NTATAG_TPORT(tp), TAG_END());
  tport_unref(tp);
  return m->irq;
}

/* Keeps no transaction unless the request already has one: a carrier
 * registrar answers tens of thousands of REGISTERs a second, and a server
 * transaction would hold each for Timer J (32 s). */
tz_suspended_t *tz_msg_suspend(tz_msg_t *m)
{
  if (!m->sip || !m->sip->sip_request ||
      m->sip->sip_request->rq_method == sip_method_ack ||
      (m->flags & (TZ_MSG_REPLIED | TZ_MSG_SUSPENDED | TZ_MSG_RELAYED)) ||
      m->route_kind != TZ_ROUTE_REQUEST)
    return NULL;
  tz_suspended_t *s = calloc(1, sizeof *s);
  if (s && m->reply_hdrs && !(s->reply_hdrs = strdup(m->reply_hdrs))) {
    free(s);
    s = NULL;
  }
  if (!s)
    return NULL;
  s->irq = m->irq;
  s->msg = msg_ref_create(m->msg);
  s->gen = tz_gen_ref(m->gen);
  m->flags |= TZ_MSG_SUSPENDED;
  sip_nsuspended++;
  return s;
}

sip_t *tz_suspended_sip(tz_suspended_t *s) { return sip_object(s->msg); }

void tz_suspended_drop(tz_suspended_t *s)
{
  if (!s)
    return;
  if (s->irq)
    nta_incoming_destroy(s->irq);
  msg_destroy(s->msg);
  tz_gen_unref(s->gen);
  free(s->reply_hdrs);
  free(s);
  sip_nsuspended--;
}

/* A suspended request pins its generation, and only its module (e.g. a
 * database commit) can finish it: run the loop until they are answered,
 * while the transports are still up, so no acknowledged work is lost and
 * the generations can be freed. */
void tz_sip_drain(unsigned max_ms)
{
  for (unsigned waited = 0; sip_nsuspended && waited < max_ms; waited += 20)
    su_root_step(tz_loop_root(), 20);
  if (sip_nsuspended)
    tz_log(TZ_LOG_WARN, "%u suspended request(s) not answered at shutdown",
           sip_nsuspended);
}

int tz_suspended_reply(tz_suspended_t *s, int status, const char *reason,
                       const char *extra_headers)
{
  char *hdrs = sip_reply_headers(NULL, s->reply_hdrs, extra_headers);
  int rc = s->irq ? sip_reply(s->irq, status, reason, hdrs)
                  : sip_reply_stateless(s->msg, status, reason, hdrs);
  su_free(NULL, hdrs);
  if (rc >= 0)
    tz_stats_reply(status, 0);
  if (status >= 200 || rc < 0)
    tz_suspended_drop(s);
  return rc;
}

/* ---- is_myself ------------------------------------------------------------ */

/* A port as the network gives it; an empty one means the default, and
 * anything else (0: never one of ours) cannot wrap around to ours. */
static unsigned sip_port(const char *s, unsigned dflt)
{
  return !s || !*s ? dflt : tz_port_parse(s);
}

/* "host" matches any port; "host:port" and "[v6]:port" that port. */
static int sip_alias_matches(const char *alias, const char *host,
                             unsigned port)
{
  char h[256];
  unsigned p;
  if (tz_hostport_parse(alias, h, sizeof h, &p, 0) == 0)
    return tz_host_eq(h, host) && p == port;
  return tz_host_eq(alias, host);
}

int tz_is_myself(const url_t *url)
{
  if (!url || !url->url_host)
    return 0;
  unsigned port = sip_port(url->url_port, url->url_type == url_sips ? 5061 : 5060);
  if (!port)
    return 0;
  for (size_t i = 0; i < sip_nlistens; i++)
    if (sip_listens[i].port == port &&
        tz_host_eq(sip_listens[i].host, url->url_host))
      return 1;
  tz_gen_t *g = tz_gen_current();
  for (size_t i = 0; g && i < g->naliases; i++)
    if (sip_alias_matches(g->aliases[i], url->url_host, port))
      return 1;
  return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

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
    tz_log(TZ_LOG_WARN, "cannot add received=%s to the Via", m->src_ip);
}

static void sip_run_request(msg_t *msg, sip_t *sip)
{
  tz_gen_t *g = tz_gen_ref(tz_gen_current());
  tz_msg_t m;
  tz_msg_init(&m, g, msg, NULL, TZ_ROUTE_REQUEST);
  sip_via_received(&m);
  tz_stats_request(sip->sip_request->rq_method, sip->sip_request->rq_method_name);
  if (tz_trace_matches(&m))
    m.flags |= TZ_MSG_TRACE;
  if (tz_relay_preprocess(&m) < 0)
    tz_log(TZ_LOG_WARN, "%s from %s:%u: cannot process its Route set",
           sip->sip_request->rq_method_name, m.src_ip, m.src_port);
  const tz_route_t *r = tz_script_request_route(g->script);
  tz_run_result_t rc = r ? tz_script_run(g->script, r, &m) : TZ_RUN_OK;
  int is_ack = sip->sip_request->rq_method == sip_method_ack;
  unsigned done = m.flags & (TZ_MSG_REPLIED | TZ_MSG_SUSPENDED | TZ_MSG_RELAYED);
  if (rc == TZ_RUN_ERROR)
    tz_stat_add(tz_st_script_errors, 1);
  if (rc == TZ_RUN_ERROR && !is_ack && !done)
    tz_msg_reply(&m, SIP_500_INTERNAL_SERVER_ERROR, NULL);
  else if (!done)
    tz_log(TZ_LOG_DBG, "%s from %s:%u left unanswered by the script",
           sip->sip_request->rq_method_name, m.src_ip, m.src_port);
  tz_relay_script_done(&m);
  /* A transaction made for a reply is nta's now; a relay or a suspension
   * owns its own. */
  if (m.irq && !(m.flags & (TZ_MSG_SUSPENDED | TZ_MSG_RELAYED)))
    nta_incoming_destroy(m.irq);
  tz_msg_deinit(&m);
  tz_gen_unref(g);
}

int tz_sip_too_large(msg_t *msg, const tz_gen_t *g)
{
  return msg_size(msg) > g->max_msg_size;
}

/* A message over max_msg_size is not processed. Over a stream, a request
 * whose start line and Via Sofia parsed gets 513 (RFC 3261 21.5.9); then
 * the connection stops reading and sends FIN, so whatever else the peer
 * sends costs no memory. A datagram is dropped: its sender may not even
 * be where its Via says. */
static void sip_refuse_too_large(msg_t *msg, sip_t *sip)
{
  tport_t *tp = nta_incoming_transport(sip_agent, NULL, msg);
  int stream = tp && tport_is_stream(tp);
  tz_stat_add(tz_st_too_large, 1);
  tz_log(TZ_LOG_NOTICE, "%s message of %lu octets over max_msg_size %s",
         stream ? "stream" : "datagram", (unsigned long)msg_size(msg),
         stream ? "refused, connection closed" : "dropped");
  if (stream && sip && sip->sip_request && sip->sip_via &&
      sip->sip_request->rq_method != sip_method_ack &&
      sip_reply_stateless(msg, SIP_513_MESSAGE_TOO_LARGE, NULL) == 0)
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

/* ---- transports ----------------------------------------------------------- */

nta_agent_t *tz_sip_agent(void) { return sip_agent; }

int tz_sip_via_is_ours(const sip_via_t *v)
{
  if (!v || !v->v_host)
    return 0;
  int tls = v->v_protocol && strcasecmp(v->v_protocol, "SIP/2.0/TLS") == 0;
  unsigned port = sip_port(v->v_port, tls ? 5061 : 5060);
  for (size_t i = 0; i < sip_nlistens; i++)
    if (sip_listens[i].port == port && tz_host_eq(sip_listens[i].host, v->v_host))
      return 1;
  return 0;
}

static int sip_listen_serves(const tz_listen_t *l, const char *proto)
{
  if (!l->proto)
    return strcmp(proto, "tls") != 0;
  return strcmp(l->proto, proto) == 0;
}

int tz_sip_rr_uri(const char *proto, int v6, char *buf, size_t len)
{
  const tz_listen_t *pick = NULL;
  for (size_t i = 0; i < sip_nlistens && !pick; i++)
    if (sip_listen_serves(&sip_listens[i], proto) &&
        (strchr(sip_listens[i].host, ':') != NULL) == (v6 != 0))
      pick = &sip_listens[i];
  for (size_t i = 0; i < sip_nlistens && !pick; i++)
    if (sip_listen_serves(&sip_listens[i], proto))
      pick = &sip_listens[i];
  if (!pick && sip_nlistens)
    pick = &sip_listens[0];
  if (!pick)
    return -1;
  int is6 = strchr(pick->host, ':') != NULL;
  /* sip:...;transport=tls, not sips: a sips: Route would demand TLS on
   * every hop of the dialog, which is not ours to decide. */
  int n = snprintf(buf, len, "sip:%s%s%s:%u%s", is6 ? "[" : "", pick->host,
                   is6 ? "]" : "", pick->port,
                   strcmp(proto, "udp") == 0 ? "" : strcmp(proto, "tcp") == 0
                                                        ? ";transport=tcp"
                                                        : ";transport=tls");
  return n > 0 && (size_t)n < len ? 0 : -1;
}

static void sip_sweep_tcp(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  (void)arg;
  tz_tcp_sweep();
}

/* "sip:host:port" (UDP and TCP), with ;transport= for one of them, or
 * "sips:host:port" for TLS. */
static int sip_listen_url(const tz_listen_t *l, char *buf, size_t len)
{
  int v6 = strchr(l->host, ':') != NULL;
  int tls = l->proto && strcmp(l->proto, "tls") == 0;
  const char *tp = !l->proto || tls ? ""
                   : strcmp(l->proto, "udp") == 0 ? ";transport=udp"
                                                   : ";transport=tcp";
  return snprintf(buf, len, "%s:%s%s%s:%u%s", tls ? "sips" : "sip",
                  v6 ? "[" : "", l->host, v6 ? "]" : "", l->port, tp) < (int)len
             ? 0
             : -1;
}

static int sip_copy_listens(const tz_gen_t *g)
{
  sip_listens = calloc(g->nlistens, sizeof *sip_listens);
  if (!sip_listens)
    return -1;
  for (size_t i = 0; i < g->nlistens; i++) {
    sip_listens[i].host = strdup(g->listens[i].host);
    sip_listens[i].proto = g->listens[i].proto ? strdup(g->listens[i].proto) : NULL;
    sip_listens[i].port = g->listens[i].port;
    sip_nlistens = i + 1;
    if (!sip_listens[i].host)
      return -1;
  }
  return 0;
}

int tz_sip_start(const tz_gen_t *g, char *err, size_t errlen)
{
  char buf[300];
  const char *url = buf;
  if (!g->nlistens) {
    snprintf(err, errlen, "no listen address: add listen=... to the script or use -l");
    return -1;
  }
  int cap = tz_tcp_limit_set(g->tcp_max, g->tcp_idle);
  if (g->tcp_max && (unsigned)cap < g->tcp_max)
    tz_log(TZ_LOG_WARN, "tcp_max_connections lowered to %d by the descriptor limit", cap);
  if (g->tcp_idle &&
      !tz_timer_start(NULL, g->tcp_idle / 2, 1, sip_sweep_tcp, NULL)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < g->nlistens; i++) {
    const tz_listen_t *l = &g->listens[i];
    int tls = l->proto && strcmp(l->proto, "tls") == 0;
    if (tls && !g->tls_dir) {
      snprintf(err, errlen, "listen tls:%s:%u needs tls_dir= (a directory with "
               "agent.pem and cafile.pem)", l->host, l->port);
      return -1;
    }
    if (sip_listen_url(l, buf, sizeof buf) < 0) {
      snprintf(err, errlen, "listen address too long");
      return -1;
    }
    errno = 0;
    /* An incomplete message on a connection may take up to T1x64, as a
     * transaction would; a connection idle for tcp_idle is closed. */
    if (i == 0)
      sip_agent = nta_agent_create(tz_loop_root(), URL_STRING_MAKE(url),
                                   sip_on_message, NULL, NTATAG_UA(0),
                                   NTATAG_SERVER_RPORT(1), NTATAG_CANCEL_487(0),
                                   NTATAG_MERGE_482(0),
                                   TAG_IF(tls, TPTAG_CERTIFICATE(g->tls_dir)),
                                   TAG_IF(g->tcp_idle, TPTAG_IDLE(g->tcp_idle)),
                                   TPTAG_TIMEOUT(32000), TAG_END());
    if ((i == 0 && !sip_agent) ||
        (i > 0 && nta_agent_add_tport(sip_agent, URL_STRING_MAKE(url),
                                      TAG_IF(tls, TPTAG_CERTIFICATE(g->tls_dir)),
                                      TAG_IF(g->tcp_idle, TPTAG_IDLE(g->tcp_idle)),
                                      TPTAG_TIMEOUT(32000), TAG_END()) < 0)) {
      snprintf(err, errlen, "cannot listen on %s: %s", url,
               errno ? strerror(errno) : "transport setup failed");
      tz_sip_stop();
      return -1;
    }
    tz_log(TZ_LOG_INFO, "listening on %s", url);
  }
  if (sip_copy_listens(g) < 0) {
    snprintf(err, errlen, "out of memory");
    tz_sip_stop();
    return -1;
  }
  return 0;
}

/* Sofia buffers a message up to its own cap before anyone sees it, and
 * answers 413 itself past that: keep the cap above every datagram (so the
 * core decides about all of them) and a little above max_msg_size (so a
 * stream message just over it reaches the core's 513). */
static unsigned sip_sofia_cap(unsigned max_msg_size)
{
  unsigned cap = 2 * max_msg_size;
  return cap < 65536 ? 65536 : cap;
}

void tz_sip_apply(const tz_gen_t *g)
{
  nta_agent_set_params(sip_agent, NTATAG_MAXSIZE(sip_sofia_cap(g->max_msg_size)),
                       TAG_IF(g->fr_timer, NTATAG_SIP_T1X64(g->fr_timer)),
                       TAG_IF(g->fr_inv_timer, NTATAG_TIMER_C(g->fr_inv_timer)),
                       TAG_END());
}

void tz_sip_stop(void)
{
  tz_relay_shutdown();
  if (sip_agent)
    nta_agent_destroy(sip_agent);
  sip_agent = NULL;
  tz_tcp_limit_deinit();
  for (size_t i = 0; i < sip_nlistens; i++)
    tz_listen_free(&sip_listens[i]);
  free(sip_listens);
  sip_listens = NULL;
  sip_nlistens = 0;
}
