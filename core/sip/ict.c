/*
 * ict.c - a relayed INVITE's client transaction once it has a provisional
 * response over UDP.
 *
 * nta runs every INVITE branch until its first provisional response (100
 * included): it retransmits over UDP, fails over between DNS targets and
 * reports transport errors. From there a client transaction only matches
 * responses, cancels, and ACKs a rejection, so relay.c hands it here and
 * nta frees its own. Left to nta, each relayed INVITE kept its forwarded
 * request and its 2xx for Timer D, a fixed 32 s in Sofia 1.12 whatever the
 * settings: two thirds of the memory a call left behind
 * (doc/architecture.md, "Memory").
 *
 * This file owns, per worker, those transactions: a table by Via branch
 * for the responses nta did not match, and one list of deadlines (Timer C
 * while ringing, the CANCEL's wait, Timer D after a rejection) served by
 * one periodic su_timer while the list is not empty. A 2xx ends the
 * transaction at once (RFC 3261 17.1.1.2): its retransmissions then match
 * nothing and are relayed statelessly, as RFC 6026's Accepted state would
 * relay them, without keeping a message. A rejection is ACKed and stays
 * for fr_timer (Kamailio's wait timer is 5 s too) to ACK retransmissions.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/ict.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "runtime/worker.h"
#include "sip/transport.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport.h>

#define ICT_TICK_MS 200
#define ICT_MIN_BUCKETS 1024

typedef enum ict_state {
  ICT_PROCEEDING, /* Timer C, or the CANCEL's wait once cancelled */
  ICT_COMPLETED   /* rejected and ACKed: Timer D */
} ict_state_t;

struct tz_ict {
  tz_ict_t *hnext;          /* bucket chain */
  tz_ict_t *tprev, *tnext;  /* the deadline list, earliest first */
  ict_state_t state;
  unsigned hash;            /* of the branch */
  uint32_t deadline;        /* su_time_ms() */
  unsigned timer_c, wait;   /* ms */
  msg_t *req;               /* the INVITE as sent: its Via, for CANCEL/ACK */
  tport_t *tp;              /* the transport it went out on */
  tz_ict_f fn;              /* the owner, until the final status */
  void *arg;
  unsigned cancelled : 1;
};

struct tz_ict_worker {
  tz_ict_t **buckets;
  size_t nbuckets, count;
  tz_ict_t *head, *tail; /* deadlines */
  su_timer_t *timer;
  unsigned armed : 1;
};

static struct tz_ict_worker *ict_w(void)
{
  struct tz_ict_worker *iw = tz_worker()->ict;
  assert(iw);
  return iw;
}

static const char *ict_branch(const tz_ict_t *t)
{
  return sip_object(t->req)->sip_via->v_branch;
}

static unsigned ict_hash_str(const char *s)
{
  unsigned h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
  return h;
}

/* ---- the table by branch ---------------------------------------------- */

static tz_ict_t **ict_bucket(struct tz_ict_worker *iw, unsigned hash)
{
  return &iw->buckets[hash & (iw->nbuckets - 1)];
}

/* Doubles the table when it holds more than one per bucket; a table that
 * cannot grow stays as it is, only slower. */
static void ict_grow(struct tz_ict_worker *iw)
{
  size_t n = iw->nbuckets * 2;
  tz_ict_t **b = calloc(n, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < iw->nbuckets; i++)
    for (tz_ict_t *t = iw->buckets[i], *next; t; t = next) {
      next = t->hnext;
      t->hnext = b[t->hash & (n - 1)];
      b[t->hash & (n - 1)] = t;
    }
  free(iw->buckets);
  iw->buckets = b;
  iw->nbuckets = n;
}

static void ict_link(struct tz_ict_worker *iw, tz_ict_t *t)
{
  if (iw->count >= iw->nbuckets)
    ict_grow(iw);
  tz_ict_t **b = ict_bucket(iw, t->hash);
  t->hnext = *b;
  *b = t;
  iw->count++;
}

static void ict_unlink(struct tz_ict_worker *iw, tz_ict_t *t)
{
  tz_ict_t **pp = ict_bucket(iw, t->hash);
  while (*pp != t)
    pp = &(*pp)->hnext;
  *pp = t->hnext;
  assert(iw->count > 0);
  iw->count--;
}

static tz_ict_t *ict_find(struct tz_ict_worker *iw, const char *branch)
{
  unsigned h = ict_hash_str(branch);
  for (tz_ict_t *t = *ict_bucket(iw, h); t; t = t->hnext)
    if (t->hash == h && strcasecmp(ict_branch(t), branch) == 0)
      return t;
  return NULL;
}

/* ---- deadlines ---------------------------------------------------------- */

static uint32_t ict_now(void) { return su_time_ms(su_now()); }

static int ict_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

static void ict_tick(su_root_magic_t *magic, su_timer_t *timer,
                     su_timer_arg_t *arg);

static void ict_unschedule(struct tz_ict_worker *iw, tz_ict_t *t)
{
  if (t->tprev)
    t->tprev->tnext = t->tnext;
  else if (iw->head == t)
    iw->head = t->tnext;
  else
    return; /* not on the list */
  if (t->tnext)
    t->tnext->tprev = t->tprev;
  else
    iw->tail = t->tprev;
  t->tprev = t->tnext = NULL;
}

/* Deadlines mostly arrive in order: the walk from the tail is short. */
static void ict_schedule(tz_ict_t *t, unsigned ms)
{
  struct tz_ict_worker *iw = ict_w();
  ict_unschedule(iw, t);
  t->deadline = ict_now() + ms;
  tz_ict_t *after = iw->tail;
  while (after && ict_before(t->deadline, after->deadline))
    after = after->tprev;
  t->tprev = after;
  t->tnext = after ? after->tnext : iw->head;
  *(t->tnext ? &t->tnext->tprev : &iw->tail) = t;
  *(after ? &after->tnext : &iw->head) = t;
  if (!iw->armed && su_timer_set_for_ever(iw->timer, ict_tick, NULL) == 0)
    iw->armed = 1;
}

static void ict_free(tz_ict_t *t)
{
  struct tz_ict_worker *iw = ict_w();
  ict_unlink(iw, t);
  ict_unschedule(iw, t);
  msg_destroy(t->req);
  tport_unref(t->tp);
  free(t);
}

/* ---- ACK and CANCEL (RFC 3261 17.1.1.3, 9.1) ---------------------------- */

/* Where the INVITE went, as a URI nta sends to without resolving. */
static int ict_dest(const tz_ict_t *t, char *buf, size_t len)
{
  const su_addrinfo_t *ai = msg_addrinfo(t->req);
  const su_sockaddr_t *su = (const su_sockaddr_t *)ai->ai_addr;
  char ip[64];
  if (!su || !su_inet_ntop(su->su_family, SU_ADDR(su), ip, sizeof ip))
    return -1;
  int v6 = su->su_family == AF_INET6;
  int n = snprintf(buf, len, "sip:%s%s%s:%u;transport=udp", v6 ? "[" : "",
                   ip, v6 ? "]" : "", ntohs(su->su_port));
  return n > 0 && (size_t)n < len ? 0 : -1;
}

/* An ACK or CANCEL with the INVITE's Request-URI, From, Call-ID, CSeq
 * number and Route; nta adds the Via, with the INVITE's branch. */
static msg_t *ict_request(const tz_ict_t *t, sip_method_t method,
                          const char *name, const sip_to_t *to)
{
  const sip_t *inv = sip_object(t->req);
  msg_t *msg = nta_msg_create(tz_sip_agent(), 0);
  sip_t *sip = sip_object(msg);
  if (!sip)
    return msg_destroy(msg), NULL;
  su_home_t *home = msg_home(msg);
  sip_request_t *rq = sip_request_create(home, method, name,
                                         (const url_string_t *)inv->sip_request->rq_url,
                                         NULL);
  sip_cseq_t *cs = sip_cseq_create(home, inv->sip_cseq->cs_seq, method, name);
  if (!rq || !cs ||
      sip_add_tl(msg, sip, SIPTAG_REQUEST(rq), SIPTAG_FROM(inv->sip_from),
                 SIPTAG_TO(to), SIPTAG_CALL_ID(inv->sip_call_id), SIPTAG_CSEQ(cs),
                 SIPTAG_ROUTE(inv->sip_route), SIPTAG_MAX_FORWARDS_STR("70"),
                 TAG_END()) < 0)
    return msg_destroy(msg), NULL;
  return msg;
}

static void ict_send_ack(const tz_ict_t *t, const sip_t *resp)
{
  char dest[96];
  msg_t *ack = ict_request(t, sip_method_ack, "ACK", resp->sip_to);
  if (!ack || ict_dest(t, dest, sizeof dest) < 0 ||
      nta_msg_tsend(tz_sip_agent(), ack, (const url_string_t *)dest,
                    NTATAG_BRANCH_KEY(ict_branch(t)), NTATAG_TPORT(t->tp),
                    TAG_END()) < 0) {
    if (ack)
      tz_sip_log(resp, TZ_LOG_ERR, "relay: cannot send ACK for a %d",
             resp->sip_status->st_status);
  }
}

/* The CANCEL is a transaction of its own: nta retransmits it until its
 * answer, which only ends it. */
static int ict_cancel_answered(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                               const sip_t *sip)
{
  (void)magic;
  (void)sip;
  if (nta_outgoing_status(orq) >= 200)
    nta_outgoing_destroy(orq);
  return 0;
}

static void ict_send_cancel(tz_ict_t *t)
{
  char dest[96];
  t->cancelled = 1;
  ict_schedule(t, t->wait); /* then 408 (RFC 3261 16.10) */
  msg_t *cancel = ict_request(t, sip_method_cancel, "CANCEL",
                              sip_object(t->req)->sip_to);
  if (!cancel || ict_dest(t, dest, sizeof dest) < 0 ||
      !nta_outgoing_mcreate(tz_sip_agent(), ict_cancel_answered, NULL,
                            (const url_string_t *)dest, cancel,
                            NTATAG_BRANCH_KEY(ict_branch(t)),
                            NTATAG_TPORT(t->tp), TAG_END())) {
    tz_sip_log(sip_object(t->req), TZ_LOG_ERR, "relay: cannot send CANCEL");
    msg_destroy(cancel);
  }
}

/* ---- responses and timeouts ---------------------------------------------- */

/* The owner hears its final status once; a 2xx ends the transaction, a
 * rejection is ACKed and waits for its retransmissions. */
static void ict_final(tz_ict_t *t, msg_t *resp, int status)
{
  tz_ict_f fn = t->fn;
  void *arg = t->arg;
  assert(t->state == ICT_PROCEEDING && fn);
  t->fn = NULL;
  if (status < 300 || !resp) {
    ict_free(t);
  } else {
    ict_send_ack(t, sip_object(resp));
    t->state = ICT_COMPLETED;
    ict_schedule(t, t->wait);
  }
  fn(arg, resp, status);
}

/* A provisional over 100 starts Timer C again (RFC 3261 16.7 step 2). */
static void ict_ringing(tz_ict_t *t)
{
  if (!t->cancelled)
    ict_schedule(t, t->timer_c);
}

static void ict_on_response(tz_ict_t *t, msg_t *msg, int status)
{
  if (t->state == ICT_COMPLETED) {
    if (status >= 300) /* the rejection again: our ACK was lost */
      ict_send_ack(t, sip_object(msg));
    msg_destroy(msg);
  } else if (status >= 200) {
    ict_final(t, msg, status);
  } else if (status > 100) {
    ict_ringing(t);
    t->fn(t->arg, msg, status);
  } else {
    msg_destroy(msg); /* 100 is hop by hop */
  }
}

int tz_ict_response(msg_t *msg)
{
  struct tz_ict_worker *iw = tz_worker()->ict;
  const sip_t *sip = sip_object(msg);
  if (!iw || !iw->count || !sip || !sip->sip_status || !sip->sip_via ||
      !sip->sip_via->v_branch || !sip->sip_cseq ||
      sip->sip_cseq->cs_method != sip_method_invite)
    return 0;
  tz_ict_t *t = ict_find(iw, sip->sip_via->v_branch);
  if (!t)
    return 0;
  ict_on_response(t, msg, sip->sip_status->st_status);
  return 1;
}

/* Timer C cancels a call that rang too long; a CANCEL nobody answered
 * ends as 408; Timer D ends a rejected one. */
static void ict_expire(tz_ict_t *t)
{
  if (t->state == ICT_COMPLETED)
    ict_free(t);
  else if (!t->cancelled)
    ict_send_cancel(t);
  else
    ict_final(t, NULL, 408);
}

static void ict_tick(su_root_magic_t *magic, su_timer_t *timer,
                     su_timer_arg_t *arg)
{
  (void)magic;
  (void)arg;
  struct tz_ict_worker *iw = ict_w();
  uint32_t now = ict_now();
  while (iw->head && !ict_before(now, iw->head->deadline))
    ict_expire(iw->head); /* each leaves the head: rescheduled or freed */
  if (!iw->head) {
    su_timer_reset(timer);
    iw->armed = 0;
  }
}

/* ---- the owner's side -------------------------------------------------------- */

tz_ict_t *tz_ict_adopt(nta_outgoing_t *orq, tz_ict_f fn, void *arg,
                       unsigned timer_c, unsigned wait)
{
  tz_ict_t *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->req = nta_outgoing_getrequest(orq);
  t->tp = nta_outgoing_transport(orq);
  const sip_t *sip = sip_object(t->req);
  assert(sip && sip->sip_via && sip->sip_via->v_branch);
  t->hash = ict_hash_str(sip->sip_via->v_branch);
  t->fn = fn;
  t->arg = arg;
  t->timer_c = timer_c;
  t->wait = wait;
  ict_link(ict_w(), t);
  ict_schedule(t, timer_c);
  return t;
}

void tz_ict_cancel(tz_ict_t *t)
{
  assert(t->state == ICT_PROCEEDING);
  if (!t->cancelled)
    ict_send_cancel(t);
}

void tz_ict_release(tz_ict_t *t)
{
  assert(t->state == ICT_PROCEEDING && t->fn);
  ict_free(t);
}

int tz_ict_start(void)
{
  tz_worker_t *w = tz_worker();
  struct tz_ict_worker *iw = calloc(1, sizeof *iw);
  if (!iw || !(iw->buckets = calloc(ICT_MIN_BUCKETS, sizeof *iw->buckets)) ||
      !(iw->timer = su_timer_create(su_root_task(tz_loop_root()), ICT_TICK_MS))) {
    if (iw)
      free(iw->buckets);
    free(iw);
    return -1;
  }
  iw->nbuckets = ICT_MIN_BUCKETS;
  w->ict = iw;
  return 0;
}

/* Owners have released theirs; what is left waits only for Timer D. */
void tz_ict_stop(void)
{
  struct tz_ict_worker *iw = tz_worker()->ict;
  if (!iw)
    return;
  while (iw->head) {
    assert(iw->head->state == ICT_COMPLETED);
    ict_free(iw->head);
  }
  assert(iw->count == 0);
  su_timer_destroy(iw->timer);
  free(iw->buckets);
  free(iw);
  tz_worker()->ict = NULL;
}
