/*
 * builtins.c - the SIP built-in functions of the routing language:
 * replies, method and header tests, header editing, relaying. With the
 * pseudo-variables of pvars.c they make tz_sip_lang, which the generation
 * builder hands to the script engine.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/lang.h"
#include "sip/msg.h"
#include "sip/relay.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/url.h>

/* ---- sl_reply ----------------------------------------------------------- */

static int core_bad_status(long code)
{
  return code < 100 || code > 699;
}

static int core_sl_reply(tz_msg_t *m, const tz_call_t *c)
{
  long code = c->argv[0].i;
  if (core_bad_status(code)) {
    tz_script_log(TZ_LOG_ERR, c->loc, "sl_reply: status %ld is out of range "
            "100..699", code);
    return -1;
  }
  return tz_msg_reply(m, (int)code, c->argv[1].s, NULL) < 0 ? -1 : 1;
}

static int core_fixup_sl_reply(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                               char *err, size_t errlen)
{
  (void)mod;
  if (idx == 0 && core_bad_status(arg->i)) {
    snprintf(err, errlen, "reply status %ld is out of range 100..699",
             arg->i);
    return -1;
  }
  return 0;
}

/* ---- is_method ---------------------------------------------------------- */

/* Known methods as a bitmask of sip_method_t codes; extension methods by
 * name. Methods compare case-insensitively, as Kamailio's do. */
typedef struct method_set {
  uint32_t mask;
  char *buf;
  size_t next;
  const char *ext[];
} method_set_t;

static void core_method_set_free(method_set_t *ms)
{
  if (ms)
    free(ms->buf);
  free(ms);
}

static int core_method_set_add(method_set_t *ms, char *name, char *err,
                               size_t errlen)
{
  for (char *p = name; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  sip_method_t code = *name ? sip_method_code(name) : sip_method_invalid;
  if (code == sip_method_invalid) {
    snprintf(err, errlen, "invalid method name '%s'", name);
    return -1;
  }
  if (code > 0 && code < 32)
    ms->mask |= UINT32_C(1) << code;
  else
    ms->ext[ms->next++] = name;
  return 0;
}

static int core_fixup_is_method(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                                char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  size_t n = 1;
  for (const char *p = arg->s; *p; p++)
    n += *p == '|';
  method_set_t *ms = calloc(1, sizeof *ms + n * sizeof *ms->ext);
  if (!ms || !(ms->buf = strdup(arg->s))) {
    core_method_set_free(ms);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char *save = ms->buf;
  for (size_t i = 0; i < n; i++) {
    char *name = save, *bar = strchr(save, '|');
    if (bar) {
      *bar = '\0';
      save = bar + 1;
    }
    if (core_method_set_add(ms, name, err, errlen) < 0) {
      core_method_set_free(ms);
      return -1;
    }
  }
  arg->fixed = ms;
  return 0;
}

static void core_fixup_free_is_method(tz_modinst_t *mod, int idx,
                                      tz_arg_t *arg)
{
  (void)mod;
  (void)idx;
  core_method_set_free(arg->fixed);
  arg->fixed = NULL;
}

static int core_is_method(tz_msg_t *m, const tz_call_t *c)
{
  const method_set_t *ms = c->argv[0].fixed;
  const sip_t *sip = m->sip;
  sip_method_t code;
  const char *name;
  if (sip && sip->sip_request) {
    code = sip->sip_request->rq_method;
    name = sip->sip_request->rq_method_name;
  } else if (sip && sip->sip_cseq) {
    code = sip->sip_cseq->cs_method;
    name = sip->sip_cseq->cs_method_name;
  } else {
    return -1;
  }
  if (code > 0 && code < 32)
    return ms->mask & (UINT32_C(1) << code) ? 1 : -1;
  for (size_t i = 0; i < ms->next; i++)
    if (su_casematch(name, ms->ext[i]))
      return 1;
  return -1;
}

/* ---- dialog and address tests ------------------------------------------- */

static int core_has_totag(tz_msg_t *m, const tz_call_t *c)
{
  (void)c;
  return m->sip && m->sip->sip_to && m->sip->sip_to->a_tag ? 1 : -1;
}

static int core_is_myself(tz_msg_t *m, const tz_call_t *c)
{
  char *copy = su_strdup(m->home, c->argv[0].s);
  url_t u;
  if (!copy || url_d(&u, copy) < 0 || !u.url_host)
    return -1;
  return tz_is_myself(&u) ? 1 : -1;
}

/* ---- headers ------------------------------------------------------------ */

/* "Name: value" with a valid header name, so that Sofia does not take the
 * text for a message body or a continuation line. */
static int core_check_hf(const char *text, char *err, size_t errlen)
{
  const char *colon = strchr(text, ':');
  size_t n = colon ? (size_t)(colon - text) : 0;
  while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
    n--;
  char name[128];
  if (!colon || !n || n >= sizeof name) {
    snprintf(err, errlen, "expected \"Name: value\", not \"%s\"", text);
    return -1;
  }
  memcpy(name, text, n);
  name[n] = '\0';
  return hdr_validate(name, err, errlen);
}

static int core_fixup_append_hf(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                                char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  return core_check_hf(arg->s, err, errlen);
}

static int core_append_hf(tz_msg_t *m, const tz_call_t *c)
{
  const char *s = c->argv[0].s;
  size_t len = c->argv[0].len;
  char err[256];
  if (core_check_hf(s, err, sizeof err) < 0) {
    tz_script_log(TZ_LOG_ERR, c->loc, "append_hf: %s", err);
    return -1;
  }
  if (!len || s[len - 1] != '\n')
    s = su_sprintf(m->home, "%s\r\n", s);
  if (!s || msg_header_add_str(m->msg, (msg_pub_t *)m->sip, s) < 0) {
    tz_script_log(TZ_LOG_ERR, c->loc, "append_hf: cannot add \"%s\"",
            c->argv[0].s);
    return -1;
  }
  hdr_reprint_lists(m->msg, m->sip);
  return 1;
}

/* Each line "Name: value"; CRLF or LF between lines, the last one
 * optional. Written to out (room for twice the text) with CRLF line ends. */
static int core_reply_lines(const char *text, char *out, char *err,
                            size_t errlen)
{
  size_t n = 0, lines = 0;
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\r\n");
    char line[1024];
    if (len >= sizeof line) {
      snprintf(err, errlen, "header line longer than %zu octets", sizeof line - 1);
      return -1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    if (len && core_check_hf(line, err, errlen) < 0)
      return -1;
    lines += len > 0;
    if (out && len)
      n += (size_t)sprintf(out + n, "%s\r\n", line);
    p += len;
    p += *p == '\r';
    p += *p == '\n';
  }
  if (!lines) {
    snprintf(err, errlen, "no header given");
    return -1;
  }
  return 0;
}

static int core_fixup_append_to_reply(tz_modinst_t *mod, int idx,
                                      tz_arg_t *arg, char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  return core_reply_lines(arg->s, NULL, err, errlen);
}

static int core_append_to_reply(tz_msg_t *m, const tz_call_t *c)
{
  char err[256];
  char *lines = su_alloc(m->home, 2 * c->argv[0].len + 3);
  if (!lines || core_reply_lines(c->argv[0].s, lines, err, sizeof err) < 0) {
    tz_script_log(TZ_LOG_ERR, c->loc, "append_to_reply: %s",
            lines ? err : "out of memory");
    return -1;
  }
  return tz_msg_append_to_reply(m, lines) < 0 ? -1 : 1;
}

/* The header class goes into arg->fixed; it is static, nothing to free. */
static int core_fixup_hf_name(tz_modinst_t *mod, int idx, tz_arg_t *arg,
                              char *err, size_t errlen)
{
  (void)mod;
  (void)idx;
  if (hdr_validate(arg->s, err, errlen) < 0)
    return -1;
  arg->fixed = (void *)hdr_class(arg->s);
  return 0;
}

/* The first header named by a remove_hf/is_present_hf argument. */
static msg_header_t *core_find_hf(tz_msg_t *m, const tz_arg_t *name)
{
  msg_hclass_t *hc = name->fixed;
  msg_header_t **hh = hdr_slot(m, hc);
  if (hh)
    return *hh;
  for (sip_unknown_t *u = m->sip ? m->sip->sip_unknown : NULL; u;
       u = u->un_next)
    if (u->un_name && hdr_matches(hc, name->s, u->un_name))
      return (msg_header_t *)u;
  return NULL;
}

static int core_is_present_hf(tz_msg_t *m, const tz_call_t *c)
{
  return core_find_hf(m, &c->argv[0]) ? 1 : -1;
}

static int core_remove_hf(tz_msg_t *m, const tz_call_t *c)
{
  int n = 0;
  for (msg_header_t *h; (h = core_find_hf(m, &c->argv[0])); n++)
    if (msg_header_remove(m->msg, (msg_pub_t *)m->sip, h) < 0 ||
        core_find_hf(m, &c->argv[0]) == h)
      break;
  return n > 0 ? 1 : -1;
}

/* ---- the table ---------------------------------------------------------- */

const tz_func_export_t tz_sip_funcs[] = {
    {.name = "sl_reply",
     .handler = core_sl_reply,
     .min_args = 2,
     .max_args = 2,
     .args = {TZ_ARG_INT, TZ_ARG_FMT},
     .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
     .fixup = core_fixup_sl_reply,
     .doc = "sl_reply(code, reason): send a reply (100..699) to the request "
            "statelessly; reason may contain $pvars."},
    {.name = "is_method",
     .handler = core_is_method,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_STR},
     .const_mask = 1u << 0,
     .fixup = core_fixup_is_method,
     .fixup_free = core_fixup_free_is_method,
     .doc = "is_method(\"INVITE|REGISTER\"): true if the request method (in "
            "a reply, the CSeq method) is one of the list."},
    {.name = "has_totag",
     .handler = core_has_totag,
     .doc = "has_totag(): true if the To header has a tag (in-dialog)."},
    {.name = "is_myself",
     .handler = core_is_myself,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT},
     .doc = "is_myself(uri): true if the URI's host (and port) is one of "
            "our listen addresses or aliases."},
    {.name = "append_hf",
     .handler = core_append_hf,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT},
     .fixup = core_fixup_append_hf,
     .doc = "append_hf(\"Name: value\"): add a header to the message; the "
            "text may contain $pvars; the final CRLF is optional."},
    {.name = "append_to_reply",
     .handler = core_append_to_reply,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_FMT},
     .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
     .fixup = core_fixup_append_to_reply,
     .doc = "append_to_reply(\"Name: value\"): add the header (one or more "
            "lines; $pvars allowed; the final CRLF is optional) to every "
            "reply made for this request from now on: sl_reply, and the "
            "replies of modules (auth challenges, registrar, sanity)."},
    {.name = "remove_hf",
     .handler = core_remove_hf,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_STR},
     .const_mask = 1u << 0,
     .fixup = core_fixup_hf_name,
     .doc = "remove_hf(\"Name\"): remove every header of that name (full or "
            "compact form); true if any was removed."},
    {.name = "is_present_hf",
     .handler = core_is_present_hf,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_STR},
     .const_mask = 1u << 0,
     .fixup = core_fixup_hf_name,
     .doc = "is_present_hf(\"Name\"): true if the message has such a "
            "header."},
    {.name = "t_relay",
     .handler = tz_relay_fn_t_relay,
     .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
     .doc = "t_relay(): relay the request statefully to its R-URI (or $du) "
            "and every branch; 100 Trying for INVITE; reply and failure "
            "routes run for its responses. ACK and unmatched CANCEL go "
            "statelessly."},
    {.name = "forward",
     .handler = tz_relay_fn_forward,
     .route_mask = TZ_ROUTE_REQUEST,
     .doc = "forward(): relay the request statelessly: no retransmission, "
            "failover, forking or failure route."},
    {.name = "t_on_failure",
     .handler = tz_relay_fn_t_on_failure,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_ROUTE},
     .const_mask = 1u << 0,
     .route_mask = TZ_ROUTE_REQUEST | TZ_ROUTE_FAILURE,
     .doc = "t_on_failure(\"name\"): run failure_route[name] when every "
            "branch of the next t_relay() failed."},
    {.name = "t_check_status",
     .handler = tz_relay_fn_t_check_status,
     .min_args = 1,
     .max_args = 1,
     .args = {TZ_ARG_REGEX},
     .route_mask = TZ_ROUTE_REPLY | TZ_ROUTE_FAILURE,
     .doc = "t_check_status(\"regex\"): true if the reply status (reply "
            "route) or the winning failure status (failure route) matches."},
    {.name = "maxfwd_check",
     .handler = tz_relay_fn_maxfwd_check,
     .route_mask = TZ_ROUTE_REQUEST,
     .doc = "maxfwd_check(): false when Max-Forwards is 0 (reply 483); "
            "t_relay() and forward() decrement it, or add 70."},
    {0}};

const tz_lang_t tz_sip_lang = {tz_sip_funcs, tz_sip_pvars};
