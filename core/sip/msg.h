/*
 * msg.h - the per-message context a script runs on (struct tz_msg).
 *
 * Core-internal: modules see tz_msg_t only through trapezoid.h. One context
 * lives for one script run; its scratch home is freed when the run ends.
 */
#ifndef TZ_MSG_H
#define TZ_MSG_H

#include <trapezoid/trapezoid.h>
#include <sofia-sip/nta.h>

struct tz_gen;

enum tz_msg_flag {
  TZ_MSG_REPLIED = 1u << 0, /* a final reply was sent for the request */
  TZ_MSG_DROPPED = 1u << 1, /* the script said drop */
  TZ_MSG_TRACE = 1u << 2,   /* log every executed script statement */
  TZ_MSG_SUSPENDED = 1u << 3, /* a tz_suspended_t owns the transaction now */
  TZ_MSG_RECORD_ROUTE = 1u << 4, /* insert Record-Route when relaying */
  TZ_MSG_RELAYED = 1u << 5,     /* a transaction relays the request now */
  TZ_MSG_ROUTED = 1u << 6       /* our own Route entry was removed */
};

struct tz_tx;
struct tz_route;

typedef struct tz_branch {
  const char *uri, *dst, *path; /* in the message's scratch home */
  int q;
} tz_branch_t;

struct tz_msg {
  msg_t *msg;              /* the message under the script */
  sip_t *sip;
  nta_incoming_t *irq;     /* server transaction; NULL in reply routes */
  su_home_t home[1];       /* scratch for this run */
  struct tz_gen *gen;      /* generation the run belongs to (pinned) */
  unsigned route_kind;     /* enum tz_route_kind of the running route */
  unsigned flags;          /* enum tz_msg_flag */
  char src_ip[64];         /* source address, no brackets for IPv6 */
  unsigned src_port;
  const char *proto;       /* "udp", "tcp", "tls" */
  char socket[80];         /* local socket: "udp:127.0.0.1:5060" */
  const char *dst;         /* $du: next hop overriding the R-URI, or NULL */
  const char *orig_ruri;   /* R-URI as received, saved on first rewrite */
  tz_branch_t branches[TZ_MAX_BRANCHES];
  unsigned nbranches;
  struct tz_tx *tx;        /* the relaying transaction, once there is one */
  const struct tz_route *failure_route; /* armed by t_on_failure() */
  int reply_status;        /* failure routes: the winning final status */
  const char *reply_hdrs;  /* append_to_reply(): "Name: value\r\n" lines for
                              every reply made for this request, or NULL */
  tz_val_t *vars;          /* $var() slots, allocated by the interpreter */
  size_t nvars;
};

/* Sets up a context for a received message; msg is borrowed. */
void tz_msg_init(tz_msg_t *m, struct tz_gen *gen, msg_t *msg,
                 nta_incoming_t *irq, unsigned route_kind);
void tz_msg_deinit(tz_msg_t *m);

/* Adds "Name: value\r\n" lines to every reply made for the request from
 * now on (append_to_reply). Returns 0 or -1. */
int tz_msg_append_to_reply(tz_msg_t *m, const char *lines);

#endif
