/*
 * transport.h - the Sofia nta agent and the transports bound to the
 * listen addresses (transport.c).
 */
#ifndef TZ_TRANSPORT_H
#define TZ_TRANSPORT_H

#include <sofia-sip/nta.h>

#include "runtime/gen.h"

/* Binds every listen address of g (UDP+TCP unless a proto is given);
 * messages that match no transaction go to on_message. Returns 0, or -1
 * with a message in err. */
int tz_sip_start(const tz_gen_t *g, nta_message_f *on_message, char *err,
                 size_t errlen);
void tz_sip_stop(void);

nta_agent_t *tz_sip_agent(void);

/* Applies g's agent-wide settings: transaction timers, message size, to
 * the calling worker's agent; _all: to every worker's, in its thread. */
void tz_sip_apply(const tz_gen_t *g);
void tz_sip_apply_all(tz_gen_t *g);

/* How the calling thread's next bind() goes (the daemon's bind wrapper
 * asks): not one of Sofia's transports (NONE); a transport's socket, alone,
 * or sharing the port with the other workers (SO_REUSEPORT), the first of
 * them making sure no other process has it. */
typedef enum {
  TZ_BIND_NONE = 0,
  TZ_BIND_PLAIN,
  TZ_BIND_SHARED_FIRST,
  TZ_BIND_SHARED
} tz_bind_mode_t;
tz_bind_mode_t tz_sip_bind_mode(void);

/* True if port is one of our UDP ports, shared or a worker's own (worker
 * 0, while workers run). */
int tz_sip_is_udp_port(unsigned port);

/* True if msg is over g's max_msg_size and must not be processed. */
int tz_sip_too_large(msg_t *msg, const tz_gen_t *g);

/* True if the Via's sent-by is one of our listen addresses. */
int tz_sip_via_is_ours(const sip_via_t *v);

/* "sip:HOST:PORT[;transport=tcp]" of our listen address for a transport
 * ("udp", "tcp", "tls") and address family, for Record-Route. */
int tz_sip_rr_uri(const char *proto, int v6, char *buf, size_t len);

#endif
