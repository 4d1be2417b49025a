/*
 * respond.c - what the test harness writes on behalf of the peers: a
 * downstream UAS's response to a request the server relayed (`respond`),
 * and a UAC's answer to a digest challenge (`send ... with credentials`).
 *
 * Both are made from the message text alone, as a peer would, with
 * Sofia's MD5 (su_md5.h), not the auth module's code, so a test checks
 * the module against an independent implementation. MD5 is the one
 * algorithm the harness answers: the server offers it beside SHA-256
 * (RFC 7616 3.7: a client picks the first it supports).
 *
 * Owns nothing beyond each call: the text returned is the caller's.
 */
#define _GNU_SOURCE
#include "test/harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_md5.h>

/* ---- a growing string ------------------------------------------------------ */

typedef struct tt_str {
  char *s;
  size_t len, cap;
  int failed;
} tt_str_t;

static void str_add(tt_str_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void str_add(tt_str_t *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *piece = NULL;
  int n = vasprintf(&piece, fmt, ap);
  va_end(ap);
  if (n < 0 || b->failed) {
    b->failed = 1;
    free(n < 0 ? NULL : piece);
    return;
  }
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->len + (size_t)n + 1) * 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->failed = 1;
      free(piece);
      return;
    }
    b->s = s, b->cap = cap;
  }
  memcpy(b->s + b->len, piece, (size_t)n + 1);
  b->len += (size_t)n;
  free(piece);
}

static char *str_take(tt_str_t *b)
{
  if (b->failed) {
    free(b->s);
    return NULL;
  }
  return b->s;
}

/* Every occurrence of header name, as written, one line each. */
static void str_copy_headers(tt_str_t *b, const char *text, const char *name)
{
  size_t len;
  const char *v;
  for (unsigned i = 1; (v = tt_header(text, name, i, &len)) != NULL; i++)
    str_add(b, "%s: %.*s\r\n", name, (int)len, v);
}

/* ---- respond ------------------------------------------------------------------ */

static int has_tag(const char *v, size_t len)
{
  for (size_t i = 0; i + 4 <= len; i++)
    if (strncasecmp(v + i, ";tag=", 5) == 0 || strncasecmp(v + i, "; tag=", 6) == 0)
      return 1;
  return 0;
}

static void respond_to_header(tt_str_t *b, const tt_msg_t *req, const sipt_item_t *it)
{
  size_t len = 0;
  const char *to = tt_header(req->text, "To", 1, &len);
  if (!to)
    return;
  if (has_tag(to, len) || it->n == 100)
    str_add(b, "To: %.*s\r\n", (int)len, to);
  else
    str_add(b, "To: %.*s;tag=t%u\r\n", (int)len, to, it->line);
}

char *tt_make_response(const tt_msg_t *req, const sipt_item_t *it)
{
  tt_str_t b = {0};
  const char *reason = it->b ? it->b : sip_status_phrase(it->n);
  str_add(&b, "SIP/2.0 %d %s\r\n", it->n, reason ? reason : "Unknown");
  str_copy_headers(&b, req->text, "Via");
  str_copy_headers(&b, req->text, "From");
  respond_to_header(&b, req, it);
  str_copy_headers(&b, req->text, "Call-ID");
  str_copy_headers(&b, req->text, "CSeq");
  if (it->n > 100 && it->n < 300)
    str_copy_headers(&b, req->text, "Record-Route");
  if (it->n > 100 && it->n < 300 && strcmp(req->method, "INVITE") == 0)
    str_add(&b, "Contact: <sip:%s:%u>\r\n", req->dst_host, req->dst_port);
  if (it->msg)
    str_add(&b, "%s", it->msg);
  str_add(&b, "Content-Length: 0\r\n\r\n");
  return str_take(&b);
}

/* ---- credentials -------------------------------------------------------------- */

/* The value of parameter name in a challenge, unquoted, into out. */
static int param_get(const char *v, size_t len, const char *name, char *out, size_t outlen)
{
  size_t n = strlen(name);
  for (size_t i = 0; i + n < len; i++) {
    if ((i > 0 && isalnum((unsigned char)v[i - 1])) || strncasecmp(v + i, name, n) ||
        v[i + n] != '=')
      continue;
    const char *p = v + i + n + 1, *end = v + len;
    int quoted = p < end && *p == '"';
    p += quoted;
    size_t k = 0;
    while (p < end && k + 1 < outlen && (quoted ? *p != '"' : *p != ',' && *p != ' '))
      out[k++] = *p++;
    out[k] = '\0';
    return 0;
  }
  return -1;
}

typedef struct challenge {
  int proxy; /* 407 */
  char realm[128], nonce[256], opaque[256], qop[64];
} challenge_t;

/* The MD5 offer in the file's last 401 or 407. */
static int find_challenge(const tt_run_t *r, challenge_t *c, char *err, size_t errlen)
{
  const tt_msg_t *m = &r->challenge;
  if (!m->text) {
    snprintf(err, errlen, "'with credentials' needs a 401 or 407 earlier in the file");
    return -1;
  }
  c->proxy = m->status == 407;
  const char *name = c->proxy ? "Proxy-Authenticate" : "WWW-Authenticate", *v;
  size_t len;
  char alg[32];
  for (unsigned k = 1; (v = tt_header(m->text, name, k, &len)) != NULL; k++)
    if ((param_get(v, len, "algorithm", alg, sizeof alg) < 0 ||
         strcasecmp(alg, "MD5") == 0) &&
        param_get(v, len, "realm", c->realm, sizeof c->realm) == 0 &&
        param_get(v, len, "nonce", c->nonce, sizeof c->nonce) == 0) {
      if (param_get(v, len, "opaque", c->opaque, sizeof c->opaque) < 0)
        c->opaque[0] = '\0';
      if (param_get(v, len, "qop", c->qop, sizeof c->qop) < 0)
        c->qop[0] = '\0';
      return 0;
    }
  snprintf(err, errlen, "the last %d offers no MD5 challenge the harness can answer",
           m->status);
  return -1;
}

static void md5_hex(char out[33], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void md5_hex(char out[33], const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  su_md5_t ctx;
  su_md5_init(&ctx);
  su_md5_update(&ctx, buf, strlen(buf));
  su_md5_hexdigest(&ctx, out);
  su_md5_deinit(&ctx);
}

/* RFC 7616 3.4.1 with qop=auth when offered, RFC 2069's form when not. */
static void credentials(tt_str_t *b, const challenge_t *c, const sipt_item_t *it,
                        const char *method, const char *uri, unsigned nc)
{
  static const char cnonce[] = "0a4f113b";
  char ha1[33], ha2[33], resp[33];
  md5_hex(ha1, "%s:%s:%s", it->user, c->realm, it->password);
  md5_hex(ha2, "%s:%s", method, uri);
  int qop = strstr(c->qop, "auth") != NULL;
  if (qop)
    md5_hex(resp, "%s:%s:%08x:%s:auth:%s", ha1, c->nonce, nc, cnonce, ha2);
  else
    md5_hex(resp, "%s:%s:%s", ha1, c->nonce, ha2);
  str_add(b, "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
          "response=\"%s\", algorithm=MD5",
          c->proxy ? "Proxy-Authorization" : "Authorization", it->user, c->realm,
          c->nonce, uri, resp);
  if (qop)
    str_add(b, ", qop=auth, nc=%08x, cnonce=\"%s\"", nc, cnonce);
  if (c->opaque[0])
    str_add(b, ", opaque=\"%s\"", c->opaque);
  str_add(b, "\r\n");
}

/* Each answer to the same challenge counts up (RFC 7616 3.4: a server may
 * refuse a nonce count it has seen). */
char *tt_add_credentials(tt_run_t *r, const sipt_item_t *it, char *err,
                         size_t errlen)
{
  challenge_t c;
  tt_msg_t first = {.text = it->msg};
  const char *eol = strstr(it->msg, "\r\n");
  if (find_challenge(r, &c, err, errlen) < 0)
    return NULL;
  tt_parse_first_line(&first);
  if (!eol || first.status) {
    snprintf(err, errlen, "'with credentials' needs a request");
    return NULL;
  }
  tt_str_t b = {0};
  str_add(&b, "%.*s", (int)(eol + 2 - it->msg), it->msg);
  credentials(&b, &c, it, first.method, first.ruri, ++r->nc);
  str_add(&b, "%s", eol + 2);
  return str_take(&b);
}
