/*
 * sip.h - the Sofia nta agent: transports, and the dispatch of received
 * messages into the current generation's script.
 */
#ifndef TZ_SIP_H
#define TZ_SIP_H

#include "runtime/gen.h"
#include "sip/msg.h"

/* Binds every listen address of g (UDP+TCP unless a proto is given).
 * Returns 0, or -1 with a message in err. */
int tz_sip_start(const tz_gen_t *g, char *err, size_t errlen);
void tz_sip_stop(void);

/* Shutdown: lets suspended requests finish for up to max_ms. */
void tz_sip_drain(unsigned max_ms);

nta_agent_t *tz_sip_agent(void);

/* Applies g's agent-wide settings: transaction timers, message size. */
void tz_sip_apply(const tz_gen_t *g);

/* True if msg is over g's max_msg_size and must not be processed. */
int tz_sip_too_large(msg_t *msg, const tz_gen_t *g);

/* Gives the request in m a server transaction (once); NULL on failure. */
nta_incoming_t *tz_sip_transaction(tz_msg_t *m);

/* True if the Via's sent-by is one of our listen addresses. */
int tz_sip_via_is_ours(const sip_via_t *v);

/* "sip:HOST:PORT[;transport=tcp]" of our listen address for a transport
 * ("udp", "tcp", "tls") and address family, for Record-Route. */
int tz_sip_rr_uri(const char *proto, int v6, char *buf, size_t len);

/* The Request-URI as the request arrived, before the script rewrote it. */
const char *tz_msg_received_ruri(tz_msg_t *m);

#endif
