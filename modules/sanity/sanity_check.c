/*
 * sanity_check.c - the request checks of the sanity module: each returns
 * 0 or a status with a precise reason phrase, "Bad Request - <what>".
 */
#define _POSIX_C_SOURCE 200809L
#include "sanity_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/sip_header.h>

static const struct {
  const char *name;
  unsigned flag;
} sanity_names[] = {
  {"required", SANITY_REQUIRED}, {"cseq", SANITY_CSEQ},
  {"cl", SANITY_CL},             {"ruri", SANITY_RURI},
  {"via", SANITY_VIA},           {"maxfwd", SANITY_MAXFWD},
  {"parse", SANITY_PARSE},       {"maxfwd_required", SANITY_MAXFWD_REQUIRED},
  {"proxy_require", SANITY_PROXY_REQUIRE},
  {"default", SANITY_DEFAULT},   {"all", SANITY_ALL},
};

static unsigned sanity_flag_named(const char *s, size_t n)
{
  for (size_t i = 0; i < sizeof sanity_names / sizeof sanity_names[0]; i++)
    if (strlen(sanity_names[i].name) == n &&
        strncmp(sanity_names[i].name, s, n) == 0)
      return sanity_names[i].flag;
  return 0;
}

unsigned sanity_flags_parse(const char *s, char *err, size_t errlen)
{
  unsigned flags = 0;
  while (*s) {
    s += strspn(s, " ,");
    size_t n = strcspn(s, " ,");
    if (!n)
      break;
    unsigned f = sanity_flag_named(s, n);
    if (!f) {
      snprintf(err, errlen, "unknown check '%.*s' (known: required, cseq, cl, "
               "ruri, via, maxfwd, maxfwd_required, proxy_require, parse, "
               "default, all)",
               (int)n, s);
      return 0;
    }
    flags |= f;
    s += n;
  }
  if (!flags)
    snprintf(err, errlen, "no check named");
  return flags;
}

/* Every failure but the R-URI scheme's is a 400 with its cause. */
static int sanity_fail(char *reason, size_t len, const char *what,
                       const char *header)
{
  if (header)
    snprintf(reason, len, "Bad Request - %s %s header", what, header);
  else
    snprintf(reason, len, "Bad Request - %s", what);
  return 400;
}

static int sanity_check_required(const sip_t *sip, int maxfwd, char *reason,
                                 size_t len)
{
  const char *missing = !sip->sip_via       ? "Via"
                        : !sip->sip_from    ? "From"
                        : !sip->sip_to      ? "To"
                        : !sip->sip_call_id ? "Call-ID"
                        : !sip->sip_cseq    ? "CSeq"
                        : maxfwd && !sip->sip_max_forwards ? "Max-Forwards"
                                                           : NULL;
  return missing ? sanity_fail(reason, len, "Missing", missing)
                 : 0;
}

/* RFC 3261 8.1.1.5: the number is below 2^31 and the method is the
 * request's, ACK and CANCEL included (their CSeq method is ACK/CANCEL). */
static int sanity_check_cseq(const sip_t *sip, char *reason, size_t len)
{
  const sip_cseq_t *cs = sip->sip_cseq;
  const sip_request_t *rq = sip->sip_request;
  if (!cs)
    return 0;
  if (cs->cs_seq >= 0x80000000u)
    return sanity_fail(reason, len, "CSeq number too large", NULL);
  int same = cs->cs_method == rq->rq_method &&
             (rq->rq_method != sip_method_unknown ||
              strcmp(cs->cs_method_name, rq->rq_method_name) == 0);
  return same ? 0 : sanity_fail(reason, len, "CSeq method mismatch", NULL);
}

/* Over a stream the header frames the message; in a datagram it must not
 * promise more than arrived (RFC 3261 18.3; extra octets are ignored). */
static int sanity_check_cl(const sip_t *sip, int datagram, char *reason,
                           size_t len)
{
  if (!datagram || !sip->sip_content_length)
    return 0;
  size_t body = sip->sip_payload ? sip->sip_payload->pl_len : 0;
  return sip->sip_content_length->l_length > body
             ? sanity_fail(reason, len, "Content-Length exceeds body", NULL)
             : 0;
}

/* An absent port is fine; a present one is 1..65535 and nothing else. */
static int sanity_port_ok(const char *port)
{
  if (!port || !*port)
    return 1;
  char *end;
  long n = strtol(port, &end, 10);
  return !*end && n >= 1 && n <= 65535;
}

static int sanity_check_ruri(const sip_t *sip, char *reason, size_t len)
{
  const url_t *u = sip->sip_request->rq_url;
  if (u->url_type == url_tel)
    return 0;
  if (u->url_type != url_sip && u->url_type != url_sips) {
    snprintf(reason, len, "Unsupported URI Scheme");
    return 416;
  }
  if (!u->url_host || !host_is_valid(u->url_host))
    return sanity_fail(reason, len, "Invalid Request-URI host", NULL);
  /* RFC 3261 19.1.5: headers belong in URIs that make requests, never in
   * a Request-URI. */
  if (u->url_headers)
    return sanity_fail(reason, len, "Request-URI with headers", NULL);
  return sanity_port_ok(u->url_port)
             ? 0
             : sanity_fail(reason, len, "Invalid Request-URI port", NULL);
}

static int sanity_check_via(const sip_t *sip, char *reason, size_t len)
{
  const sip_via_t *v = sip->sip_via;
  if (!v)
    return 0;
  if (!v->v_protocol || strncasecmp(v->v_protocol, "SIP/2.0/", 8) != 0 ||
      !v->v_protocol[8])
    return sanity_fail(reason, len, "Invalid Via protocol", NULL);
  if (!v->v_host || !host_is_valid(v->v_host))
    return sanity_fail(reason, len, "Invalid Via sent-by host", NULL);
  return sanity_port_ok(v->v_port)
             ? 0
             : sanity_fail(reason, len, "Invalid Via sent-by port", NULL);
}

static int sanity_check_maxfwd(const sip_t *sip, char *reason, size_t len)
{
  return sip->sip_max_forwards && sip->sip_max_forwards->mf_count > 255
             ? sanity_fail(reason, len, "Max-Forwards out of range", NULL)
             : 0;
}

/* Sofia keeps headers it could not parse on sip_error instead of failing
 * the whole message; nta refuses only some of them itself. */
static int sanity_check_parse(const sip_t *sip, char *reason, size_t len)
{
  const sip_error_t *e = sip->sip_error;
  if (!e)
    return 0;
  return sanity_fail(reason, len, "Malformed",
                     e->er_name && *e->er_name ? e->er_name : "a");
}

/* True if tag is in the comma-separated list (option tags are tokens,
 * compared without regard to case). */
static int sanity_tag_listed(const char *list, const char *tag)
{
  size_t n = strlen(tag);
  while (list && *list) {
    list += strspn(list, " ,");
    size_t len = strcspn(list, " ,");
    if (len == n && n && strncasecmp(list, tag, n) == 0)
      return 1;
    list += len;
  }
  return 0;
}

/* RFC 3261 16.3 step 5: 420 naming every Proxy-Require tag we lack, once
 * each. CANCEL and ACK are exempt: there the header MUST be ignored
 * (RFC 3261 8.2.2.3). */
static int sanity_check_proxy_require(const sip_t *sip, const char *supported,
                                      sanity_verdict_t *v)
{
  sip_method_t m = sip->sip_request->rq_method;
  char bad[sizeof v->headers - 20] = "";
  size_t used = 0;
  if (m == sip_method_cancel || m == sip_method_ack)
    return 0;
  for (const sip_proxy_require_t *k = sip->sip_proxy_require; k; k = k->k_next)
    for (msg_param_t const *it = k->k_items; it && *it; it++)
      if (!sanity_tag_listed(supported, *it) && !sanity_tag_listed(bad, *it) &&
          used + strlen(*it) + 2 < sizeof bad)
        used += (size_t)snprintf(bad + used, sizeof bad - used, "%s%s",
                                 used ? ", " : "", *it);
  if (!used)
    return 0;
  snprintf(v->reason, sizeof v->reason, "Bad Extension");
  snprintf(v->headers, sizeof v->headers, "Unsupported: %s\r\n", bad);
  return 420;
}

int sanity_check_request(const sip_t *sip, const sanity_opts_t *o,
                         sanity_verdict_t *v)
{
  int st = 0;
  unsigned flags = o->flags;
  char *reason = v->reason;
  size_t len = sizeof v->reason;
  v->reason[0] = v->headers[0] = '\0';
  if (!sip || !sip->sip_request)
    return sanity_fail(reason, len, "Not a request", NULL);
  if (!st && (flags & SANITY_PARSE))
    st = sanity_check_parse(sip, reason, len);
  if (!st && (flags & (SANITY_REQUIRED | SANITY_MAXFWD_REQUIRED)))
    st = sanity_check_required(sip, !!(flags & SANITY_MAXFWD_REQUIRED),
                               reason, len);
  if (!st && (flags & SANITY_RURI))
    st = sanity_check_ruri(sip, reason, len);
  if (!st && (flags & SANITY_VIA))
    st = sanity_check_via(sip, reason, len);
  if (!st && (flags & SANITY_CSEQ))
    st = sanity_check_cseq(sip, reason, len);
  if (!st && (flags & SANITY_MAXFWD))
    st = sanity_check_maxfwd(sip, reason, len);
  if (!st && (flags & SANITY_CL))
    st = sanity_check_cl(sip, o->datagram, reason, len);
  if (!st && (flags & SANITY_PROXY_REQUIRE))
    st = sanity_check_proxy_require(sip, o->supported, v);
  return st;
}
