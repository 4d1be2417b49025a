/*
 * relay.c - the transaction-stateful proxy core (RFC 3261 section 16).
 *
 * A relayed request gets one server transaction (irq) and one client
 * transaction (orq) per branch, tied together by a tz_tx. nta does the
 * transaction layer: retransmissions, timers, the hop-by-hop ACK for
 * non-2xx, CANCEL matching and its 200 -- except that an INVITE branch
 * with a provisional response over UDP moves from nta to ict.c, which
 * frees its messages when it is answered. This file does the proxy's part:
 * preparing each forwarded copy (Max-Forwards, Record-Route, strict
 * routes, a loop-detecting branch), relaying provisionals and every 2xx at
 * once, choosing the best final response when all branches failed, running
 * reply and failure routes, and cancelling what is still pending.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/relay.h"
#include "runtime/gen.h"
#include "script/script.h"
#include "sip/handoff.h"
#include "sip/hooks.h"
#include "sip/ict.h"
#include "sip/respsel.h"
#include "lib/log.h"
#include "runtime/worker.h"
#include "sip/transport.h"
#include "lib/stats.h"
#include "sip/trace.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#define TX_MAX_BRANCHES 16

/* A branch's client transaction is nta's (orq) until an INVITE's first
 * provisional response over UDP (100 included), then ours (ict); neither
 * once the branch is final. */
typedef struct txbranch {
  struct tz_tx *tx;
  nta_outgoing_t *orq;
  tz_ict_t *ict;
  int status;   /* last status seen; >= 200 once final */
  msg_t *final; /* final response kept for selection; NULL if local */
  tz_branch_done_f done; /* the holder's failover hook, or NULL */
  void *done_arg;
  unsigned superseded : 1; /* failed over: not a candidate response */
  unsigned cancelled : 1;  /* CANCEL sent */
} txbranch_t;

/* Where a transaction is in its life. Only relay_set_phase() moves it:
 * RELAYING -> FAILURE_ROUTE -> RELAYING (the route relayed again, or left
 * it to the best response) or ANSWERED; RELAYING -> ANSWERED. */
typedef enum tx_phase {
  TX_RELAYING = 0,  /* no final response upstream yet */
  TX_FAILURE_ROUTE, /* every branch failed and the failure route runs */
  TX_ANSWERED       /* a final response went upstream */
} tx_phase_t;

typedef struct tz_tx {
  struct tz_tx *next, **prevp; /* every live transaction, for shutdown */
  tx_phase_t phase;
  nta_incoming_t *irq;
  msg_t *req;       /* the request as the script left it */
  tz_gen_t *gen;    /* pinned: reply and failure routes run on it */
  const tz_route_t *failure_route;
  sip_method_t method;
  unsigned loop_hash;
  unsigned record_route : 1; /* copies made later (failure route) too */
  unsigned held : 1;       /* a module will still add branches */
  unsigned handed : 1;     /* another worker handed it over: no handoff */
  unsigned pins;           /* code up the stack still uses tx: do not free */
  unsigned in_v6 : 1;      /* the request arrived over IPv6 */
  char in_proto[4];        /* and on this transport */
  unsigned cancelled : 1;
  unsigned nbr;            /* branches started */
  unsigned pending;        /* of them, not final yet */
  char *reply_hdrs; /* append_to_reply() lines, for failure route replies */
  txbranch_t br[TX_MAX_BRANCHES];
} tz_tx_t;

/* The calling worker's transactions. */
struct tz_relay_worker {
  tz_tx_t *live;  /* every live transaction, for shutdown */
  unsigned seq;   /* numbers the branches we send */
};

/* Made by tz_relay_start, gone with tz_relay_shutdown: transactions
 * exist only in between. */
static struct tz_relay_worker *relay_w(void)
{
  struct tz_relay_worker *rw = tz_worker()->relay;
  assert(rw);
  return rw;
}

int tz_relay_start(void)
{
  tz_worker_t *w = tz_worker();
  assert(!w->relay);
  if (!(w->relay = calloc(1, sizeof *w->relay)))
    return -1;
  if (tz_ict_start() == 0)
    return 0;
  free(w->relay);
  w->relay = NULL;
  return -1;
}

static void relay_set_phase(tz_tx_t *tx, tx_phase_t to)
{
  assert(to != tx->phase);
  assert(tx->phase != TX_ANSWERED); /* one final response, then none */
  assert(to != TX_FAILURE_ROUTE || tx->phase == TX_RELAYING);
  tx->phase = to;
}

static int relay_answered(const tz_tx_t *tx) { return tx->phase == TX_ANSWERED; }

/* Code up the stack keeps tx alive across calls that may end it. */
static void relay_pin(tz_tx_t *tx) { tx->pins++; }

static void relay_unpin(tz_tx_t *tx)
{
  assert(tx->pins > 0);
  tx->pins--;
}

/* A branch got its final response (or never started). */
static void relay_branch_final(tz_tx_t *tx)
{
  assert(tx->pending > 0 && tx->pending <= tx->nbr);
  tx->pending--;
}

/* Modules add them in worker 0 (init) while every worker runs them. */
static tz_hooks_t relay_hooks = TZ_HOOKS_INIT;

int tz_relay_hook_add(tz_modinst_t *mod, tz_relay_hook_f fn)
{
  return tz_hooks_add(&relay_hooks, mod, (void (*)(void))fn);
}

void tz_msg_record_route(tz_msg_t *m) { m->flags |= TZ_MSG_RECORD_ROUTE; }

/* ---- loop detection (RFC 3261 16.3 step 4, 16.6 step 8) ------------------ */

static unsigned relay_hash_str(unsigned h, const char *s)
{
  for (; s && *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return (h ^ 0xff) * 16777619u;
}

static unsigned relay_hash_u32(unsigned h, uint32_t v)
{
  for (int i = 0; i < 4; i++, v >>= 8)
    h = (h ^ (v & 0xff)) * 16777619u;
  return h;
}

/* The request's identity as received: a copy that comes back with the
 * same hash looped; a different hash is a legitimate spiral. */
static unsigned relay_loop_hash(tz_msg_t *m)
{
  const sip_t *sip = m->sip;
  unsigned h = 2166136261u;
  h = relay_hash_str(h, tz_msg_received_ruri(m));
  h = relay_hash_str(h, sip->sip_from ? sip->sip_from->a_tag : NULL);
  h = relay_hash_str(h, sip->sip_to ? sip->sip_to->a_tag : NULL);
  h = relay_hash_str(h, sip->sip_call_id ? sip->sip_call_id->i_id : NULL);
  return relay_hash_u32(h, sip->sip_cseq ? sip->sip_cseq->cs_seq : 0);
}

/* Our branches are "z9hG4bK", the request's loop hash in 8 hex digits,
 * ".", a worker's sequence number in hex, ".", the branch's index. Written
 * and read by hand: snprintf() was 1 % of the instructions a relayed call
 * takes (callgrind). */
static char *relay_hex(char *p, unsigned v, int digits)
{
  int n = 1;
  while (n < digits || (n < 8 && v >> (4 * n)))
    n++;
  for (int i = n - 1; i >= 0; i--, v >>= 4)
    p[i] = "0123456789abcdef"[v & 0xf];
  return p + n;
}

static void relay_branch_id(char branch[32], unsigned hash, unsigned seq, unsigned index)
{
  char *p = relay_hex((char *)memcpy(branch, "z9hG4bK", 7) + 7, hash, 8);
  *p++ = '.';
  p = relay_hex(p, seq, 1);
  *p++ = '.';
  p = relay_hex(p, index, 1); /* < TX_MAX_BRANCHES: one hex digit */
  *p = '\0';
}

static int relay_is_loop(const sip_t *sip, unsigned hash)
{
  char prefix[32];
  relay_branch_id(prefix, hash, 0, 0);
  for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
    if (v->v_branch && strncasecmp(v->v_branch, prefix, 16) == 0 &&
        tz_sip_via_is_ours(v))
      return 1;
  return 0;
}

/* ---- route preprocessing (RFC 3261 16.4) --------------------------------- */

/* A URI we put into a Record-Route: one of ours, with no user part. */
static int relay_is_our_rr(const url_t *u)
{
  return u && !u->url_user && tz_is_myself(u);
}

/* A strict router before us put our Record-Route URI into the
 * Request-URI: the real one is the last Route. */
static int relay_undo_strict(msg_t *msg, sip_t *sip)
{
  sip_route_t *last = sip->sip_route;
  while (last->r_next)
    last = last->r_next;
  sip_request_t *rq = sip_request_create(msg_home(msg), sip->sip_request->rq_method,
                                         sip->sip_request->rq_method_name,
                                         (url_string_t *)last->r_url, NULL);
  if (!rq || msg_header_replace(msg, (msg_pub_t *)sip,
                                (msg_header_t *)sip->sip_request,
                                (msg_header_t *)rq) < 0)
    return -1;
  return msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)last);
}

int tz_relay_preprocess(tz_msg_t *m)
{
  sip_t *sip = m->sip;
  if (!sip->sip_route)
    return 0;
  /* Only a URI of ours with ;lr is one we record-routed: a REGISTER for
   * sip:example.test through us as outbound proxy is not a strict route. */
  const url_t *ru = sip->sip_request->rq_url;
  if (relay_is_our_rr(ru) && url_has_param(ru, "lr") &&
      relay_undo_strict(m->msg, sip) < 0)
    return -1;
  while (sip->sip_route && relay_is_our_rr(sip->sip_route->r_url)) {
    msg_header_remove(m->msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_route);
    m->flags |= TZ_MSG_ROUTED;
  }
  return 0;
}

int tz_msg_loose_routed(const tz_msg_t *m)
{
  return (m->flags & TZ_MSG_ROUTED) || (m->sip && m->sip->sip_route);
}

/* ---- preparing a forwarded copy ------------------------------------------ */

static int relay_max_forwards(msg_t *msg, sip_t *sip)
{
  if (!sip->sip_max_forwards)
    return msg_header_add_str(msg, (msg_pub_t *)sip, "Max-Forwards: 70\r\n");
  sip->sip_max_forwards->mf_count--;
  msg_fragment_clear(sip->sip_max_forwards->mf_common);
  return 0;
}

/* RFC 3261 16.6 step 6: a strict router as next hop gets the Request-URI
 * appended as the last Route and becomes the Request-URI itself. */
static int relay_strict_route(msg_t *msg, sip_t *sip)
{
  sip_route_t *r = sip->sip_route;
  if (!r || url_has_param(r->r_url, "lr"))
    return 0;
  su_home_t *home = msg_home(msg);
  sip_route_t *last = sip_route_create(home, sip->sip_request->rq_url, NULL);
  sip_request_t *rq = sip_request_create(home, sip->sip_request->rq_method,
                                         sip->sip_request->rq_method_name,
                                         (url_string_t *)r->r_url, NULL);
  if (!last || !rq ||
      msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)r) < 0 ||
      msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)last) < 0)
    return -1;
  return msg_header_replace(msg, (msg_pub_t *)sip,
                            (msg_header_t *)sip->sip_request,
                            (msg_header_t *)rq);
}

/* The URL nta will send to: $du, else a loose top Route, else the R-URI. */
static const url_t *relay_next_hop(const sip_t *sip, const url_t *dst)
{
  if (dst)
    return dst;
  if (sip->sip_route && url_has_param(sip->sip_route->r_url, "lr"))
    return sip->sip_route->r_url;
  return sip->sip_request->rq_url;
}

static const char *relay_url_proto(const url_t *u)
{
  char tp[16];
  if (u->url_type == url_sips)
    return "tls";
  if (url_param(u->url_params, "transport", tp, sizeof tp) > 0) {
    for (char *p = tp; *p; p++)
      *p = (char)(*p | 0x20);
    return strcmp(tp, "tcp") == 0 ? "tcp" : strcmp(tp, "tls") == 0 ? "tls" : "udp";
  }
  return "udp";
}

/* Where nta must send: the next hop made explicit. RFC 3263 4.1: a sip:
 * URI with a numeric host and no transport means UDP, but nta would take
 * its first listening transport (TLS, if listed first), so say UDP. A
 * name is left to nta's NAPTR/SRV resolution. NULL: let nta decide. */
static const url_t *relay_route_url(msg_t *msg, const url_t *dst)
{
  sip_t *sip = sip_object(msg);
  const url_t *hop = relay_next_hop(sip, dst);
  if (hop->url_type != url_sip || !hop->url_host ||
      url_has_param(hop, "transport") || !host_is_ip_address(hop->url_host))
    return dst;
  url_t *u = url_hdup(msg_home(msg), hop);
  if (!u || url_param_add(msg_home(msg), u, "transport=udp") < 0)
    return dst;
  return u;
}

/* A next hop on a connection another worker accepted: the request goes
 * to that worker instead, which relays it there (handoff.c). A request
 * handed over once is never handed on. */
static const url_t *relay_handoff(msg_t *fwd, const url_t *dst, int handed)
{
  const url_t *hop = relay_next_hop(sip_object(fwd), dst);
  int owner = handed ? -1 : tz_handoff_owner(hop);
  const url_t *to = owner >= 0 ? tz_handoff_mark(fwd, hop, (unsigned)owner) : NULL;
  if (owner >= 0 && !to)
    tz_log(TZ_LOG_WARN, "relay: cannot hand a request to worker %d: out of "
           "memory; sending it myself", owner);
  return to ? to : dst;
}

/* Record-Route (RFC 3261 16.6 step 4) naming the address the next request
 * of the dialog should reach. When the request leaves on another transport
 * or address family than it came in on, two entries (RFC 5658): the top
 * one for the callee's side, the next for the caller's. */
static int relay_record_route(const tz_tx_t *tx, msg_t *msg, sip_t *sip,
                              const url_t *dst)
{
  su_home_t *home = msg_home(msg);
  const url_t *hop = relay_next_hop(sip, dst);
  const char *out_proto = relay_url_proto(hop);
  int out_v6 = hop->url_host && strchr(hop->url_host, ':') != NULL;
  char in_uri[160], out_uri[160];
  if (tz_sip_rr_uri(tx->in_proto, tx->in_v6, in_uri, sizeof in_uri) < 0 ||
      tz_sip_rr_uri(out_proto, out_v6, out_uri, sizeof out_uri) < 0)
    return -1;
  int two = strcmp(in_uri, out_uri) != 0;
  const char *fmt = two ? "<%s;lr;r2=on>" : "<%s;lr>";
  sip_record_route_t *in = sip_record_route_make(home, su_sprintf(home, fmt, in_uri));
  if (!in || msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)in) < 0)
    return -1;
  if (!two)
    return 0;
  sip_record_route_t *out = sip_record_route_make(home, su_sprintf(home, fmt, out_uri));
  return out ? msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)out) : -1;
}

/* One slot's headers into copy. A token list (Supported, Require, Allow,
 * ...) given on several lines has every item in its first field, the
 * others left empty but with their lines' text: only the first is copied,
 * as msg_dup() does, and printed again when it stood for more lines. */
static int relay_copy_slot(msg_t *copy, sip_t *dst, msg_header_t const *h)
{
  msg_header_t **dh = msg_hclass_offset(msg_mclass(copy), (msg_pub_t *)dst, h->sh_class);
  int list = h->sh_class->hc_kind == msg_kind_list;
  if (!dh || !(*dh = list ? msg_header_copy_one(msg_home(copy), h)
                          : msg_header_copy_as(msg_home(copy), h->sh_class, h)))
    return -1;
  if (list && h->sh_next)
    msg_fragment_clear((*dh)->sh_common);
  return 0;
}

/* A request's copy to send on, NULL on error: each header copied, but
 * not the strings or the received text it points to, which the copy keeps
 * alive by a reference to orig. A header left unchanged then goes out as
 * received instead of printed again (tportio.c). The copy has no header
 * chain, so it is sent in the header classes' order as msg_dup()'s deep
 * copy was; Sofia's msg_copy() keeps the received chain instead, where a
 * header inserted later (our Record-Route, a Route from Path) would land
 * above the Vias. */
static msg_t *relay_copy(msg_t *orig)
{
  msg_t *copy = nta_msg_create(tz_sip_agent(), 0);
  sip_t const *src = sip_object(orig);
  sip_t *dst = copy ? sip_object(copy) : NULL;
  if (!dst || !src)
    goto fail;
  msg_header_t *const *sh = (msg_header_t *const *)&src->sip_request;
  msg_header_t *const *end = (msg_header_t *const *)((char const *)src + src->sip_size);
  for (; sh < end; sh++)
    if (*sh && relay_copy_slot(copy, dst, *sh) < 0)
      goto fail;
  msg_set_parent(copy, orig);
  return copy;
fail:
  msg_destroy(copy);
  return NULL;
}

/* A copy of the request for one target; NULL on error. */
static msg_t *relay_prepare(const tz_tx_t *tx, const tz_branch_t *b,
                            const url_t **dst_out)
{
  msg_t *msg = relay_copy(tx->req);
  sip_t *sip = msg ? sip_object(msg) : NULL;
  su_home_t *home = msg ? msg_home(msg) : NULL;
  *dst_out = NULL;
  if (!sip)
    goto fail;
  if (b->uri && strcmp(b->uri, url_as_string(home, sip->sip_request->rq_url))) {
    sip_request_t *rq = sip_request_create(home, sip->sip_request->rq_method,
                                           sip->sip_request->rq_method_name,
                                           URL_STRING_MAKE(b->uri), NULL);
    if (!rq || msg_header_replace(msg, (msg_pub_t *)sip,
                                  (msg_header_t *)sip->sip_request,
                                  (msg_header_t *)rq) < 0)
      goto fail;
  }
  if (b->path) {
    sip_route_t *r = sip_route_make(home, b->path);
    if (!r || msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)r) < 0)
      goto fail;
  }
  if (b->dst && !(*dst_out = url_make(home, b->dst)))
    goto fail;
  if (relay_max_forwards(msg, sip) < 0 || relay_strict_route(msg, sip) < 0)
    goto fail;
  if (tx->record_route && relay_record_route(tx, msg, sip, *dst_out) < 0)
    goto fail;
  return msg;
fail:
  msg_destroy(msg);
  return NULL;
}

/* ---- responses ------------------------------------------------------------ */

/* Runs reply_route on a response; false if the script dropped it. */
static int relay_run_reply_route(tz_tx_t *tx, msg_t *resp)
{
  const tz_route_t *r = tz_script_reply_route(tx->gen->script);
  if (!r)
    return 1;
  tz_msg_t m;
  tz_msg_open(&m, tx->gen, resp, NULL, TZ_ROUTE_REPLY);
  m.tx = tx;
  tz_run_result_t rc = tz_msg_run(&m, r);
  tz_msg_close(&m);
  return rc != TZ_RUN_DROP;
}

/* Sends a downstream response upstream without our Via. */
static void relay_send_upstream(tz_tx_t *tx, msg_t *resp)
{
  sip_t *sip = sip_object(resp);
  if (!sip->sip_via || !sip->sip_via->v_next) {
    msg_destroy(resp); /* only our Via: nowhere to send it */
    return;
  }
  msg_header_remove(resp, (msg_pub_t *)sip, (msg_header_t *)sip->sip_via);
  tz_stats_reply(sip->sip_status->st_status, 1);
  nta_incoming_mreply(tx->irq, resp);
}

/* A response we make ourselves for the transaction. */
static void relay_reply_local(tz_tx_t *tx, int status)
{
  tz_stats_reply(status, 0);
  nta_incoming_treply(tx->irq, status, NULL, TAG_END());
}

static void relay_cancel_branch(txbranch_t *b)
{
  if (b->status >= 200 || b->cancelled)
    return;
  if (b->ict)
    tz_ict_cancel(b->ict);
  else if (b->orq)
    nta_outgoing_tcancel(b->orq, NULL, NULL, TAG_END());
  b->cancelled = 1;
}

static void relay_cancel_pending(tz_tx_t *tx, int except)
{
  for (unsigned i = 0; i < tx->nbr; i++)
    if ((int)i != except)
      relay_cancel_branch(&tx->br[i]);
}

static void relay_unhold(tz_tx_t *tx);

static void relay_tx_free(tz_tx_t *tx)
{
  relay_unhold(tx); /* shutdown: its holder had its time (tz_sip_drain) */
  if ((*tx->prevp = tx->next))
    tx->next->prevp = tx->prevp;
  for (unsigned i = 0; i < tx->nbr; i++) {
    if (tx->br[i].orq)
      nta_outgoing_destroy(tx->br[i].orq);
    if (tx->br[i].ict)
      tz_ict_release(tx->br[i].ict);
    msg_destroy(tx->br[i].final);
  }
  nta_incoming_destroy(tx->irq);
  msg_destroy(tx->req);
  tz_gen_unref(tx->gen);
  free(tx->reply_hdrs);
  free(tx);
  tz_stat_add(tz_st_tx_inflight, -1);
}

/* The best final response (respsel.c), or NULL. */
static txbranch_t *relay_best(tz_tx_t *tx)
{
  tz_resp_cand_t cand[TX_MAX_BRANCHES];
  for (unsigned i = 0; i < tx->nbr; i++) {
    cand[i].status = tx->br[i].status;
    cand[i].superseded = tx->br[i].superseded;
  }
  int best = tz_resp_best(cand, tx->nbr);
  return best < 0 ? NULL : &tx->br[best];
}

int tz_relay_best_status(const tz_msg_t *m)
{
  const txbranch_t *b = m->tx ? relay_best(m->tx) : NULL;
  return b ? b->status : 0;
}

/* The other branches' challenges go into the chosen one (16.7 step 7). */
static void relay_merge_challenges(tz_tx_t *tx, txbranch_t *best, msg_t *out)
{
  msg_t *others[TX_MAX_BRANCHES];
  for (unsigned i = 0; i < tx->nbr; i++)
    others[i] = &tx->br[i] == best ? NULL : tx->br[i].final;
  if (tz_resp_merge_challenges(out, others, tx->nbr) < 0)
    tz_log(TZ_LOG_ERR, "relay: out of memory merging challenges");
}

static void relay_send_best(tz_tx_t *tx)
{
  txbranch_t *best = relay_best(tx);
  relay_set_phase(tx, TX_ANSWERED);
  if (!best) {
    relay_reply_local(tx, 500);
    return;
  }
  int status = tz_resp_upstream_status(best->status);
  if (!best->final || status != best->status) {
    relay_reply_local(tx, status);
    return;
  }
  msg_t *out = best->final;
  best->final = NULL;
  if (tz_resp_is_challenge(status))
    relay_merge_challenges(tx, best, out);
  relay_send_upstream(tx, out);
}

static void relay_run_failure_route(tz_tx_t *tx);

/* Every branch is final and none was a 2xx: the failure route may add
 * branches; otherwise the best response goes upstream. */
static void relay_all_failed(tz_tx_t *tx)
{
  if (tx->failure_route && !tx->cancelled) {
    relay_run_failure_route(tx);
    if (tx->pending || relay_answered(tx))
      return;
  }
  relay_send_best(tx);
}

/* Nothing can change the outcome now: no branch is pending, no failure
 * route runs, no module will add a branch, no code up the stack holds it. */
static int relay_quiet(const tz_tx_t *tx)
{
  return !tx->pending && tx->phase != TX_FAILURE_ROUTE && !tx->held &&
         !tx->pins;
}

static void relay_maybe_done(tz_tx_t *tx)
{
  if (!relay_quiet(tx))
    return;
  if (!relay_answered(tx))
    relay_all_failed(tx);
  if (!tx->pending && relay_answered(tx))
    relay_tx_free(tx);
}

/* The response (resp: as received, NULL for one of nta's or ict's own)
 * as it may go upstream, or NULL. A response with only our Via (a UAS
 * that answered with the CANCEL's Via) or over max_msg_size goes nowhere,
 * but its status still counts: a final one upstream is then one we make
 * ourselves. *dropped: the reply route dropped it. */
static msg_t *relay_response_msg(tz_tx_t *tx, msg_t *resp, int status,
                                 int *dropped)
{
  *dropped = 0;
  const sip_t *sip = resp ? sip_object(resp) : NULL;
  if (resp && (!sip->sip_via->v_next || tz_sip_too_large(resp, tx->gen))) {
    if (sip->sip_via->v_next)
      tz_log(TZ_LOG_NOTICE, "relay: %d response of %lu octets over "
             "max_msg_size: not relayed", status, (unsigned long)msg_size(resp));
    msg_destroy(resp);
    return NULL;
  }
  if (resp && !relay_run_reply_route(tx, resp)) {
    *dropped = 1;
    if (status < 300) { /* a dropped 3xx-6xx still decides the branch */
      msg_destroy(resp);
      return NULL;
    }
  }
  return resp;
}

/* A module holding the transaction hears its branch's outcome; a failed
 * branch it replaced no longer competes for the response upstream. */
static void relay_tell_holder(tz_tx_t *tx, txbranch_t *b, int status)
{
  tz_branch_done_f done = b->done;
  if (!done)
    return;
  b->done = NULL;
  relay_pin(tx);
  if (done(tx, status, b->done_arg) && status >= 300)
    b->superseded = 1;
  relay_unpin(tx);
}

static void relay_final(tz_tx_t *tx, txbranch_t *b, int status, msg_t *resp)
{
  if (b->status < 200)
    relay_branch_final(tx);
  b->status = status;
  relay_tell_holder(tx, b, status);
  if (status < 300) {
    /* Every 2xx goes upstream (RFC 3261 16.7 step 5); the rest stop. */
    if (resp)
      relay_send_upstream(tx, resp);
    if (!relay_answered(tx))
      relay_set_phase(tx, TX_ANSWERED);
    if (tx->method == sip_method_invite)
      relay_cancel_pending(tx, (int)(b - tx->br));
  } else {
    msg_destroy(b->final);
    b->final = resp;
    if (status >= 600 && tx->method == sip_method_invite)
      relay_cancel_pending(tx, (int)(b - tx->br));
  }
  relay_maybe_done(tx);
}

static void relay_branch_response(txbranch_t *b, msg_t *raw, int status)
{
  tz_tx_t *tx = b->tx;
  int dropped;
  msg_t *resp = relay_response_msg(tx, raw, status, &dropped);
  if (status >= 200) {
    relay_final(tx, b, status, resp);
    return;
  }
  if (!dropped) /* a dropped provisional is as if it never came */
    b->status = status;
  if (resp && !relay_answered(tx))
    relay_send_upstream(tx, resp);
  else
    msg_destroy(resp);
}

static void relay_on_ict(void *arg, msg_t *resp, int status)
{
  txbranch_t *b = arg;
  if (status >= 200)
    b->ict = NULL; /* it calls no more */
  relay_branch_response(b, resp, status);
}

/* An INVITE branch answered provisionally over UDP (100 too: nta passes
 * it to us for this), not cancelled, goes to ict.c, and nta frees its
 * transaction now, not 32 s after the answer. Over TCP and TLS nta ends it
 * on the final response itself. */
static void relay_adopt(tz_tx_t *tx, txbranch_t *b, const sip_t *sip)
{
  if (tx->method != sip_method_invite || b->cancelled || b->status >= 200 ||
      !sip->sip_via || !su_casematch(sip->sip_via->v_protocol, sip_transport_udp))
    return;
  tz_ict_t *ict = tz_ict_adopt(b->orq, relay_on_ict, b, tx->gen->fr_inv_timer,
                               tx->gen->fr_timer);
  if (!ict)
    return;
  nta_outgoing_destroy(b->orq);
  b->orq = NULL;
  b->ict = ict;
}

static int relay_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                             const sip_t *sip)
{
  txbranch_t *b = (txbranch_t *)magic;
  int status = nta_outgoing_status(orq);
  msg_t *raw = sip && !nta_sip_is_internal(sip) ? nta_outgoing_getresponse(orq)
                                                : NULL;
  if (raw && status < 200)
    relay_adopt(b->tx, b, sip);
  if (status == 100) { /* hop by hop: wanted only for the adoption */
    msg_destroy(raw);
    return 0;
  }
  relay_branch_response(b, raw, status);
  return 0;
}

/* CANCEL matched our INVITE's server transaction: nta answered it 200;
 * we cancel every pending branch, whose 487 then goes upstream. */
static int relay_on_cancel(nta_incoming_magic_t *magic, nta_incoming_t *irq,
                           const sip_t *sip)
{
  (void)irq;
  tz_tx_t *tx = (tz_tx_t *)magic;
  if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_cancel) {
    tx->cancelled = 1;
    relay_cancel_pending(tx, -1);
  }
  return 0;
}

/* ---- starting branches ------------------------------------------------------ */

/* The branch is registered before nta sees it: a send that fails at once
 * reports its 503 from inside nta_outgoing_mcreate(). */
static int relay_start_branch(tz_tx_t *tx, const tz_branch_t *b,
                              tz_branch_done_f done, void *arg)
{
  if (tx->nbr == TX_MAX_BRANCHES) {
    tz_sip_log(sip_object(tx->req), TZ_LOG_WARN,
               "relay: more than %d branches; %s not tried",
           TX_MAX_BRANCHES, b->uri);
    return -1;
  }
  const url_t *dst;
  msg_t *fwd = relay_prepare(tx, b, &dst);
  if (!fwd)
    return -1;
  dst = relay_handoff(fwd, relay_route_url(fwd, dst), tx->handed);
  txbranch_t *br = &tx->br[tx->nbr++];
  memset(br, 0, sizeof *br);
  br->tx = tx;
  br->done = done;
  br->done_arg = arg;
  tx->pending++;
  char branch[32];
  relay_branch_id(branch, tx->loop_hash, ++relay_w()->seq, tx->nbr - 1);
  relay_pin(tx);
  br->orq = nta_outgoing_mcreate(tz_sip_agent(), relay_on_response,
                                 (nta_outgoing_magic_t *)br,
                                 (const url_string_t *)dst, fwd,
                                 NTATAG_BRANCH_KEY(branch),
                                 TAG_IF(tx->method == sip_method_invite,
                                        NTATAG_PASS_100(1)),
                                 TAG_END());
  relay_unpin(tx);
  if (!br->orq) {
    msg_destroy(fwd); /* nta keeps it only once it made the transaction */
    tz_sip_log(sip_object(tx->req), TZ_LOG_ERR, "relay: cannot send to %s",
               b->uri ? b->uri : "R-URI");
    relay_branch_final(tx);
    tx->nbr--;
    return -1;
  }
  return 0;
}

/* The R-URI with $du, then every branch lookup() or the script added. */
static unsigned relay_start_all(tz_tx_t *tx, tz_msg_t *m)
{
  unsigned started = 0;
  tz_branch_t first = {NULL, m->dst, NULL, -1};
  started += relay_start_branch(tx, &first, NULL, NULL) == 0;
  for (unsigned i = 0; i < m->nbranches; i++)
    started += relay_start_branch(tx, &m->branches[i], NULL, NULL) == 0;
  m->nbranches = 0;
  m->dst = NULL;
  return started;
}

static void relay_run_failure_route(tz_tx_t *tx)
{
  const tz_route_t *r = tx->failure_route;
  tx->failure_route = NULL; /* once per arming, as in Kamailio */
  relay_set_phase(tx, TX_FAILURE_ROUTE);
  tz_msg_t m;
  tz_msg_open(&m, tx->gen, tx->req, tx->irq, TZ_ROUTE_FAILURE);
  m.tx = tx;
  m.reply_hdrs = tx->reply_hdrs;
  if (tx->record_route)
    m.flags |= TZ_MSG_RECORD_ROUTE;
  m.reply_status = tz_relay_best_status(&m);
  /* Whatever the route did not settle (an error, a drop, nothing), the
   * best response settles once it ends. */
  tz_msg_run(&m, r);
  if (m.failure_route)
    tx->failure_route = m.failure_route;
  relay_set_phase(tx, m.disp == TZ_DISP_REPLIED ? TX_ANSWERED : TX_RELAYING);
  tz_msg_close(&m);
}

/* ---- entry points ------------------------------------------------------------ */

static int relay_stateless(tz_msg_t *m)
{
  msg_t *fwd = relay_copy(m->msg);
  sip_t *sip = fwd ? sip_object(fwd) : NULL;
  if (!sip || relay_max_forwards(fwd, sip) < 0 || relay_strict_route(fwd, sip) < 0) {
    msg_destroy(fwd);
    return -1;
  }
  const url_t *dst = relay_route_url(fwd, m->dst ? url_make(msg_home(fwd), m->dst) : NULL);
  dst = relay_handoff(fwd, dst, (m->flags & TZ_MSG_HANDED) != 0);
  return nta_msg_tsend(tz_sip_agent(), fwd, (const url_string_t *)dst, TAG_END()) < 0
             ? -1
             : 1;
}

static int relay_refuse(tz_msg_t *m, int status, const char *reason)
{
  tz_msg_reply(m, status, reason, NULL);
  return -1;
}

/* A new transaction for a request from the request route. */
static tz_tx_t *relay_tx_new(tz_msg_t *m)
{
  tz_tx_t *tx = calloc(1, sizeof *tx);
  if (tx && m->reply_hdrs && !(tx->reply_hdrs = strdup(m->reply_hdrs))) {
    free(tx);
    tx = NULL;
  }
  nta_incoming_t *irq = tx ? tz_sip_transaction(m) : NULL;
  if (!irq) {
    if (tx)
      free(tx->reply_hdrs);
    free(tx);
    return NULL;
  }
  tz_stat_add(tz_st_tx_inflight, 1);
  struct tz_relay_worker *rw = relay_w();
  if ((tx->next = rw->live))
    rw->live->prevp = &tx->next;
  tx->prevp = &rw->live;
  rw->live = tx;
  tx->pins = 1; /* the script run that made it; see tz_relay_script_done */
  tx->irq = irq;
  tx->req = msg_ref_create(m->msg);
  tx->gen = tz_gen_ref(m->gen);
  tx->method = m->sip->sip_request->rq_method;
  tx->loop_hash = relay_loop_hash(m);
  tx->failure_route = m->failure_route;
  tx->record_route = (m->flags & TZ_MSG_RECORD_ROUTE) != 0;
  tx->handed = (m->flags & TZ_MSG_HANDED) != 0;
  tx->in_v6 = strchr(m->src_ip, ':') != NULL;
  snprintf(tx->in_proto, sizeof tx->in_proto, "%s", m->proto);
  m->tx = tx;
  tz_msg_dispose(m, TZ_DISP_RELAYED);
  if (tx->method == sip_method_invite) {
    nta_incoming_bind(irq, relay_on_cancel, (nta_incoming_magic_t *)tx);
    relay_reply_local(tx, 100);
  }
  return tx;
}

/* The checks before a request becomes ours to relay (RFC 3261 16.3), then
 * its transaction. NULL when refused; the refusal was answered. */
static tz_tx_t *relay_open(tz_msg_t *m)
{
  sip_t *sip = m->sip;
  if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0)
    return relay_refuse(m, 483, "Too Many Hops"), NULL;
  if (tz_hooks_any(&relay_hooks)) {
    tz_hooks_read(&relay_hooks);
    for (tz_hook_t *h = relay_hooks.head; h; h = h->next)
      if (tz_gen_has_module(m->gen, h->mod)) /* not a retiring generation's */
        ((tz_relay_hook_f)h->fn)(h->mod, m);
    tz_hooks_done(&relay_hooks);
  }
  if (relay_is_loop(sip, relay_loop_hash(m)))
    return relay_refuse(m, 482, "Loop Detected"), NULL;
  tz_tx_t *tx = relay_tx_new(m);
  if (!tx)
    relay_refuse(m, 500, "Server Internal Error");
  return tx;
}

static int relay_usable(const tz_msg_t *m)
{
  return m->sip && m->sip->sip_request &&
         (m->disp == TZ_DISP_OPEN || m->disp == TZ_DISP_RELAYED);
}

int tz_relay(tz_msg_t *m)
{
  if (!relay_usable(m))
    return -1;
  sip_method_t method = m->sip->sip_request->rq_method;
  if (method == sip_method_ack || method == sip_method_cancel) {
    /* 2xx ACK, or a CANCEL matching nothing here: end to end */
    const sip_max_forwards_t *mf = m->sip->sip_max_forwards;
    return mf && mf->mf_count == 0 ? -1 : relay_stateless(m);
  }
  tz_tx_t *tx = m->tx;
  if (!tx && !(tx = relay_open(m)))
    return -1;
  if (relay_answered(tx))
    return -1; /* relayed before, and already answered: nothing to add */
  if (m->route_kind == TZ_ROUTE_FAILURE && m->failure_route)
    tx->failure_route = m->failure_route;
  if (relay_start_all(tx, m) == 0) {
    if (m->route_kind == TZ_ROUTE_REQUEST)
      relay_send_best(tx); /* no branch: 500; tz_relay_script_done ends it */
    return -1;
  }
  return 1;
}

void tz_relay_script_done(tz_msg_t *m)
{
  tz_tx_t *tx = m->tx;
  if (!tx || m->route_kind != TZ_ROUTE_REQUEST)
    return;
  m->tx = NULL;
  relay_unpin(tx);
  relay_maybe_done(tx);
}

/* Shutdown: branches still pending are cancelled and their holders told
 * (503), callers still waiting get 503, and every transaction lets go of
 * its generation so modules can be destroyed. */
void tz_relay_shutdown(void)
{
  struct tz_relay_worker *rw = tz_worker()->relay;
  if (!rw)
    return;
  while (rw->live) {
    tz_tx_t *tx = rw->live;
    tx->cancelled = 1;
    relay_pin(tx);
    for (unsigned i = 0; i < tx->nbr; i++) {
      txbranch_t *b = &tx->br[i];
      tz_branch_done_f done = b->status < 200 ? b->done : NULL;
      b->done = NULL;
      if (done)
        done(tx, 503, b->done_arg);
    }
    if (!relay_answered(tx))
      relay_reply_local(tx, 503);
    relay_tx_free(tx);
  }
  tz_ict_stop();
  free(rw);
  tz_worker()->relay = NULL;
}

tz_relay_t *tz_relay_hold(tz_msg_t *m)
{
  if (!relay_usable(m) || m->tx || m->route_kind != TZ_ROUTE_REQUEST ||
      m->sip->sip_request->rq_method == sip_method_ack ||
      m->sip->sip_request->rq_method == sip_method_cancel)
    return NULL;
  tz_tx_t *tx = relay_open(m);
  if (tx) {
    tx->held = 1;
    tz_worker()->nheld++;
  }
  return tx;
}

int tz_relay_branch(tz_relay_t *tx, const char *dst, tz_branch_done_f done,
                    void *arg)
{
  tz_branch_t b = {NULL, dst, NULL, -1};
  if (tx->cancelled || relay_answered(tx))
    return -1;
  relay_pin(tx);
  int rc = relay_start_branch(tx, &b, done, arg);
  relay_unpin(tx);
  if (rc == 0)
    relay_maybe_done(tx); /* it may have failed at once */
  return rc;
}

int tz_relay_cancelled(const tz_relay_t *tx) { return tx->cancelled; }

static void relay_unhold(tz_tx_t *tx)
{
  if (!tx->held)
    return;
  tx->held = 0;
  assert(tz_worker()->nheld > 0);
  tz_worker()->nheld--;
}

void tz_relay_release(tz_relay_t *tx, int status)
{
  relay_unhold(tx);
  if (tx->nbr == 0) {
    /* a local branch, so selection and the failure route see status */
    tx->br[0].tx = tx;
    tx->br[0].status = status >= 300 ? status : 500;
    tx->nbr = 1;
  }
  relay_maybe_done(tx);
}

int tz_forward(tz_msg_t *m)
{
  if (!m->sip || !m->sip->sip_request || m->disp == TZ_DISP_SUSPENDED)
    return -1;
  if (m->sip->sip_max_forwards && m->sip->sip_max_forwards->mf_count == 0)
    return relay_refuse(m, 483, "Too Many Hops");
  return relay_stateless(m);
}

void tz_relay_stray_response(msg_t *msg)
{
  sip_t *sip = sip_object(msg);
  if (!sip || !sip->sip_via || !tz_sip_via_is_ours(sip->sip_via)) {
    msg_destroy(msg);
    return;
  }
  if (tz_ict_response(msg))
    return;
  if (!sip->sip_via->v_next) {
    msg_destroy(msg);
    return;
  }
  tz_msg_t m;
  tz_msg_open(&m, tz_gen_current(), msg, NULL, TZ_ROUTE_REPLY);
  tz_run_result_t rc = tz_msg_run(&m, tz_script_reply_route(m.gen->script));
  tz_msg_close(&m);
  if (rc == TZ_RUN_DROP) {
    msg_destroy(msg);
    return;
  }
  nta_msg_tsend(tz_sip_agent(), msg, NULL, TAG_END());
}

/* ---- script functions ------------------------------------------------------ */

int tz_relay_fn_t_relay(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  return tz_relay(m);
}

int tz_relay_fn_forward(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  return tz_forward(m);
}

int tz_relay_fn_t_on_failure(tz_msg_t *m, const tz_call_t *c)
{
  m->failure_route = c->argv[0].fixed;
  if (m->tx && m->route_kind == TZ_ROUTE_FAILURE)
    m->tx->failure_route = m->failure_route;
  return 1;
}

int tz_relay_fn_t_check_status(tz_msg_t *m, const tz_call_t *c)
{
  char code[8];
  int status = m->route_kind == TZ_ROUTE_FAILURE ? m->reply_status
               : m->sip && m->sip->sip_status ? m->sip->sip_status->st_status
                                              : 0;
  snprintf(code, sizeof code, "%d", status);
  return status && regexec(c->argv[0].re, code, 0, NULL, 0) == 0 ? 1 : -1;
}

int tz_relay_fn_maxfwd_check(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  const sip_max_forwards_t *mf = m->sip ? m->sip->sip_max_forwards : NULL;
  return mf && mf->mf_count == 0 ? -1 : 1;
}
