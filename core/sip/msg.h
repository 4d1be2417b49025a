/*
 * msg.h - the per-message context a script runs on (struct tz_msg), the
 * one route runner every script run goes through, replies, and suspended
 * requests (msg.c).
 *
 * Core-internal: modules see tz_msg_t only through trapezoid.h. One context
 * lives for one script run: tz_msg_open pins its generation, tz_msg_run
 * runs a route on it (trace filter, script, error count), tz_msg_close
 * lets go of the generation and frees the run's scratch home.
 */
#ifndef TZ_MSG_H
#define TZ_MSG_H

#include <trapezoid/trapezoid.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/tport.h>

#include "runtime/gen.h"
#include "script/script.h"

/* Facts about the message, independent of each other. */
enum tz_msg_flag {
  TZ_MSG_RECORD_ROUTE = 1u << 0, /* insert Record-Route when relaying */
  TZ_MSG_ROUTED = 1u << 1,       /* our own Route entry was removed */
  TZ_MSG_HANDED = 1u << 2        /* another worker handed it over */
};

/* What became of a request under the script: one state, changed only by
 * tz_msg_dispose(), and only away from OPEN. */
typedef enum tz_disposition {
  TZ_DISP_OPEN = 0,  /* the script may still reply, relay or suspend it */
  TZ_DISP_REPLIED,   /* a final reply was sent */
  TZ_DISP_RELAYED,   /* a transaction relays it (and answers it) */
  TZ_DISP_SUSPENDED, /* a tz_suspended_t owns it */
  TZ_DISP_DROPPED    /* the script said drop */
} tz_disposition_t;

struct tz_tx;

typedef struct tz_branch {
  const char *uri, *dst, *path; /* in the message's scratch home */
  int q;
} tz_branch_t;

struct tz_msg {
  msg_t *msg;              /* the message under the script */
  sip_t *sip;
  nta_incoming_t *irq;     /* server transaction; NULL in reply routes */
  su_home_t home[1];       /* scratch for this run */
  tz_gen_t *gen;           /* generation the run belongs to (pinned) */
  unsigned route_kind;     /* enum tz_route_kind of the running route */
  unsigned flags;          /* enum tz_msg_flag */
  tz_disposition_t disp;
  char src_ip[64];         /* source address, no brackets for IPv6 */
  unsigned src_port;
  const char *proto;       /* "udp", "tcp", "tls" */
  char socket[80];         /* local socket: "udp:127.0.0.1:5060" */
  const char *dst;         /* $du: next hop overriding the R-URI, or NULL */
  const char *orig_ruri;   /* R-URI as received, saved on first rewrite */
  tz_branch_t branches[TZ_MAX_BRANCHES];
  unsigned nbranches;
  struct tz_tx *tx;        /* the relaying transaction, once there is one */
  const tz_route_t *failure_route; /* armed by t_on_failure() */
  int reply_status;        /* failure routes: the winning final status */
  const char *reply_hdrs;  /* append_to_reply(): "Name: value\r\n" lines for
                              every reply made for this request, or NULL */
};

/* Sets up a context for msg (borrowed) on generation gen, which it pins. */
void tz_msg_open(tz_msg_t *m, tz_gen_t *gen, msg_t *msg, nta_incoming_t *irq,
                 unsigned route_kind);
/* Runs route r (NULL: nothing) of m's generation on m; a drop of a
 * request that is still open becomes its disposition. */
tz_run_result_t tz_msg_run(tz_msg_t *m, const tz_route_t *r);
/* trapezoid --test: f sees every route run, after it ran (NULL: none). */
typedef void (*tz_msg_observer_f)(const tz_msg_t *m, const tz_route_t *r,
                                  tz_run_result_t rc);
void tz_msg_observe(tz_msg_observer_f f);
/* Frees the run's scratch and unpins the generation. */
void tz_msg_close(tz_msg_t *m);

/* The one place a request's disposition changes (from OPEN). */
void tz_msg_dispose(tz_msg_t *m, tz_disposition_t d);

/* Adds "Name: value\r\n" lines to every reply made for the request from
 * now on (append_to_reply). Returns 0 or -1. */
int tz_msg_append_to_reply(tz_msg_t *m, const char *lines);

/* The Request-URI as the request arrived, before the script rewrote it. */
const char *tz_msg_received_ruri(tz_msg_t *m);

/* Gives the request in m a server transaction (once); NULL on failure. */
nta_incoming_t *tz_sip_transaction(tz_msg_t *m);

/* A reply made from the request alone, no transaction kept; out of tp,
 * or (NULL) the socket nta is delivering req from. */
int tz_sip_reply_stateless(msg_t *req, tport_t *tp, int status,
                           const char *reason, const char *extra_headers);

/* Shutdown: lets suspended requests and held relays finish for up to
 * max_ms. */
void tz_sip_drain(unsigned max_ms);

#endif
