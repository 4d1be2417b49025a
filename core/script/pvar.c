/*
 * pvar.c - the pseudo-variable table: name resolution at load, getters
 * over Sofia's parsed sip_t, the assignable R-URI and $var slots, and
 * format strings.
 *
 * Getters return strings that already exist in the message wherever
 * Sofia keeps them as strings (Call-ID, tags, URI parts); only encoded
 * values (whole URIs, arbitrary headers) are built in the scratch home.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/url.h>

#include "sip/msg.h"
#include "script/ast.h"
#include "script/lex.h"

/* ---- value helpers ------------------------------------------------------ */

static void pvar_str(tz_val_t *o, const char *s)
{
  if (!s) {
    o->type = TZ_VAL_NULL;
    return;
  }
  o->type = TZ_VAL_STR;
  o->s = s;
  o->len = strlen(s);
}

static void pvar_int(tz_val_t *o, long i)
{
  o->type = TZ_VAL_INT;
  o->i = i;
}

/* Sofia takes any run of digits as a URI port: a real port is a number,
 * anything longer stays text, so arithmetic on it is a runtime error
 * rather than an overflow. */
static void pvar_port(tz_val_t *o, const char *port)
{
  size_t len = strlen(port);
  if (len <= 5 && strspn(port, "0123456789") == len && atol(port) <= 65535) {
    pvar_int(o, atol(port));
    return;
  }
  o->type = TZ_VAL_STR;
  o->s = port;
  o->len = len;
}

static const url_t *pvar_ruri(const tz_msg_t *m)
{
  return m->sip && m->sip->sip_request ? m->sip->sip_request->rq_url : NULL;
}

static void pvar_url_string(tz_msg_t *m, const url_t *u, tz_val_t *o)
{
  pvar_str(o, u ? url_as_string(m->home, u) : NULL);
}

/* ---- request line and status -------------------------------------------- */

static void pvar_get_method(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const sip_t *sip = m->sip;
  if (sip && sip->sip_request)
    pvar_str(o, sip->sip_request->rq_method_name);
  else
    pvar_str(o, sip && sip->sip_cseq ? sip->sip_cseq->cs_method_name : NULL);
}

static void pvar_get_ruri(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_url_string(m, pvar_ruri(m), o);
}

static void pvar_get_ruri_user(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const url_t *u = pvar_ruri(m);
  pvar_str(o, u ? u->url_user : NULL);
}

static void pvar_get_ruri_host(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const url_t *u = pvar_ruri(m);
  pvar_str(o, u ? u->url_host : NULL);
}

static void pvar_get_ruri_port(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const url_t *u = pvar_ruri(m);
  if (!u)
    o->type = TZ_VAL_NULL;
  else if (u->url_port && *u->url_port)
    pvar_port(o, u->url_port);
  else
    pvar_int(o, u->url_type == url_sips ? 5061 : 5060);
}

static void pvar_get_status(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  if (m->sip && m->sip->sip_status)
    pvar_int(o, m->sip->sip_status->st_status);
  else
    o->type = TZ_VAL_NULL;
}

static void pvar_get_reason(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->sip && m->sip->sip_status ? m->sip->sip_status->st_phrase
                                           : NULL);
}

/* The request URI and next hop are rewritten through the core
 * (tz_msg_set_ruri / tz_msg_set_dst), which owns the message; failures
 * are logged here because only the script knows the location. */
static int pvar_set_ruri_string(tz_msg_t *m, const char *uri,
                                const tz_loc_t *loc)
{
  if (!pvar_ruri(m)) {
    run_log(TZ_LOG_ERR, loc, "no request URI to rewrite in a reply");
    return -1;
  }
  if (!uri || tz_msg_set_ruri(m, uri) < 0) {
    run_log(TZ_LOG_ERR, loc, "invalid request URI '%s'", uri ? uri : "");
    return -1;
  }
  return 0;
}

static int pvar_set_ruri(tz_msg_t *m, const pvar_ref_t *r, const tz_val_t *v,
                         const tz_loc_t *loc)
{
  (void)r;
  size_t len;
  return pvar_set_ruri_string(m, run_val_str(m, v, &len), loc);
}

/* $rU and $rd: the current R-URI with one part replaced. */
static int pvar_set_ruri_part(tz_msg_t *m, const tz_val_t *v,
                              const tz_loc_t *loc, int host)
{
  const url_t *cur = pvar_ruri(m);
  size_t len;
  const char *s = run_val_str(m, v, &len);
  if (cur && host && !len) {
    run_log(TZ_LOG_ERR, loc, "cannot set an empty request URI host");
    return -1;
  }
  url_t u;
  if (cur) {
    u = *cur;
    if (host)
      u.url_host = s;
    else
      u.url_user = len ? s : NULL;
  }
  return pvar_set_ruri_string(m, cur ? url_as_string(m->home, &u) : NULL,
                              loc);
}

static int pvar_set_ruri_user(tz_msg_t *m, const pvar_ref_t *r,
                              const tz_val_t *v, const tz_loc_t *loc)
{
  (void)r;
  return pvar_set_ruri_part(m, v, loc, 0);
}

static int pvar_set_ruri_host(tz_msg_t *m, const pvar_ref_t *r,
                              const tz_val_t *v, const tz_loc_t *loc)
{
  (void)r;
  return pvar_set_ruri_part(m, v, loc, 1);
}

static void pvar_get_dst(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, tz_msg_dst(m));
}

/* Assigning "" (or an unset value) clears the next hop. */
static int pvar_set_dst(tz_msg_t *m, const pvar_ref_t *r, const tz_val_t *v,
                        const tz_loc_t *loc)
{
  (void)r;
  size_t len;
  const char *s = run_val_str(m, v, &len);
  if (tz_msg_set_dst(m, len ? s : NULL) < 0) {
    run_log(TZ_LOG_ERR, loc, "invalid destination URI '%s'", s);
    return -1;
  }
  return 0;
}

/* ---- From / To ---------------------------------------------------------- */

static const sip_addr_t *pvar_addr(const tz_msg_t *m, int to)
{
  if (!m->sip)
    return NULL;
  return to ? m->sip->sip_to : m->sip->sip_from;
}

#define PVAR_ADDR_GETTERS(prefix, to)                                         \
  static void pvar_get_##prefix##_uri(tz_msg_t *m, const pvar_ref_t *r,      \
                                      tz_val_t *o)                           \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_url_string(m, a ? a->a_url : NULL, o);                               \
  }                                                                           \
  static void pvar_get_##prefix##_user(tz_msg_t *m, const pvar_ref_t *r,     \
                                       tz_val_t *o)                          \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_url->url_user : NULL);                               \
  }                                                                           \
  static void pvar_get_##prefix##_host(tz_msg_t *m, const pvar_ref_t *r,     \
                                       tz_val_t *o)                          \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_url->url_host : NULL);                               \
  }                                                                           \
  static void pvar_get_##prefix##_tag(tz_msg_t *m, const pvar_ref_t *r,      \
                                      tz_val_t *o)                           \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_tag : NULL);                                         \
  }

PVAR_ADDR_GETTERS(from, 0)
PVAR_ADDR_GETTERS(to, 1)

/* ---- other message fields ----------------------------------------------- */

static void pvar_get_callid(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->sip && m->sip->sip_call_id ? m->sip->sip_call_id->i_id
                                            : NULL);
}

static void pvar_get_cseq(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  if (m->sip && m->sip->sip_cseq)
    pvar_int(o, (long)m->sip->sip_cseq->cs_seq);
  else
    o->type = TZ_VAL_NULL;
}

static void pvar_get_ua(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->sip && m->sip->sip_user_agent
                  ? m->sip->sip_user_agent->g_string
                  : NULL);
}

static void pvar_get_src_ip(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->src_ip[0] ? m->src_ip : NULL);
}

static void pvar_get_src_port(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_int(o, (long)m->src_port);
}

static void pvar_get_proto(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->proto);
}

/* ---- headers and $hdr(Name) --------------------------------------------- */

int hdr_validate(const char *name, char *err, size_t errlen)
{
  const char *p = name;
  while (*p && (isalnum((unsigned char)*p) || strchr("-_.!%*+`'~", *p)))
    p++;
  if (*name && !*p)
    return 0;
  snprintf(err, errlen, "invalid header name '%s'", name);
  return -1;
}

msg_hclass_t *hdr_class(const char *name)
{
  msg_hclass_t *hc =
      msg_find_hclass(sip_default_mclass(), name, NULL)->hr_class;
  return hc ? hc : sip_unknown_class;
}

msg_header_t **hdr_slot(tz_msg_t *m, msg_hclass_t *hc)
{
  if (!m->sip || hc == sip_unknown_class)
    return NULL;
  return msg_hclass_offset(msg_mclass(m->msg), (msg_pub_t *)m->sip, hc);
}

int hdr_matches(msg_hclass_t *hc, const char *arg, const char *name)
{
  if (su_casematch(name, arg))
    return 1;
  return hc != sip_unknown_class &&
         (su_casematch(name, hc->hc_name) ||
          (hc->hc_short[0] && su_casematch(name, hc->hc_short)));
}

/* Encodes a header's value (without the name) into the scratch home. */
static void pvar_header_value(tz_msg_t *m, const msg_header_t *h, tz_val_t *o)
{
  char buf[256];
  issize_t n = msg_header_field_e(buf, sizeof buf, h, 0);
  char *s = n < 0 ? NULL : su_alloc(m->home, (size_t)n + 1);
  if (!s)
    return;
  if ((size_t)n < sizeof buf)
    memcpy(s, buf, (size_t)n + 1);
  else
    msg_header_field_e(s, n + 1, h, 0);
  o->type = TZ_VAL_STR;
  o->s = s;
  o->len = (size_t)n;
}

static void pvar_get_hdr(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  o->type = TZ_VAL_NULL;
  msg_header_t **hh = hdr_slot(m, r->hc);
  if (hh) {
    if (*hh)
      pvar_header_value(m, *hh, o);
    return;
  }
  for (const sip_unknown_t *u = m->sip ? m->sip->sip_unknown : NULL; u;
       u = u->un_next)
    if (u->un_name && hdr_matches(r->hc, r->arg, u->un_name)) {
      pvar_str(o, u->un_value ? u->un_value : "");
      return;
    }
}

/* ---- $var(name) --------------------------------------------------------- */

static void pvar_get_var(tz_msg_t *m, const pvar_ref_t *r, tz_val_t *o)
{
  *o = m->vars[r->idx];
}

static int pvar_set_var(tz_msg_t *m, const pvar_ref_t *r, const tz_val_t *v,
                        const tz_loc_t *loc)
{
  (void)loc;
  m->vars[r->idx] = *v;
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

static const pvar_def_t pvar_table[] = {
    {"rm", 0, pvar_get_method, NULL},
    {"ru", 0, pvar_get_ruri, pvar_set_ruri},
    {"rU", 0, pvar_get_ruri_user, pvar_set_ruri_user},
    {"rd", 0, pvar_get_ruri_host, pvar_set_ruri_host},
    {"rp", 0, pvar_get_ruri_port, NULL},
    {"du", 0, pvar_get_dst, pvar_set_dst},
    {"fu", 0, pvar_get_from_uri, NULL},
    {"fU", 0, pvar_get_from_user, NULL},
    {"fd", 0, pvar_get_from_host, NULL},
    {"ft", 0, pvar_get_from_tag, NULL},
    {"tu", 0, pvar_get_to_uri, NULL},
    {"tU", 0, pvar_get_to_user, NULL},
    {"td", 0, pvar_get_to_host, NULL},
    {"tt", 0, pvar_get_to_tag, NULL},
    {"ci", 0, pvar_get_callid, NULL},
    {"cs", 0, pvar_get_cseq, NULL},
    {"si", 0, pvar_get_src_ip, NULL},
    {"sp", 0, pvar_get_src_port, NULL},
    {"pr", 0, pvar_get_proto, NULL},
    {"proto", 0, pvar_get_proto, NULL},
    {"ua", 0, pvar_get_ua, NULL},
    {"rs", 0, pvar_get_status, NULL},
    {"rr", 0, pvar_get_reason, NULL},
    {"hdr", 1, pvar_get_hdr, NULL},
    {"var", 1, pvar_get_var, pvar_set_var},
};

#define PVAR_COUNT (sizeof pvar_table / sizeof *pvar_table)

int pvar_scan(const char *p, const char *end, pvar_span_t *sp)
{
  memset(sp, 0, sizeof *sp);
  const char *q = p + 1;
  if (q >= end || !(isalpha((unsigned char)*q) || *q == '_'))
    return 0;
  sp->name = q;
  while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
    q++;
  sp->namelen = (size_t)(q - sp->name);
  if (q < end && *q == '(') {
    sp->has_arg = 1;
    sp->arg = ++q;
    while (q < end && *q != ')' && *q != '\n' && *q != '"')
      q++;
    if (q >= end || *q != ')')
      return -1;
    sp->arglen = (size_t)(q - sp->arg);
    q++;
  }
  sp->len = (size_t)(q - p);
  return 1;
}

static const pvar_def_t *pvar_find(const char *name, size_t len)
{
  for (size_t i = 0; i < PVAR_COUNT; i++)
    if (strlen(pvar_table[i].name) == len &&
        !memcmp(pvar_table[i].name, name, len))
      return &pvar_table[i];
  return NULL;
}

static int pvar_resolve_var(tz_script_t *s, const char *name, pvar_ref_t *out)
{
  for (size_t i = 0; i < s->nvars; i++)
    if (!strcmp(s->vars[i], name)) {
      out->idx = i;
      return 0;
    }
  const char **slot = script_vec_push(s, &s->vars, &s->nvars, sizeof *slot);
  if (!slot)
    return -1;
  *slot = name;
  out->idx = s->nvars - 1;
  return 0;
}

static int pvar_resolve_arg(tz_script_t *s, const tz_loc_t *loc, tz_diag_t *d,
                            pvar_ref_t *out)
{
  const char *name = out->def->name;
  if (!*out->arg) {
    tz_diag_error(d, loc, "empty argument in '$%s()'", name);
    return -1;
  }
  if (!strcmp(name, "var"))
    return pvar_resolve_var(s, out->arg, out);
  char err[128];
  if (hdr_validate(out->arg, err, sizeof err) < 0) {
    tz_diag_error(d, loc, "%s in '$hdr()'", err);
    return -1;
  }
  out->hc = hdr_class(out->arg);
  return 0;
}

int pvar_resolve(tz_script_t *s, const pvar_span_t *sp, const tz_loc_t *loc,
                 tz_diag_t *d, pvar_ref_t *out)
{
  memset(out, 0, sizeof *out);
  out->def = pvar_find(sp->name, sp->namelen);
  if (!out->def) {
    char *want = su_strndup(s->home, sp->name, (isize_t)sp->namelen);
    suggest_t sg;
    suggest_init(&sg, want ? want : "");
    for (size_t i = 0; i < PVAR_COUNT; i++)
      suggest_add(&sg, pvar_table[i].name);
    const char *best = suggest_best(&sg);
    if (best)
      tz_diag_error(d, loc,
                    "unknown pseudo-variable '$%.*s'; did you mean '$%s'?",
                    (int)sp->namelen, sp->name, best);
    else
      tz_diag_error(d, loc, "unknown pseudo-variable '$%.*s'",
                    (int)sp->namelen, sp->name);
    return -1;
  }
  if (out->def->has_arg && !sp->has_arg) {
    tz_diag_error(d, loc, "pseudo-variable '$%s' needs an argument, as in "
                  "'$%s(name)'", out->def->name, out->def->name);
    return -1;
  }
  if (!out->def->has_arg && sp->has_arg) {
    tz_diag_error(d, loc, "pseudo-variable '$%s' takes no argument",
                  out->def->name);
    return -1;
  }
  if (!sp->has_arg)
    return 0;
  out->arg = su_strndup(s->home, sp->arg, (isize_t)sp->arglen);
  return out->arg ? pvar_resolve_arg(s, loc, d, out) : -1;
}

const char *pvar_print(const pvar_ref_t *r, char *buf, size_t size)
{
  if (r->arg)
    snprintf(buf, size, "$%s(%s)", r->def->name, r->arg);
  else
    snprintf(buf, size, "$%s", r->def->name);
  return buf;
}

/* ---- format strings ----------------------------------------------------- */

static fmt_piece_t *fmt_push(tz_script_t *s, fmt_t *f)
{
  return script_vec_push(s, &f->pieces, &f->n, sizeof *f->pieces);
}

/* Decodes raw[from, to) (escapes included) into a literal piece. */
static int fmt_push_literal(tz_script_t *s, fmt_t *f, const char *from,
                            const char *to)
{
  if (from == to)
    return 0;
  char *out = su_alloc(s->home, (size_t)(to - from) + 1), *o = out;
  fmt_piece_t *pc = fmt_push(s, f);
  if (!out || !pc)
    return -1;
  for (const char *r = from; r < to; r++) {
    int c = *r;
    if (c == '\\' && r + 1 < to && (c = lex_unescape(r[1])) >= 0)
      r++;
    else
      c = *r;
    *o++ = (char)c;
  }
  *o = '\0';
  pc->lit = out;
  pc->len = (size_t)(o - out);
  return 0;
}

fmt_t *fmt_parse(tz_script_t *s, const char *raw, size_t rawlen,
                 const tz_loc_t *loc, tz_diag_t *d)
{
  fmt_t *f = su_zalloc(s->home, sizeof *f);
  if (!f)
    return NULL;
  const char *end = raw + rawlen, *lit = raw, *p = raw;
  while (p < end) {
    if (*p == '\\' && p + 1 < end) {
      p += 2;
      continue;
    }
    if (*p != '$') {
      p++;
      continue;
    }
    tz_loc_t at = *loc;
    at.col += (unsigned)(p - raw);
    pvar_span_t sp;
    int rc = p + 1 < end && p[1] == '$' ? 0 : pvar_scan(p, end, &sp);
    if (rc < 0) {
      tz_diag_error(d, &at, "missing ')' after pseudo-variable argument");
      return NULL;
    }
    if (rc == 0) {
      /* "$$" is a literal '$', and so is a '$' that starts no name. */
      if (fmt_push_literal(s, f, lit, p + 1) < 0)
        return NULL;
      p += p + 1 < end && p[1] == '$' ? 2 : 1;
      lit = p;
      continue;
    }
    fmt_piece_t pv = {0};
    if (fmt_push_literal(s, f, lit, p) < 0 ||
        pvar_resolve(s, &sp, &at, d, &pv.pv) < 0)
      return NULL;
    fmt_piece_t *pc = fmt_push(s, f);
    if (!pc)
      return NULL;
    *pc = pv;
    f->has_pvars = 1;
    p += sp.len;
    lit = p;
  }
  return fmt_push_literal(s, f, lit, end) < 0 ? NULL : f;
}

/* Unset pseudo-variables print as "<null>", as Kamailio's xlog does, so a
 * log line shows that a value was missing rather than empty. */
static const char *fmt_piece_str(tz_msg_t *m, const fmt_piece_t *pc,
                                 size_t *len)
{
  if (pc->lit) {
    *len = pc->len;
    return pc->lit;
  }
  tz_val_t v;
  pvar_get(m, &pc->pv, &v);
  if (v.type == TZ_VAL_NULL) {
    *len = 6;
    return "<null>";
  }
  return run_val_str(m, &v, len);
}

#define FMT_STACK_PIECES 16

void fmt_expand(tz_msg_t *m, const fmt_t *f, tz_val_t *out)
{
  const char *stack_s[FMT_STACK_PIECES];
  size_t stack_l[FMT_STACK_PIECES];
  const char **ps = stack_s;
  size_t *ls = stack_l, total = 0;
  if (f->n > FMT_STACK_PIECES) {
    ps = su_alloc(m->home, f->n * sizeof *ps);
    ls = su_alloc(m->home, f->n * sizeof *ls);
  }
  char *buf = NULL;
  if (ps && ls) {
    for (size_t i = 0; i < f->n; i++) {
      ps[i] = fmt_piece_str(m, &f->pieces[i], &ls[i]);
      total += ls[i];
    }
    buf = su_alloc(m->home, total + 1);
  }
  if (!buf) {
    pvar_str(out, "");
    return;
  }
  char *o = buf;
  for (size_t i = 0; i < f->n; i++) {
    memcpy(o, ps[i], ls[i]);
    o += ls[i];
  }
  *o = '\0';
  out->type = TZ_VAL_STR;
  out->s = buf;
  out->len = total;
}
