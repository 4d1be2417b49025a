/*
 * msg.c - owns the per-message context (struct tz_msg): its source,
 * socket and routing targets, the one route runner every script run
 * goes through, the disposition of a request, replies (stateless, or on
 * the request's server transaction), and suspended requests.
 *
 * A server transaction exists only once something needs one (a suspended
 * request, a relay): sl_reply answers statelessly, as Kamailio's sl does.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/msg.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "runtime/loop.h"
#include "runtime/worker.h"
#include "sip/trace.h"
#include "sip/transport.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport.h>

/* ---- the message context ------------------------------------------------ */

/* TLS messages carry the TCP protocol number; their transport knows. */
static int msg_is_tls(msg_t *msg)
{
  if (!tz_sip_agent())
    return 0;
  tport_t *tp = nta_incoming_transport(tz_sip_agent(), NULL, msg);
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
    m->proto = msg_is_tls(m->msg) ? "tls" : "tcp";
  else if (ai->ai_protocol != IPPROTO_UDP && ai->ai_protocol != 0)
    m->proto = "tls";
  su_inet_ntop(su->su_family, SU_ADDR(su), m->src_ip, sizeof m->src_ip);
  m->src_port = ntohs(su->su_port);
}

/* The local socket as "proto:host:port", from the primary transport (a
 * TCP connection's own name is its peer). */
static void msg_fill_socket(tz_msg_t *m)
{
  if (!tz_sip_agent())
    return;
  tport_t *tp = nta_incoming_transport(tz_sip_agent(), m->irq, m->msg);
  tport_t *primary = tp ? tport_parent(tp) : NULL;
  const tp_name_t *n = primary ? tport_name(primary) : NULL;
  if (n && n->tpn_proto && n->tpn_host && n->tpn_port) {
    int v6 = strchr(n->tpn_host, ':') && n->tpn_host[0] != '[';
    snprintf(m->socket, sizeof m->socket, "%s:%s%s%s:%s", n->tpn_proto,
             v6 ? "[" : "", n->tpn_host, v6 ? "]" : "", n->tpn_port);
  }
  tport_unref(tp);
}

void tz_msg_open(tz_msg_t *m, tz_gen_t *gen, msg_t *msg, nta_incoming_t *irq,
                 unsigned route_kind)
{
  memset(m, 0, sizeof *m);
  su_home_init(m->home);
  m->msg = msg;
  m->sip = sip_object(msg);
  m->irq = irq;
  m->gen = tz_gen_ref(gen);
  m->route_kind = route_kind;
  msg_fill_source(m);
}

void tz_msg_close(tz_msg_t *m)
{
  su_home_deinit(m->home);
  tz_gen_unref(m->gen);
  m->gen = NULL;
}

static tz_msg_observer_f msg_observer; /* set before the worker starts */

void tz_msg_observe(tz_msg_observer_f f) { msg_observer = f; }

tz_run_result_t tz_msg_run(tz_msg_t *m, const tz_route_t *r)
{
  if (!r)
    return TZ_RUN_OK;
  tz_run_result_t rc = tz_script_run(m->gen->script, r, m, m->home,
                                     tz_trace_matches(m));
  if (rc == TZ_RUN_ERROR)
    tz_stat_add(tz_st_script_errors, 1);
  if (rc == TZ_RUN_DROP && m->sip && m->sip->sip_request &&
      m->disp == TZ_DISP_OPEN)
    tz_msg_dispose(m, TZ_DISP_DROPPED);
  if (msg_observer)
    msg_observer(m, r, rc);
  return rc;
}

void tz_msg_dispose(tz_msg_t *m, tz_disposition_t d)
{
  assert(m->disp == TZ_DISP_OPEN && d != TZ_DISP_OPEN);
  m->disp = d;
}

msg_t *tz_msg_sofia(tz_msg_t *m) { return m->msg; }
sip_t *tz_msg_sip(tz_msg_t *m) { return m->sip; }
su_home_t *tz_msg_home(tz_msg_t *m) { return m->home; }
unsigned tz_msg_route_kind(const tz_msg_t *m) { return m->route_kind; }

static int msg_reply(nta_incoming_t *irq, int status, const char *reason,
                     const char *extra_headers)
{
  return nta_incoming_treply(irq, status, reason,
                             TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                             TAG_END());
}

/* Stateless: nothing is kept, a retransmitted request runs the script
 * again. nta takes over a reference to the request. */
int tz_sip_reply_stateless(msg_t *req, tport_t *tp, int status,
                           const char *reason, const char *extra_headers)
{
  if (!tz_sip_agent()) /* nta would keep our reference */
    return -1;
  return nta_msg_treply(tz_sip_agent(), msg_ref_create(req), status, reason,
                        TAG_IF(tp, NTATAG_TPORT(tp)),
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

/* The script's append_to_reply() lines, then the caller's. Usually one
 * of them is absent and the other goes as it is; only both are joined, in
 * home. */
static const char *msg_reply_headers(su_home_t *home, const char *script,
                                     const char *extra)
{
  if (!script || !extra)
    return script ? script : extra;
  return su_sprintf(home, "%s%s", script, extra);
}

int tz_msg_reply(tz_msg_t *m, int status, const char *reason,
                 const char *extra_headers)
{
  static const char *const why[] = {
      [TZ_DISP_REPLIED] = "a final reply was already sent",
      [TZ_DISP_RELAYED] = "the request is relayed",
      [TZ_DISP_SUSPENDED] = "the request is suspended",
      [TZ_DISP_DROPPED] = "the request was dropped"};
  if (!m->sip || !m->sip->sip_request || m->disp != TZ_DISP_OPEN) {
    tz_sip_log(m->sip, TZ_LOG_ERR, "cannot reply %d: %s", status,
           !(m->sip && m->sip->sip_request) ? "no request to answer"
                                            : why[m->disp]);
    return -1;
  }
  if (m->sip && m->sip->sip_request &&
      m->sip->sip_request->rq_method == sip_method_ack) {
    tz_sip_log(m->sip, TZ_LOG_ERR, "cannot reply %d to an ACK", status);
    return -1;
  }
  const char *hdrs = msg_reply_headers(m->home, m->reply_hdrs, extra_headers);
  int rc = m->irq ? msg_reply(m->irq, status, reason, hdrs)
                  : tz_sip_reply_stateless(m->msg, NULL, status, reason, hdrs);
  if (rc < 0)
    return -1;
  tz_stats_reply(status, 0);
  if (status >= 200)
    tz_msg_dispose(m, TZ_DISP_REPLIED);
  return 0;
}

/* ---- suspended requests ------------------------------------------------- */

/* Belongs to the worker the request arrived in: a module that finishes
 * it elsewhere (the location writer's completions run in worker 0) has
 * its reply or drop handed over there. */
struct tz_suspended {
  nta_incoming_t *irq;
  msg_t *msg;
  tz_gen_t *gen;
  char *reply_hdrs; /* the script's append_to_reply() lines, or NULL */
  unsigned worker;
  /* The socket it came in on. nta knows it only while delivering the
   * request; later it would answer from its first transport, a worker's
   * private port, which a UA on a connected socket ignores. */
  tport_t *tport;
};

/* A reply (or, with status 0, a drop) on its way to the owning worker. */
typedef struct suspended_job {
  tz_suspended_t *s;
  int status;
  char *reason, *hdrs;
} suspended_job_t;

static void suspended_job_run(void *arg)
{
  suspended_job_t *j = arg;
  assert(j->s->worker == tz_worker()->id);
  if (j->status)
    tz_suspended_reply(j->s, j->status, j->reason, j->hdrs);
  else
    tz_suspended_drop(j->s);
  free(j->reason);
  free(j->hdrs);
  free(j);
}

static char *suspended_dup(const char *s, int *failed)
{
  char *d = s ? strdup(s) : NULL;
  *failed |= s && !d;
  return d;
}

/* Out of memory here leaves the request waiting: it is logged, and the
 * client's retransmission gets an answer from the script again. */
static int suspended_hand_over(tz_suspended_t *s, int status,
                               const char *reason, const char *hdrs)
{
  int failed = 0;
  suspended_job_t *j = malloc(sizeof *j);
  if (j)
    *j = (suspended_job_t){s, status, suspended_dup(reason, &failed),
                           suspended_dup(hdrs, &failed)};
  if (j && !failed && tz_worker_post(s->worker, suspended_job_run, j) == 0)
    return 0;
  int stopping = j && !failed && errno == ESHUTDOWN;
  if (j) {
    free(j->reason);
    free(j->hdrs);
  }
  free(j);
  if (stopping) /* the worker ends its suspended requests itself */
    tz_log(TZ_LOG_DBG, "a suspended request's worker is stopping: no reply");
  else
    tz_log(TZ_LOG_ERR, "out of memory: a suspended request's reply is lost");
  return -1;
}


/* Makes the request stateful: retransmissions now reach the transaction
 * instead of the script. */
nta_incoming_t *tz_sip_transaction(tz_msg_t *m)
{
  if (m->irq)
    return m->irq;
  tport_t *tp = nta_incoming_transport(tz_sip_agent(), NULL, m->msg);
  m->irq = nta_incoming_create(tz_sip_agent(), NULL, msg_ref_create(m->msg),
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
      m->disp != TZ_DISP_OPEN || m->route_kind != TZ_ROUTE_REQUEST)
    return NULL;
  tz_suspended_t *s = calloc(1, sizeof *s);
  if (s && m->reply_hdrs && !(s->reply_hdrs = strdup(m->reply_hdrs))) {
    free(s);
    s = NULL;
  }
  if (!s)
    return NULL;
  s->irq = m->irq;
  s->worker = tz_worker()->id;
  s->tport = nta_incoming_transport(tz_sip_agent(), NULL, m->msg);
  s->msg = msg_ref_create(m->msg);
  s->gen = tz_gen_ref(m->gen);
  tz_msg_dispose(m, TZ_DISP_SUSPENDED);
  tz_worker()->nsuspended++;
  return s;
}

sip_t *tz_suspended_sip(tz_suspended_t *s) { return sip_object(s->msg); }

void tz_suspended_drop(tz_suspended_t *s)
{
  if (!s)
    return;
  if (s->worker != tz_worker()->id) {
    suspended_hand_over(s, 0, NULL, NULL);
    return;
  }
  if (s->irq)
    nta_incoming_destroy(s->irq);
  msg_destroy(s->msg);
  tport_unref(s->tport);
  tz_gen_unref(s->gen);
  free(s->reply_hdrs);
  free(s);
  assert(tz_worker()->nsuspended > 0);
  tz_worker()->nsuspended--;
}

/* A suspended request or a held relay pins its generation, and only its
 * module (a database commit, a DNS answer, perhaps from worker 0) can
 * finish it: run the loop until they are done, while the transports are
 * still up, so no acknowledged work is lost and the generations can be
 * freed. */
void tz_sip_drain(unsigned max_ms)
{
  tz_worker_t *w = tz_worker();
  for (unsigned waited = 0; (w->nsuspended || w->nheld) && waited < max_ms;
       waited += 20)
    su_root_step(tz_loop_root(), 20);
  if (w->nsuspended || w->nheld)
    tz_log(TZ_LOG_WARN, "%u suspended request(s) not answered, %u held "
           "relay(s) not released at shutdown", w->nsuspended, w->nheld);
}

int tz_suspended_reply(tz_suspended_t *s, int status, const char *reason,
                       const char *extra_headers)
{
  assert(status >= 100);
  if (s->worker != tz_worker()->id)
    return suspended_hand_over(s, status, reason, extra_headers);
  su_home_t home[1];
  su_home_init(home);
  const char *hdrs = msg_reply_headers(home, s->reply_hdrs, extra_headers);
  int rc = s->irq ? msg_reply(s->irq, status, reason, hdrs)
                  : tz_sip_reply_stateless(s->msg, s->tport, status, reason, hdrs);
  su_home_deinit(home);
  if (rc >= 0)
    tz_stats_reply(status, 0);
  if (status >= 200 || rc < 0)
    tz_suspended_drop(s);
  return rc;
}


void tz_sip_log(const sip_t *sip, int level, const char *fmt, ...)
{
  char call[300] = "";
  if (sip && sip->sip_call_id && sip->sip_call_id->i_id)
    snprintf(call, sizeof call, " [Call-ID %s]", sip->sip_call_id->i_id);
  va_list ap;
  va_start(ap, fmt);
  tz_vlog_around(level, "", call, fmt, ap);
  va_end(ap);
}
