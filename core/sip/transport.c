/*
 * transport.c - owns the nta agent and the transports bound to the listen
 * addresses: what counts as ours (is_myself, our Via, our Record-Route
 * URI), the agent-wide settings (timers, message size) and the sweep of
 * idle TCP connections. Messages that match no transaction go to the
 * callback its starter gives (dispatch.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/transport.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "runtime/worker.h"
#include "sip/tcplimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

/* The calling worker's transports. */
struct tz_sip_worker {
  nta_agent_t *agent;
  tz_listen_t *listens; /* what we actually bound */
  size_t nlistens;
};

/* An empty set before tz_sip_start (nothing is ours yet). */
static struct tz_sip_worker *sip_w(void)
{
  static struct tz_sip_worker none;
  tz_worker_t *w = tz_worker();
  return w->sip ? w->sip : &none;
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
  const struct tz_sip_worker *sw = sip_w();
  if (!url || !url->url_host)
    return 0;
  unsigned port = sip_port(url->url_port, url->url_type == url_sips ? 5061 : 5060);
  if (!port)
    return 0;
  for (size_t i = 0; i < sw->nlistens; i++)
    if (sw->listens[i].port == port &&
        tz_host_eq(sw->listens[i].host, url->url_host))
      return 1;
  tz_gen_t *g = tz_gen_current();
  for (size_t i = 0; g && i < g->naliases; i++)
    if (sip_alias_matches(g->aliases[i], url->url_host, port))
      return 1;
  return 0;
}

int tz_sip_too_large(msg_t *msg, const tz_gen_t *g)
{
  return msg_size(msg) > g->max_msg_size;
}

/* ---- transports ----------------------------------------------------------- */

nta_agent_t *tz_sip_agent(void) { return sip_w()->agent; }

size_t tz_sip_listens(const tz_listen_t **out)
{
  *out = sip_w()->listens;
  return sip_w()->nlistens;
}

int tz_sip_via_is_ours(const sip_via_t *v)
{
  const struct tz_sip_worker *sw = sip_w();
  if (!v || !v->v_host)
    return 0;
  int tls = v->v_protocol && strcasecmp(v->v_protocol, "SIP/2.0/TLS") == 0;
  unsigned port = sip_port(v->v_port, tls ? 5061 : 5060);
  for (size_t i = 0; i < sw->nlistens; i++)
    if (sw->listens[i].port == port && tz_host_eq(sw->listens[i].host, v->v_host))
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
  const struct tz_sip_worker *sw = sip_w();
  const tz_listen_t *pick = NULL;
  for (size_t i = 0; i < sw->nlistens && !pick; i++)
    if (sip_listen_serves(&sw->listens[i], proto) &&
        (strchr(sw->listens[i].host, ':') != NULL) == (v6 != 0))
      pick = &sw->listens[i];
  for (size_t i = 0; i < sw->nlistens && !pick; i++)
    if (sip_listen_serves(&sw->listens[i], proto))
      pick = &sw->listens[i];
  if (!pick && sw->nlistens)
    pick = &sw->listens[0];
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

static int sip_copy_listens(struct tz_sip_worker *sw, const tz_gen_t *g)
{
  sw->listens = calloc(g->nlistens, sizeof *sw->listens);
  if (!sw->listens)
    return -1;
  for (size_t i = 0; i < g->nlistens; i++) {
    tz_listen_t *l = &sw->listens[i];
    l->host = strdup(g->listens[i].host);
    l->proto = g->listens[i].proto ? strdup(g->listens[i].proto) : NULL;
    l->port = g->listens[i].port;
    sw->nlistens = i + 1;
    if (!l->host)
      return -1;
  }
  return 0;
}

/* The first address makes the agent, the others add transports to it. An
 * incomplete message on a connection may take up to T1x64, as a
 * transaction would; a connection idle for tcp_idle is closed. */
static int sip_bind(struct tz_sip_worker *sw, const tz_gen_t *g,
                    const tz_listen_t *l, const char *url,
                    nta_message_f *on_message)
{
  int tls = l->proto && strcmp(l->proto, "tls") == 0;
  /* The transport's settings, the same for every listen address. */
  tagi_t tp[] = {{TAG_IF(tls, TPTAG_CERTIFICATE(g->tls_dir))},
                 {TAG_IF(g->tcp_idle, TPTAG_IDLE(g->tcp_idle))},
                 {TAG_IF(g->udp_rcvbuf, TPTAG_UDP_RMEM(g->udp_rcvbuf))},
                 {TAG_IF(g->udp_sndbuf, TPTAG_UDP_WMEM(g->udp_sndbuf))},
                 {TPTAG_TIMEOUT(32000)},
                 {TAG_END()}};
  if (!sw->agent) {
    sw->agent = nta_agent_create(tz_loop_root(), URL_STRING_MAKE(url),
                                 on_message, NULL, NTATAG_UA(0),
                                 NTATAG_SERVER_RPORT(1), NTATAG_CANCEL_487(0),
                                 NTATAG_MERGE_482(0), TAG_NEXT(tp));
    return sw->agent ? 0 : -1;
  }
  return nta_agent_add_tport(sw->agent, URL_STRING_MAKE(url), TAG_NEXT(tp));
}

static int sip_listen_all(struct tz_sip_worker *sw, const tz_gen_t *g,
                          nta_message_f *on_message, char *err, size_t errlen)
{
  char url[300];
  for (size_t i = 0; i < g->nlistens; i++) {
    const tz_listen_t *l = &g->listens[i];
    if (l->proto && strcmp(l->proto, "tls") == 0 && !g->tls_dir) {
      snprintf(err, errlen, "listen tls:%s:%u needs tls_dir= (a directory with "
               "agent.pem and cafile.pem)", l->host, l->port);
      return -1;
    }
    if (sip_listen_url(l, url, sizeof url) < 0) {
      snprintf(err, errlen, "listen address too long");
      return -1;
    }
    errno = 0;
    if (sip_bind(sw, g, l, url, on_message) < 0) {
      snprintf(err, errlen, "cannot listen on %s: %s", url,
               errno ? strerror(errno) : "transport setup failed");
      return -1;
    }
    tz_log(TZ_LOG_INFO, "listening on %s", url);
  }
  return 0;
}

int tz_sip_start(const tz_gen_t *g, nta_message_f *on_message, char *err,
                 size_t errlen)
{
  err[0] = '\0';
  if (!g->nlistens) {
    snprintf(err, errlen, "no listen address: add listen=... to the script or use -l");
    return -1;
  }
  int cap = tz_tcp_limit_set(g->tcp_max, g->tcp_idle);
  if (g->tcp_max && (unsigned)cap < g->tcp_max)
    tz_log(TZ_LOG_WARN, "tcp_max_connections lowered to %d by the descriptor limit", cap);
  struct tz_sip_worker *sw = calloc(1, sizeof *sw);
  tz_worker()->sip = sw;
  if (!sw || (g->tcp_idle &&
              !tz_timer_start(NULL, g->tcp_idle / 2, 1, sip_sweep_tcp, NULL))) {
    snprintf(err, errlen, "out of memory");
    tz_sip_stop();
    return -1;
  }
  if (sip_listen_all(sw, g, on_message, err, errlen) < 0 ||
      sip_copy_listens(sw, g) < 0) {
    if (!err[0])
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
  nta_agent_set_params(tz_sip_agent(),
                       NTATAG_MAXSIZE(sip_sofia_cap(g->max_msg_size)),
                       TAG_IF(g->fr_timer, NTATAG_SIP_T1X64(g->fr_timer)),
                       TAG_IF(g->fr_inv_timer, NTATAG_TIMER_C(g->fr_inv_timer)),
                       TAG_END());
}

void tz_sip_stop(void)
{
  struct tz_sip_worker *sw = tz_worker()->sip;
  tz_tcp_limit_deinit();
  if (!sw)
    return;
  if (sw->agent)
    nta_agent_destroy(sw->agent);
  for (size_t i = 0; i < sw->nlistens; i++)
    tz_listen_free(&sw->listens[i]);
  free(sw->listens);
  free(sw);
  tz_worker()->sip = NULL;
}
