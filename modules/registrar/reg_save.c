/*
 * reg_save.c - RFC 3261 section 10.3: turns one REGISTER into the AOR's
 * complete new binding set, or into the error reply the RFC prescribes.
 *
 * Every check runs before anything changes, so a REGISTER either applies
 * all of its Contacts or none of them. Step 7: a binding with the same
 * Call-ID is updated only by a higher CSeq; otherwise the whole request
 * fails with 500 "Stale CSeq" (the RFC names no code; 500 tells the UA to
 * try again later, which with a fresh CSeq works). The one exception is a
 * retransmission of the very request that wrote the binding (same top Via
 * branch and sent-by, RFC 3261 17.2.3): REGISTERs are answered without a
 * server transaction, so retransmissions reach us, and they get the same
 * 200 again with nothing changed.
 *
 * Locking rule: no state here. registrar.c holds the AOR's lock from
 * reg_compute's lookup until the store has the new set.
 */
#define _POSIX_C_SOURCE 200809L
#include "reg.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

/* Extensions we implement; anything else in Require gets 420. */
static const char *const reg_supported[] = {"path", NULL};

int reg_aor_of(const reg_cfg_t *cfg, const url_t *url, char *buf, size_t len)
{
  if (!url || !url->url_host ||
      (url->url_type != url_sip && url->url_type != url_sips))
    return -1;
  int n = cfg->use_domain || !url->url_user
              ? snprintf(buf, len, "%s%s%s", url->url_user ? url->url_user : "",
                         url->url_user ? "@" : "", url->url_host)
              : snprintf(buf, len, "%s", url->url_user);
  if (n < 0 || (size_t)n >= len)
    return -1;
  /* hosts compare without case, users with */
  char *host = !url->url_user ? buf : cfg->use_domain ? strrchr(buf, '@') : NULL;
  for (char *p = host; p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return 0;
}

/* The request's transaction (RFC 3261 17.2.3): top Via branch and
 * sent-by. */
static char *reg_txkey(su_home_t *home, const sip_via_t *v)
{
  if (!v)
    return NULL;
  return su_sprintf(home, "%s %s%s%s", v->v_branch ? v->v_branch : "",
                    v->v_host, v->v_port ? ":" : "", v->v_port ? v->v_port : "");
}

static int reg_fail(tz_msg_t *m, int status, const char *reason,
                    const char *hdrs)
{
  tz_msg_reply(m, status, reason, hdrs);
  return -1;
}

/* Step 2: 420 with an Unsupported header naming what we lack. */
static int reg_check_require(tz_msg_t *m, const sip_t *sip)
{
  char bad[256] = "";
  for (const sip_require_t *r = sip->sip_require; r; r = r->k_next)
    for (msg_param_t const *it = r->k_items; it && *it; it++) {
      int ok = 0;
      for (const char *const *s = reg_supported; *s && !ok; s++)
        ok = strcasecmp(*it, *s) == 0;
      if (!ok)
        snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "%s%s",
                 bad[0] ? ", " : "", *it);
    }
  if (!bad[0])
    return 0;
  char hdr[300];
  snprintf(hdr, sizeof hdr, "Unsupported: %s\r\n", bad);
  return reg_fail(m, 420, "Bad Extension", hdr);
}

/* Step 3/5: the To URI names the AOR, which must be in a domain we
 * serve: one of ours, or the host the REGISTER was sent to. */
static int reg_check_aor(const reg_cfg_t *cfg, tz_msg_t *m, const sip_t *sip,
                         reg_change_t *ch)
{
  char aor[512];
  if (!sip->sip_to || reg_aor_of(cfg, sip->sip_to->a_url, aor, sizeof aor) < 0)
    return reg_fail(m, 400, "Bad To Header", NULL);
  const url_t *to = sip->sip_to->a_url;
  const url_t *ru = sip->sip_request->rq_url;
  if (!tz_is_myself(to) &&
      !(ru->url_host && strcasecmp(ru->url_host, to->url_host) == 0))
    return reg_fail(m, 404, "Not Found", NULL);
  ch->aor = su_strdup(tz_msg_home(m), aor);
  return ch->aor ? 0 : reg_fail(m, 500, "Out Of Memory", NULL);
}

/* Step 6: Contact parameter over Expires header over the default. A value
 * that does not parse counts as absent. */
static long reg_expires(const reg_cfg_t *cfg, const sip_t *sip,
                        const sip_contact_t *c)
{
  if (c->m_expires) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(c->m_expires, &end, 10);
    if (!errno && end != c->m_expires && !*end)
      return v > 0x7fffffffUL ? 0x7fffffffL : (long)v;
  }
  if (sip->sip_expires)
    return (long)sip->sip_expires->ex_delta;
  return cfg->default_expires;
}

/* "0.5" -> 500; -1 when absent or malformed. */
static int reg_q(const char *q)
{
  if (!q)
    return -1;
  char *end;
  double v = strtod(q, &end);
  if (end == q || *end || v < 0 || v > 1)
    return -1;
  return (int)(v * 1000 + 0.5);
}

static char *reg_join_path(su_home_t *home, const sip_t *sip)
{
  char *out = NULL;
  for (const sip_path_t *p = sip->sip_path; p; p = p->r_next) {
    char *one = sip_header_as_string(home, (const sip_header_t *)p);
    if (!one)
      return NULL;
    out = out ? su_sprintf(home, "%s, %s", out, one) : one;
  }
  return out;
}

static char *reg_param(su_home_t *home, const sip_contact_t *c,
                       const char *name)
{
  const char *v = msg_params_find(c->m_params, name);
  if (!v)
    return NULL;
  size_t n = strlen(v);
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
    return su_strndup(home, v + 1, n - 2);
  return su_strdup(home, v);
}

static void reg_fill(tz_msg_t *m, const sip_t *sip, const sip_contact_t *c,
                     long expires, long now, const reg_change_t *ch,
                     tz_binding_t *b)
{
  const char *path = ch->path, *txkey = ch->txkey;
  su_home_t *home = tz_msg_home(m);
  const char *ip = tz_msg_src_ip(m);
  int v6 = strchr(ip, ':') != NULL;
  memset(b, 0, sizeof *b);
  b->contact = url_as_string(home, c->m_url);
  b->received = su_sprintf(home, "sip:%s%s%s:%u;transport=%s", v6 ? "[" : "",
                           ip, v6 ? "]" : "", tz_msg_src_port(m),
                           tz_msg_proto(m));
  b->path = path;
  b->callid = sip->sip_call_id->i_id;
  b->branch = txkey;
  b->cseq = sip->sip_cseq->cs_seq;
  b->expires = now + expires;
  b->q = reg_q(c->m_q);
  b->last_modified = now;
  b->user_agent = sip->sip_user_agent ? sip->sip_user_agent->g_string : NULL;
  b->socket = tz_msg_socket(m);
  b->instance = reg_param(home, c, "+sip.instance");
  const char *rid = msg_params_find(c->m_params, "reg-id");
  b->reg_id = rid ? strtol(rid, NULL, 10) : 0;
}

static int reg_find(su_home_t *home, const tz_binding_t *set, size_t n,
                    const url_t *url)
{
  for (size_t i = 0; i < n; i++) {
    url_t *u = url_make(home, set[i].contact);
    if (u && url_cmp_all(u, url) == 0)
      return (int)i;
  }
  return -1;
}

/* Step 7 against one binding: > 0 the request may update it (another
 * Call-ID, or a higher CSeq); 0 it is a retransmission of the request that
 * wrote it; < 0 the request fails (equal or lower CSeq, another
 * transaction). */
static int reg_cseq_order(const sip_t *sip, const reg_change_t *ch,
                          const tz_binding_t *b)
{
  if (!b->callid || strcmp(b->callid, sip->sip_call_id->i_id) != 0)
    return 1;
  unsigned long seq = sip->sip_cseq->cs_seq;
  if (seq > b->cseq)
    return 1;
  return seq == b->cseq && b->branch && ch->txkey &&
                 strcmp(b->branch, ch->txkey) == 0
             ? 0
             : -1;
}

/* Step 6 for "Contact: *": valid only alone and with Expires: 0; removes
 * every binding unless one of them is newer (same Call-ID, higher CSeq). */
static int reg_apply_star(tz_msg_t *m, const sip_t *sip, reg_change_t *ch)
{
  if (sip->sip_contact->m_next || !sip->sip_expires ||
      sip->sip_expires->ex_delta != 0)
    return reg_fail(m, 400, "Invalid Contact *", NULL);
  for (size_t i = 0; i < ch->n; i++)
    if (reg_cseq_order(sip, ch, &ch->set[i]) < 0)
      return reg_fail(m, 500, "Stale CSeq", NULL);
  ch->changed = ch->n > 0;
  ch->n = 0;
  return 1;
}

/* Over max_contacts: 403, or the least recently refreshed bindings make
 * room (never ones this REGISTER just wrote). */
static void reg_remove(reg_change_t *ch, size_t i)
{
  memmove(&ch->set[i], &ch->set[i + 1], (ch->n - i - 1) * sizeof ch->set[0]);
  memmove(&ch->touched[i], &ch->touched[i + 1], ch->n - i - 1);
  ch->n--;
}

static int reg_enforce_max(tz_msg_t *m, const reg_cfg_t *cfg,
                           reg_change_t *ch)
{
  if (!cfg->max_contacts || ch->n <= (size_t)cfg->max_contacts)
    return 1;
  if (cfg->max_contacts_reject)
    return reg_fail(m, 403, "Too Many Registered Contacts", NULL);
  while (ch->n > (size_t)cfg->max_contacts) {
    size_t old = ch->n;
    for (size_t i = 0; i < ch->n; i++)
      if (!ch->touched[i] &&
          (old == ch->n || ch->set[i].last_modified < ch->set[old].last_modified))
        old = i;
    if (old == ch->n)
      return reg_fail(m, 403, "Too Many Registered Contacts", NULL);
    reg_remove(ch, old);
  }
  return 1;
}

static int reg_apply_contacts(reg_state_t *st, tz_msg_t *m, const sip_t *sip,
                              reg_change_t *ch, long now)
{
  su_home_t *home = tz_msg_home(m);
  for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next) {
    long e = reg_expires(st->cfg, sip, c);
    if (e > 0 && e < st->cfg->min_expires) {
      char hdr[64];
      snprintf(hdr, sizeof hdr, "Min-Expires: %ld\r\n", st->cfg->min_expires);
      return reg_fail(m, 423, "Interval Too Brief", hdr);
    }
  }
  for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next) {
    long e = reg_expires(st->cfg, sip, c);
    if (e > st->cfg->max_expires)
      e = st->cfg->max_expires;
    int i = reg_find(home, ch->set, ch->n, c->m_url);
    int order = i >= 0 ? reg_cseq_order(sip, ch, &ch->set[i]) : 1;
    if (order < 0)
      return reg_fail(m, 500, "Stale CSeq", NULL);
    if (order == 0)
      continue; /* stored from this very request: a retransmission */
    if (i >= 0 && e == 0) {
      reg_remove(ch, (size_t)i);
    } else if (e > 0) {
      size_t at = i >= 0 ? (size_t)i : ch->n++;
      reg_fill(m, sip, c, e, now, ch, &ch->set[at]);
      ch->touched[at] = 1;
    } else {
      continue; /* removing a binding that does not exist */
    }
    ch->changed = 1;
  }
  return reg_enforce_max(m, st->cfg, ch);
}

static int reg_load_current(reg_state_t *st, tz_msg_t *m, const sip_t *sip,
                            reg_change_t *ch)
{
  su_home_t *home = tz_msg_home(m);
  tz_binding_t *cur = NULL;
  int n = st->loc->lookup(st->loc_ctx, ch->aor, home, &cur);
  if (n < 0)
    return reg_fail(m, 500, "Bindings Unavailable", NULL);
  size_t ncontacts = 0;
  for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next)
    ncontacts++;
  size_t cap = (size_t)n + ncontacts + 1;
  ch->set = su_zalloc(home, cap * sizeof *ch->set);
  ch->touched = su_zalloc(home, cap);
  if (!ch->set || !ch->touched)
    return reg_fail(m, 500, "Out Of Memory", NULL);
  if (n > 0)
    memcpy(ch->set, cur, (size_t)n * sizeof *cur);
  ch->n = (size_t)n;
  return 1;
}

int reg_check(reg_state_t *st, tz_msg_t *m, reg_change_t *ch)
{
  const sip_t *sip = tz_msg_sip(m);
  memset(ch, 0, sizeof *ch);
  if (!sip->sip_request || sip->sip_request->rq_method != sip_method_register) {
    tz_sip_log(sip, TZ_LOG_ERR, "registrar: save() called for a %s",
           sip->sip_request ? sip->sip_request->rq_method_name : "response");
    return -1;
  }
  if (!sip->sip_call_id || !sip->sip_cseq)
    return reg_fail(m, 400, "Missing Call-ID or CSeq", NULL);
  if (reg_check_require(m, sip) < 0 || reg_check_aor(st->cfg, m, sip, ch) < 0)
    return -1;
  return 1;
}

int reg_compute(reg_state_t *st, tz_msg_t *m, reg_change_t *ch)
{
  const sip_t *sip = tz_msg_sip(m);
  assert(ch->aor);
  if (reg_load_current(st, m, sip, ch) < 0)
    return -1;
  ch->txkey = reg_txkey(tz_msg_home(m), sip->sip_via);
  if (!sip->sip_contact)
    return 1; /* a query: nothing changes, the 200 lists the bindings */
  if (sip->sip_path && !(ch->path = reg_join_path(tz_msg_home(m), sip)))
    return reg_fail(m, 500, "Out Of Memory", NULL);
  if (sip->sip_contact->m_url->url_type == url_any)
    return reg_apply_star(m, sip, ch);
  for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next)
    if (c->m_url->url_type == url_any)
      return reg_fail(m, 400, "Invalid Contact *", NULL);
  return reg_apply_contacts(st, m, sip, ch, (long)time(NULL));
}
