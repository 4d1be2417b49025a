/*
 * hep.c - the hep module: every SIP message the core receives or sends
 * (UDP datagrams, TCP and TLS messages), as HEPv3 to a collector (Homer,
 * or anything that reads HEP), like Kamailio's siptrace with its HEP mode.
 * The core's wire tap (tz_wiretap_add) hands over the bytes, peer and
 * local address; this file stamps them, encodes them (hep_enc.c) and
 * queues them for the sender thread (hep_send.c). `tzctl hep
 * on|off|status` switches it at run time.
 *
 * Locking rule: the tap runs in every worker at once and reads only the
 * configuration and what init made, except `on` (atomic, set by the
 * commands in worker 0) and the sender's queue (its own lock).
 */
#define _POSIX_C_SOURCE 200809L
#include "hep.h"

#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <trapezoid/json.h>

#define HEP_PORT 9060 /* the collectors' usual port */

typedef struct hep_cfg {
  char *dest;
  long capture_id, correlation, queue, on;
} hep_cfg_t;

typedef struct hep {
  atomic_int on;
  hep_meta_t meta;
  hep_sender_t *sender;
  tz_stat_t *dropped;
} hep_t;

/* The tap: one message, while capturing. A packet the queue cannot take
 * (or that does not fit a datagram) is counted, never waited for. */
static void hep_tap(tz_modinst_t *mod, const tz_wire_t *w)
{
  hep_t *h = tz_mod_data(mod);
  struct timespec ts;
  if (!atomic_load_explicit(&h->on, memory_order_relaxed))
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  hep_pkt_t *p = hep_encode(w, &h->meta, &ts);
  if (!p || hep_sender_push(h->sender, p) < 0) {
    free(p);
    tz_stat_add(h->dropped, 1);
  }
}

/* ---- commands --------------------------------------------------------------- */

static int hep_rpc_status(tz_modinst_t *mod, const tz_json_t *params,
                          tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params, (void)err, (void)errlen;
  hep_t *h = tz_mod_data(mod);
  const hep_cfg_t *cfg = tz_mod_cfg(mod);
  tz_jw_obj_begin(out);
  tz_jw_key(out, "capturing");
  tz_jw_bool(out, atomic_load(&h->on));
  tz_jw_key(out, "dest");
  tz_jw_str(out, cfg->dest);
  tz_jw_key(out, "capture_id");
  tz_jw_int(out, cfg->capture_id);
  tz_jw_key(out, "queued");
  tz_jw_int(out, hep_sender_queued(h->sender));
  tz_jw_key(out, "queue");
  tz_jw_int(out, cfg->queue);
  tz_jw_obj_end(out);
  return 0;
}

static int hep_rpc_switch(tz_modinst_t *mod, int on, tz_jbuf_t *out,
                          char *err, size_t errlen)
{
  hep_t *h = tz_mod_data(mod);
  if (atomic_exchange(&h->on, on) != on)
    tz_log(TZ_LOG_NOTICE, "hep: capture %s", on ? "on" : "off");
  return hep_rpc_status(mod, NULL, out, err, errlen);
}

static int hep_rpc_on(tz_modinst_t *mod, const tz_json_t *params,
                      tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params;
  return hep_rpc_switch(mod, 1, out, err, errlen);
}

static int hep_rpc_off(tz_modinst_t *mod, const tz_json_t *params,
                       tz_jbuf_t *out, char *err, size_t errlen)
{
  (void)params;
  return hep_rpc_switch(mod, 0, out, err, errlen);
}

/* ---- life cycle ----------------------------------------------------------- */

/* "udp:HOST[:PORT]" into host and port: the one check trapezoid -c makes. */
static int hep_dest_parse(const char *dest, char *host, size_t hostlen,
                          unsigned *port, char *err, size_t errlen)
{
  if (!dest || !*dest) {
    snprintf(err, errlen, "hep: modparam(\"hep\", \"dest\", \"udp:HOST:PORT\") is required");
    return -1;
  }
  if (strncmp(dest, "udp:", 4) != 0 ||
      tz_hostport_parse(dest + 4, host, hostlen, port, HEP_PORT) < 0) {
    snprintf(err, errlen, "hep: dest '%s': expected udp:HOST[:PORT] (HEP goes over UDP)", dest);
    return -1;
  }
  return 0;
}

static int hep_check(tz_modinst_t *mod, char *err, size_t errlen)
{
  const hep_cfg_t *cfg = tz_mod_cfg(mod);
  char host[256];
  unsigned port;
  return hep_dest_parse(cfg->dest, host, sizeof host, &port, err, errlen);
}

/* The collector's address: a name is resolved once, here. */
static int hep_dest_resolve(const char *dest, struct sockaddr_storage *ss,
                            socklen_t *len, char *err, size_t errlen)
{
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *ai;
  char host[256], serv[8];
  unsigned port;
  if (hep_dest_parse(dest, host, sizeof host, &port, err, errlen) < 0)
    return -1;
  snprintf(serv, sizeof serv, "%u", port);
  int rc = getaddrinfo(host, serv, &hints, &ai);
  if (rc) {
    snprintf(err, errlen, "hep: dest '%s': %s", dest, gai_strerror(rc));
    return -1;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

static int hep_register(tz_modinst_t *mod)
{
  int bad = tz_wiretap_add(mod, hep_tap) < 0 ||
            tz_rpc_register(mod, "hep.on", hep_rpc_on, "start capturing") < 0 ||
            tz_rpc_register(mod, "hep.off", hep_rpc_off, "stop capturing") < 0 ||
            tz_rpc_register(mod, "hep.status", hep_rpc_status,
                            "whether capturing, the collector, the queue") < 0;
  return bad ? -1 : 0;
}

static void hep_destroy(tz_modinst_t *mod)
{
  hep_t *h = tz_mod_data(mod);
  hep_sender_stop(h->sender);
  free(h);
  tz_mod_set_data(mod, NULL);
}

static int hep_init(tz_modinst_t *mod, char *err, size_t errlen)
{
  const hep_cfg_t *cfg = tz_mod_cfg(mod);
  struct sockaddr_storage ss;
  socklen_t len;
  hep_t *h = calloc(1, sizeof *h);
  if (!h || hep_dest_resolve(cfg->dest, &ss, &len, err, errlen) < 0 ||
      !(h->sender = hep_sender_start((struct sockaddr *)&ss, len,
                                     (unsigned)cfg->queue, err, errlen)))
    return free(h), -1;
  h->meta = (hep_meta_t){(unsigned)cfg->capture_id, (int)cfg->correlation};
  atomic_init(&h->on, (int)cfg->on);
  h->dropped = tz_stat_get("hep.dropped", "HEP packets dropped: queue full, or too large");
  tz_mod_set_data(mod, h);
  if (hep_register(mod) < 0) {
    snprintf(err, errlen, "hep: out of memory");
    return hep_destroy(mod), -1;
  }
  return 0;
}

static const tz_param_export_t hep_params[] = {
  {.name = "dest", .type = TZ_PARAM_STR, .offset = offsetof(hep_cfg_t, dest),
   .doc = "the collector: udp:HOST[:PORT] (port 9060 by default); required"},
  {.name = "capture_id", .type = TZ_PARAM_INT,
   .offset = offsetof(hep_cfg_t, capture_id), .int_default = 1,
   .max = 2147483647, .doc = "the capture agent id (HEP chunk 0x000c)"},
  {.name = "correlation", .type = TZ_PARAM_INT,
   .offset = offsetof(hep_cfg_t, correlation), .int_default = 1, .max = 1,
   .doc = "1: the Call-ID as correlation id (HEP chunk 0x0011)"},
  {.name = "queue", .type = TZ_PARAM_INT, .offset = offsetof(hep_cfg_t, queue),
   .int_default = 4096, .min = 1, .max = 1048576,
   .doc = "packets waiting for the sender at most; more are dropped (hep.dropped)"},
  {.name = "on", .type = TZ_PARAM_INT, .offset = offsetof(hep_cfg_t, on),
   .int_default = 1, .max = 1,
   .doc = "capture from the start (1) or only after tzctl hep on (0)"},
  {0}
};

const tz_module_t hep_LTX_module = {
  .api_version = TZ_API_VERSION,
  .size = sizeof(tz_module_t),
  .name = "hep",
  .version = "1",
  .description = "HEPv3 capture of every SIP message, to a Homer collector",
  .cfg_size = sizeof(hep_cfg_t),
  .params = hep_params,
  .check = hep_check,
  .init = hep_init,
  .destroy = hep_destroy,
  .flags = TZ_MOD_WORKERS,
};
