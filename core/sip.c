/*
 * sip.c - owns the nta agent and its default leg, the transports bound to
 * the listen addresses, and the per-message context the script runs on.
 *
 * Every request that matches no existing transaction arrives at the default
 * leg with its own server transaction (irq). The script decides; whatever
 * it leaves unanswered is dropped, like a stateless Kamailio script, except
 * after a runtime error, where the caller gets a 500 instead of silence.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip.h"
#include "log.h"
#include "loop.h"
#include "msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

static nta_agent_t *sip_agent;
static nta_leg_t *sip_leg;
static tz_listen_t *sip_listens; /* what we actually bound */
static size_t sip_nlistens;

/* ---- the message context ------------------------------------------------ */

static void msg_fill_source(tz_msg_t *m)
{
  su_addrinfo_t *ai = msg_addrinfo(m->msg);
  m->proto = "udp";
  if (!ai || !ai->ai_addr)
    return;
  su_sockaddr_t *su = (su_sockaddr_t *)ai->ai_addr;
  if (ai->ai_protocol == IPPROTO_TCP)
    m->proto = "tcp";
  else if (ai->ai_protocol != IPPROTO_UDP && ai->ai_protocol != 0)
    m->proto = "tls";
  su_inet_ntop(su->su_family, SU_ADDR(su), m->src_ip, sizeof m->src_ip);
  m->src_port = ntohs(su->su_port);
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

int tz_msg_reply(tz_msg_t *m, int status, const char *reason,
                 const char *extra_headers)
{
  if (!m->irq || (m->flags & TZ_MSG_REPLIED)) {
    tz_log(TZ_LOG_ERR, "cannot reply %d: %s", status,
           m->irq ? "a final reply was already sent" : "no request to answer");
    return -1;
  }
  if (m->sip && m->sip->sip_request &&
      m->sip->sip_request->rq_method == sip_method_ack) {
    tz_log(TZ_LOG_ERR, "cannot reply %d to an ACK", status);
    return -1;
  }
  if (nta_incoming_treply(m->irq, status, reason,
                          TAG_IF(extra_headers, SIPTAG_HEADER_STR(extra_headers)),
                          TAG_END()) < 0)
    return -1;
  if (status >= 200)
    m->flags |= TZ_MSG_REPLIED;
  return 0;
}

/* ---- is_myself ------------------------------------------------------------ */

/* Compares hosts, treating IPv6 literals by value (with or without []). */
static int sip_host_eq(const char *a, const char *b)
{
  char ba[64], bb[64];
  size_t la = strlen(a), lb = strlen(b);
  if (la > 1 && a[0] == '[' && a[la - 1] == ']' && la - 2 < sizeof ba) {
    memcpy(ba, a + 1, la - 2);
    ba[la - 2] = '\0';
    a = ba;
  }
  if (lb > 1 && b[0] == '[' && b[lb - 1] == ']' && lb - 2 < sizeof bb) {
    memcpy(bb, b + 1, lb - 2);
    bb[lb - 2] = '\0';
    b = bb;
  }
  struct in6_addr x, y;
  if (inet_pton(AF_INET6, a, &x) == 1 && inet_pton(AF_INET6, b, &y) == 1)
    return memcmp(&x, &y, sizeof x) == 0;
  return strcasecmp(a, b) == 0;
}

static int sip_alias_matches(const char *alias, const char *host,
                             unsigned port)
{
  char h[256];
  const char *colon = strrchr(alias, ':');
  /* "[v6]:port" or "name:port"; a bare IPv6 literal has no port. */
  if (colon && (alias[0] == '[' ? colon > strchr(alias, ']')
                                : strchr(alias, ':') == colon)) {
    snprintf(h, sizeof h, "%.*s", (int)(colon - alias), alias);
    return sip_host_eq(h, host) && (unsigned)atoi(colon + 1) == port;
  }
  return sip_host_eq(alias, host);
}

int tz_is_myself(const url_t *url)
{
  if (!url || !url->url_host)
    return 0;
  unsigned port = url->url_port && *url->url_port
                      ? (unsigned)atoi(url->url_port)
                      : (url->url_type == url_sips ? 5061 : 5060);
  for (size_t i = 0; i < sip_nlistens; i++)
    if (sip_listens[i].port == port &&
        sip_host_eq(sip_listens[i].host, url->url_host))
      return 1;
  tz_gen_t *g = tz_gen_current();
  for (size_t i = 0; g && i < g->naliases; i++)
    if (sip_alias_matches(g->aliases[i], url->url_host, port))
      return 1;
  return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

static int sip_on_request(nta_leg_magic_t *magic, nta_leg_t *leg,
                          nta_incoming_t *irq, sip_t const *sip)
{
  (void)magic;
  (void)leg;
  tz_gen_t *g = tz_gen_ref(tz_gen_current());
  msg_t *msg = nta_incoming_getrequest(irq);
  tz_msg_t m;
  tz_msg_init(&m, g, msg, irq, TZ_ROUTE_REQUEST);
  const tz_route_t *r = tz_script_request_route(g->script);
  tz_run_result_t rc = r ? tz_script_run(g->script, r, &m) : TZ_RUN_OK;
  int is_ack = sip->sip_request->rq_method == sip_method_ack;
  if (rc == TZ_RUN_ERROR && !is_ack && !(m.flags & TZ_MSG_REPLIED))
    nta_incoming_treply(irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
  else if (!(m.flags & TZ_MSG_REPLIED))
    tz_log(TZ_LOG_DBG, "%s from %s:%u left unanswered by the script",
           sip->sip_request->rq_method_name, m.src_ip, m.src_port);
  tz_msg_deinit(&m);
  msg_destroy(msg);
  nta_incoming_destroy(irq);
  tz_gen_unref(g);
  return 0;
}

/* Responses that match no client transaction, and requests when there is
 * no default leg. Nothing relays yet, so they are dropped. */
static int sip_on_stray(nta_agent_magic_t *magic, nta_agent_t *agent,
                        msg_t *msg, sip_t *sip)
{
  (void)magic;
  (void)agent;
  if (sip && sip->sip_status)
    tz_log(TZ_LOG_DBG, "stray response %u dropped", sip->sip_status->st_status);
  msg_destroy(msg);
  return 0;
}

/* ---- transports ----------------------------------------------------------- */

static int sip_listen_url(const tz_listen_t *l, char *buf, size_t len)
{
  int v6 = strchr(l->host, ':') != NULL;
  const char *tp = !l->proto ? "" : strcmp(l->proto, "udp") == 0 ? ";transport=udp"
                                                                : ";transport=tcp";
  return snprintf(buf, len, "sip:%s%s%s:%u%s", v6 ? "[" : "", l->host,
                  v6 ? "]" : "", l->port, tp) < (int)len
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
  for (size_t i = 0; i < g->nlistens; i++) {
    const tz_listen_t *l = &g->listens[i];
    if (l->proto && strcmp(l->proto, "tls") == 0) {
      snprintf(err, errlen, "listen %s:%u: TLS is not supported yet", l->host, l->port);
      return -1;
    }
    if (sip_listen_url(l, buf, sizeof buf) < 0) {
      snprintf(err, errlen, "listen address too long");
      return -1;
    }
    errno = 0;
    if (i == 0)
      sip_agent = nta_agent_create(tz_loop_root(), URL_STRING_MAKE(url),
                                   sip_on_stray, NULL, NTATAG_UA(0),
                                   NTATAG_SERVER_RPORT(1), NTATAG_CANCEL_487(0),
                                   NTATAG_MERGE_482(0), TAG_END());
    if ((i == 0 && !sip_agent) ||
        (i > 0 && nta_agent_add_tport(sip_agent, URL_STRING_MAKE(url), TAG_END()) < 0)) {
      snprintf(err, errlen, "cannot listen on %s: %s", url,
               errno ? strerror(errno) : "transport setup failed");
      tz_sip_stop();
      return -1;
    }
    tz_log(TZ_LOG_INFO, "listening on %s", url);
  }
  sip_leg = nta_leg_tcreate(sip_agent, sip_on_request, NULL,
                            NTATAG_NO_DIALOG(1), TAG_END());
  if (!sip_leg || sip_copy_listens(g) < 0) {
    snprintf(err, errlen, "cannot create the default leg");
    tz_sip_stop();
    return -1;
  }
  return 0;
}

void tz_sip_stop(void)
{
  if (sip_leg)
    nta_leg_destroy(sip_leg);
  sip_leg = NULL;
  if (sip_agent)
    nta_agent_destroy(sip_agent);
  sip_agent = NULL;
  for (size_t i = 0; i < sip_nlistens; i++)
    tz_listen_free(&sip_listens[i]);
  free(sip_listens);
  sip_listens = NULL;
  sip_nlistens = 0;
}
