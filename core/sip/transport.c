/*
 * transport.c - owns the nta agent and the transports bound to the listen
 * addresses: what counts as ours (is_myself, our Via, our Record-Route
 * URI), the agent-wide settings (timers, message size) and the sweep of
 * idle TCP connections. Messages that match no transaction go to the
 * callback its starter gives (dispatch.c).
 *
 * With several workers, every worker binds every listen address with
 * SO_REUSEPORT (the kernel spreads sources over them; interpose.c sets the
 * option while tz_sip_bind_mode() says so), and first a private UDP port
 * of its own: nta sends client transactions through the first primary
 * transport, so that port is in the worker's Via and responses come back
 * to the worker that holds the transaction. Record-Route and is_myself
 * use the shared addresses only. (Sofia's UDP transport sends itself a
 * 4-byte "TEST" when it binds; on a shared port another worker may get
 * it, and nta logs "received garbage" once at start: harmless.)
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/transport.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "runtime/worker.h"
#include "sip/handoff.h"
#include "sip/tcplimit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/tport.h>
#include <sofia-sip/tport_tag.h>

/* The calling worker's transports. */
struct tz_sip_worker {
  nta_agent_t *agent;
  tz_listen_t *listens; /* what we actually bound */
  size_t nlistens;
  tz_listen_t *privates; /* this worker's own UDP ports, in its Via only */
  size_t nprivates;
};

static _Thread_local tz_bind_mode_t sip_bind_mode;

tz_bind_mode_t tz_sip_bind_mode(void) { return sip_bind_mode; }

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

static int sip_listed(const tz_listen_t *l, size_t n, const char *host,
                      unsigned port)
{
  for (size_t i = 0; i < n; i++)
    if (l[i].port == port && (!host || tz_host_eq(l[i].host, host)))
      return 1;
  return 0;
}

int tz_sip_via_is_ours(const sip_via_t *v)
{
  const struct tz_sip_worker *sw = sip_w();
  if (!v || !v->v_host)
    return 0;
  int tls = v->v_protocol && strcasecmp(v->v_protocol, "SIP/2.0/TLS") == 0;
  unsigned port = sip_port(v->v_port, tls ? 5061 : 5060);
  return sip_listed(sw->listens, sw->nlistens, v->v_host, port) ||
         sip_listed(sw->privates, sw->nprivates, v->v_host, port);
}

/* Workers' ports are set before the others start and fixed until they
 * stop, so worker 0 may read them all. */
int tz_sip_is_udp_port(unsigned port)
{
  for (unsigned i = 0; port && i < tz_worker_count(); i++) {
    const struct tz_sip_worker *sw = tz_worker_at(i)->sip;
    if (sw && (sip_listed(sw->listens, sw->nlistens, NULL, port) ||
               sip_listed(sw->privates, sw->nprivates, NULL, port)))
      return 1;
  }
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

/* The UDP primaries that are none of the listen addresses: ours alone. */
static int sip_find_privates(struct tz_sip_worker *sw, const tz_gen_t *g)
{
  sw->privates = calloc(g->nlistens, sizeof *sw->privates);
  if (!sw->privates)
    return -1;
  for (tport_t *tp = tport_primaries(nta_agent_tports(sw->agent)); tp;
       tp = tport_next(tp)) {
    const tp_name_t *n = tport_name(tp);
    unsigned port = tz_port_parse(n->tpn_port);
    if (strcasecmp(n->tpn_proto, "udp") != 0 ||
        sip_listed(g->listens, g->nlistens, n->tpn_host, port) ||
        sw->nprivates == g->nlistens)
      continue;
    tz_listen_t *l = &sw->privates[sw->nprivates++];
    l->port = port;
    if (!(l->host = strdup(n->tpn_host)) || !(l->proto = strdup("udp")))
      return -1;
    /* Requests this worker relays leave from here: peers that filter by
     * source port need to know it. */
    tz_log(TZ_LOG_INFO, "worker %u: own port sip:%s:%u;transport=udp (its "
           "Via, the source of the requests it sends)", tz_worker()->id,
           n->tpn_host, port);
    tz_handoff_set_address(n->tpn_host, port);
  }
  return 0;
}

/* Bytes each message nta receives or makes gets in one block beside its
 * text, from which its parsed headers are carved: one malloc() and free()
 * for most of them instead of one a header (Sofia's default is none).
 * Callgrind, the seed call without record-routing: 3 % fewer instructions
 * per call with 2,048 (1,024: 2 %). */
#define SIP_PRELOAD 2048

/* The first address makes the agent, the others add transports to it. An
 * incomplete message on a connection may take up to T1x64, as a
 * transaction would; a connection idle for tcp_idle is closed. */
static int sip_bind(struct tz_sip_worker *sw, const tz_gen_t *g,
                    const tz_listen_t *l, const char *url,
                    nta_message_f *on_message, tz_bind_mode_t mode)
{
  int tls = l->proto && strcmp(l->proto, "tls") == 0;
  /* The transport's settings, the same for every listen address. */
  tagi_t tp[] = {{TAG_IF(tls, TPTAG_CERTIFICATE(g->tls_dir))},
                 {TAG_IF(g->tcp_idle, TPTAG_IDLE(g->tcp_idle))},
                 {TAG_IF(g->udp_rcvbuf, TPTAG_UDP_RMEM(g->udp_rcvbuf))},
                 {TAG_IF(g->udp_sndbuf, TPTAG_UDP_WMEM(g->udp_sndbuf))},
                 {TPTAG_TIMEOUT(32000)},
                 {TAG_END()}};
  int rc;
  sip_bind_mode = mode;
  if (!sw->agent) {
    sw->agent = nta_agent_create(tz_loop_root(), URL_STRING_MAKE(url),
                                 on_message, NULL, NTATAG_UA(0),
                                 NTATAG_SERVER_RPORT(1), NTATAG_CANCEL_487(0),
                                 NTATAG_MERGE_482(0), NTATAG_PRELOAD(SIP_PRELOAD), TAG_NEXT(tp));
    rc = sw->agent ? 0 : -1;
  } else
    rc = nta_agent_add_tport(sw->agent, URL_STRING_MAKE(url), TAG_NEXT(tp));
  sip_bind_mode = TZ_BIND_NONE;
  return rc;
}

/* True if an earlier listen address than l has l's host. */
static int sip_host_seen(const tz_gen_t *g, const tz_listen_t *l)
{
  for (const tz_listen_t *p = g->listens; p < l; p++)
    if (tz_host_eq(p->host, l->host))
      return 1;
  return 0;
}

/* With workers, a private UDP port on each listen host, bound first: its
 * Via, and where other workers hand it requests (handoff.c), also when
 * the host listens on TCP or TLS only. */
static int sip_bind_privates(struct tz_sip_worker *sw, const tz_gen_t *g,
                             nta_message_f *on_message, char *err, size_t errlen)
{
  char url[300];
  for (size_t i = 0; g->workers > 1 && i < g->nlistens; i++) {
    const tz_listen_t *l = &g->listens[i];
    int v6 = strchr(l->host, ':') != NULL;
    if (sip_host_seen(g, l))
      continue;
    snprintf(url, sizeof url, "sip:%s%s%s:0;transport=udp", v6 ? "[" : "",
             l->host, v6 ? "]" : "");
    errno = 0;
    if (sip_bind(sw, g, l, url, on_message, TZ_BIND_PLAIN) < 0) {
      snprintf(err, errlen, "cannot bind a worker's own port on %s: %s", url,
               errno ? strerror(errno) : "transport setup failed");
      return -1;
    }
  }
  return 0;
}

static int sip_listen_all(struct tz_sip_worker *sw, const tz_gen_t *g,
                          nta_message_f *on_message, char *err, size_t errlen)
{
  char url[300];
  if (sip_bind_privates(sw, g, on_message, err, errlen) < 0)
    return -1;
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
    tz_bind_mode_t mode = g->workers < 2 ? TZ_BIND_PLAIN
                          : tz_worker()->id == 0 ? TZ_BIND_SHARED_FIRST
                                                 : TZ_BIND_SHARED;
    if (sip_bind(sw, g, l, url, on_message, mode) < 0) {
      snprintf(err, errlen, "cannot listen on %s: %s", url,
               errno ? strerror(errno) : "transport setup failed");
      return -1;
    }
    if (tz_worker()->id == 0)
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
  int first = tz_worker()->id == 0; /* the process-wide parts */
  int cap = first ? tz_tcp_limit_set(g->tcp_max, g->tcp_idle) : 0;
  if (first && g->tcp_max && (unsigned)cap < g->tcp_max)
    tz_log(TZ_LOG_WARN, "tcp_max_connections lowered to %d by the descriptor limit", cap);
  struct tz_sip_worker *sw = calloc(1, sizeof *sw);
  tz_worker()->sip = sw;
  if (!sw || (first && g->tcp_idle &&
              !tz_timer_start(NULL, g->tcp_idle / 2, 1, sip_sweep_tcp, NULL))) {
    snprintf(err, errlen, "out of memory");
    tz_sip_stop();
    return -1;
  }
  if (sip_listen_all(sw, g, on_message, err, errlen) < 0 ||
      sip_copy_listens(sw, g) < 0 || sip_find_privates(sw, g) < 0) {
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

static void sip_apply_job(void *arg)
{
  tz_sip_apply(arg);
  tz_gen_unref(arg);
}

void tz_sip_apply_all(tz_gen_t *g)
{
  for (unsigned i = 0; i < tz_worker_count(); i++)
    if (tz_worker_post(i, sip_apply_job, tz_gen_ref(g)) < 0) {
      tz_log(TZ_LOG_ERR, "worker %u keeps its timers: out of memory", i);
      tz_gen_unref(g);
    }
}

static void sip_free_listens(tz_listen_t *l, size_t n)
{
  for (size_t i = 0; i < n; i++)
    tz_listen_free(&l[i]);
  free(l);
}

void tz_sip_stop(void)
{
  struct tz_sip_worker *sw = tz_worker()->sip;
  if (tz_worker()->id == 0)
    tz_tcp_limit_deinit();
  if (!sw)
    return;
  if (sw->agent)
    nta_agent_destroy(sw->agent);
  sip_free_listens(sw->listens, sw->nlistens);
  sip_free_listens(sw->privates, sw->nprivates);
  free(sw);
  tz_worker()->sip = NULL;
}
