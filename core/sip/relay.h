/*
 * relay.h - transaction-stateful proxying (RFC 3261 section 16) on nta:
 * one server transaction, one client transaction per branch, response
 * selection, CANCEL, failure routes; plus stateless forwarding.
 */
#ifndef TZ_RELAY_H
#define TZ_RELAY_H

#include "sip/msg.h"

/* Relays the request in m statefully to its R-URI/$du and its branches
 * (in request and failure routes). ACK and unmatched CANCEL are forwarded
 * statelessly. Returns 1, or -1 after logging (and answering 500/483/482
 * when the request cannot go anywhere). */
int tz_relay(tz_msg_t *m);

/* RFC 3261 16.4, for every request before the script sees it: undoes a
 * strict router's rewrite and removes our own entries from the top of the
 * Route set (preloaded or record-routed). Returns 0 or -1. */
int tz_relay_preprocess(tz_msg_t *m);

/* The request route that relayed m has ended: the transaction may now
 * complete (a relay whose branches all failed at once ends here). */
void tz_relay_script_done(tz_msg_t *m);

/* Gives the calling worker its transaction table (before any relay). */
int tz_relay_start(void);
/* Ends every live transaction (server shutdown) and the table. */
void tz_relay_shutdown(void);

/* Forwards the request statelessly (no transaction, no failover). */
int tz_forward(tz_msg_t *m);

/* Relays a response that matched no client transaction (a 2xx
 * retransmission after its transaction ended, or a response to a
 * statelessly forwarded request) if its top Via is ours. Takes msg. */
void tz_relay_stray_response(msg_t *msg);

/* For failure routes: the status the transaction would relay now. */
int tz_relay_best_status(const tz_msg_t *m);

/* Script built-ins implemented here (in tz_sip_funcs, builtins.c). */
int tz_relay_fn_t_relay(tz_msg_t *m, const tz_call_t *c);
int tz_relay_fn_forward(tz_msg_t *m, const tz_call_t *c);
int tz_relay_fn_t_on_failure(tz_msg_t *m, const tz_call_t *c);
int tz_relay_fn_t_check_status(tz_msg_t *m, const tz_call_t *c);
int tz_relay_fn_maxfwd_check(tz_msg_t *m, const tz_call_t *c);

#endif
