/*
 * pvars.c - the SIP pseudo-variables of the routing language ($ru, $rU,
 * $si, $hdr(Name), ...): getters over Sofia's parsed sip_t and the
 * assignable Request-URI and $du, handed to the script engine in
 * tz_sip_lang (builtins.c).
 *
 * Getters return strings that already exist in the message wherever
 * Sofia keeps them as strings (Call-ID, tags, URI parts); only encoded
 * values (whole URIs, arbitrary headers) are built in the scratch home.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/lang.h"
#include "sip/msg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

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

static void pvar_get_method(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const sip_t *sip = m->sip;
  if (sip && sip->sip_request)
    pvar_str(o, sip->sip_request->rq_method_name);
  else
    pvar_str(o, sip && sip->sip_cseq ? sip->sip_cseq->cs_method_name : NULL);
}

static void pvar_get_ruri(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_url_string(m, pvar_ruri(m), o);
}

static void pvar_get_ruri_user(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const url_t *u = pvar_ruri(m);
  pvar_str(o, u ? u->url_user : NULL);
}

static void pvar_get_ruri_host(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  const url_t *u = pvar_ruri(m);
  pvar_str(o, u ? u->url_host : NULL);
}

static void pvar_get_ruri_port(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
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

static void pvar_get_status(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  if (m->sip && m->sip->sip_status)
    pvar_int(o, m->sip->sip_status->st_status);
  else
    o->type = TZ_VAL_NULL;
}

static void pvar_get_reason(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
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
    tz_script_log(TZ_LOG_ERR, loc, "no request URI to rewrite in a reply");
    return -1;
  }
  if (!uri || tz_msg_set_ruri(m, uri) < 0) {
    tz_script_log(TZ_LOG_ERR, loc, "invalid request URI '%s'", uri ? uri : "");
    return -1;
  }
  return 0;
}

static int pvar_set_ruri(tz_msg_t *m, const tz_pvar_ref_t *r, const tz_val_t *v,
                         const tz_loc_t *loc)
{
  (void)r;
  size_t len;
  return pvar_set_ruri_string(m, tz_val_str(m->home, v, &len), loc);
}

/* $rU and $rd: the current R-URI with one part replaced. */
static int pvar_set_ruri_part(tz_msg_t *m, const tz_val_t *v,
                              const tz_loc_t *loc, int host)
{
  const url_t *cur = pvar_ruri(m);
  size_t len;
  const char *s = tz_val_str(m->home, v, &len);
  if (cur && host && !len) {
    tz_script_log(TZ_LOG_ERR, loc, "cannot set an empty request URI host");
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

static int pvar_set_ruri_user(tz_msg_t *m, const tz_pvar_ref_t *r,
                              const tz_val_t *v, const tz_loc_t *loc)
{
  (void)r;
  return pvar_set_ruri_part(m, v, loc, 0);
}

static int pvar_set_ruri_host(tz_msg_t *m, const tz_pvar_ref_t *r,
                              const tz_val_t *v, const tz_loc_t *loc)
{
  (void)r;
  return pvar_set_ruri_part(m, v, loc, 1);
}

static void pvar_get_dst(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, tz_msg_dst(m));
}

/* Assigning "" (or an unset value) clears the next hop. */
static int pvar_set_dst(tz_msg_t *m, const tz_pvar_ref_t *r, const tz_val_t *v,
                        const tz_loc_t *loc)
{
  (void)r;
  size_t len;
  const char *s = tz_val_str(m->home, v, &len);
  if (tz_msg_set_dst(m, len ? s : NULL) < 0) {
    tz_script_log(TZ_LOG_ERR, loc, "invalid destination URI '%s'", s);
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
  static void pvar_get_##prefix##_uri(tz_msg_t *m, const tz_pvar_ref_t *r,      \
                                      tz_val_t *o)                           \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_url_string(m, a ? a->a_url : NULL, o);                               \
  }                                                                           \
  static void pvar_get_##prefix##_user(tz_msg_t *m, const tz_pvar_ref_t *r,     \
                                       tz_val_t *o)                          \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_url->url_user : NULL);                               \
  }                                                                           \
  static void pvar_get_##prefix##_host(tz_msg_t *m, const tz_pvar_ref_t *r,     \
                                       tz_val_t *o)                          \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_url->url_host : NULL);                               \
  }                                                                           \
  static void pvar_get_##prefix##_tag(tz_msg_t *m, const tz_pvar_ref_t *r,      \
                                      tz_val_t *o)                           \
  {                                                                           \
    (void)r;                                                                  \
    const sip_addr_t *a = pvar_addr(m, to);                                   \
    pvar_str(o, a ? a->a_tag : NULL);                                         \
  }

PVAR_ADDR_GETTERS(from, 0)
PVAR_ADDR_GETTERS(to, 1)

/* ---- other message fields ----------------------------------------------- */

static void pvar_get_callid(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->sip && m->sip->sip_call_id ? m->sip->sip_call_id->i_id
                                            : NULL);
}

static void pvar_get_cseq(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  if (m->sip && m->sip->sip_cseq)
    pvar_int(o, (long)m->sip->sip_cseq->cs_seq);
  else
    o->type = TZ_VAL_NULL;
}

static void pvar_get_ua(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->sip && m->sip->sip_user_agent
                  ? m->sip->sip_user_agent->g_string
                  : NULL);
}

static void pvar_get_src_ip(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->src_ip[0] ? m->src_ip : NULL);
}

static void pvar_get_src_port(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_int(o, (long)m->src_port);
}

static void pvar_get_proto(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  (void)r;
  pvar_str(o, m->proto);
}

/* ---- headers and $hdr(Name) --------------------------------------------- */

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

static void pvar_get_hdr(tz_msg_t *m, const tz_pvar_ref_t *r, tz_val_t *o)
{
  o->type = TZ_VAL_NULL;
  msg_header_t **hh = hdr_slot(m, (msg_hclass_t *)r->fixed);
  if (hh) {
    if (*hh)
      pvar_header_value(m, *hh, o);
    return;
  }
  for (const sip_unknown_t *u = m->sip ? m->sip->sip_unknown : NULL; u;
       u = u->un_next)
    if (u->un_name && hdr_matches((msg_hclass_t *)r->fixed, r->arg, u->un_name)) {
      pvar_str(o, u->un_value ? u->un_value : "");
      return;
    }
}

/* $hdr(Name): the name is checked and its Sofia class found at load. */
static int pvar_resolve_hdr(const char *arg, const void **fixed, char *err,
                            size_t errlen)
{
  char why[128];
  if (hdr_validate(arg, why, sizeof why) < 0) {
    snprintf(err, errlen, "%s in '$hdr()'", why);
    return -1;
  }
  *fixed = hdr_class(arg);
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

const tz_pvar_def_t tz_sip_pvars[] = {
    {"rm", 0, NULL, pvar_get_method, NULL},
    {"ru", 0, NULL, pvar_get_ruri, pvar_set_ruri},
    {"rU", 0, NULL, pvar_get_ruri_user, pvar_set_ruri_user},
    {"rd", 0, NULL, pvar_get_ruri_host, pvar_set_ruri_host},
    {"rp", 0, NULL, pvar_get_ruri_port, NULL},
    {"du", 0, NULL, pvar_get_dst, pvar_set_dst},
    {"fu", 0, NULL, pvar_get_from_uri, NULL},
    {"fU", 0, NULL, pvar_get_from_user, NULL},
    {"fd", 0, NULL, pvar_get_from_host, NULL},
    {"ft", 0, NULL, pvar_get_from_tag, NULL},
    {"tu", 0, NULL, pvar_get_to_uri, NULL},
    {"tU", 0, NULL, pvar_get_to_user, NULL},
    {"td", 0, NULL, pvar_get_to_host, NULL},
    {"tt", 0, NULL, pvar_get_to_tag, NULL},
    {"ci", 0, NULL, pvar_get_callid, NULL},
    {"cs", 0, NULL, pvar_get_cseq, NULL},
    {"si", 0, NULL, pvar_get_src_ip, NULL},
    {"sp", 0, NULL, pvar_get_src_port, NULL},
    {"pr", 0, NULL, pvar_get_proto, NULL},
    {"proto", 0, NULL, pvar_get_proto, NULL},
    {"ua", 0, NULL, pvar_get_ua, NULL},
    {"rs", 0, NULL, pvar_get_status, NULL},
    {"rr", 0, NULL, pvar_get_reason, NULL},
    {"hdr", 1, pvar_resolve_hdr, pvar_get_hdr, NULL},
    {NULL, 0, NULL, NULL, NULL}};

