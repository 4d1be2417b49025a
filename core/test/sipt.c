/*
 * sipt.c - the .sipt script-test parser: the line grammar, the message
 * blocks indented under send and respond (turned into wire text), the
 * fixtures (turned into control-command JSON), and the first mistake,
 * reported gcc-style. The parsed file is one su_home that owns every item
 * and string; sipt_free releases it.
 */
#define _XOPEN_SOURCE 700 /* strptime */
#include "test/sipt.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/su_alloc.h>

#include "lib/suggest.h"

/* A message is a datagram or a TCP write: a block past this is a typo
 * (a lost dedent), not a message. */
#define SIPT_MAX_BLOCK 65536
#define SIPT_MAX_FILE (16 * 1024 * 1024)
#define SIPT_MAX_REPEAT 100000

struct sipt_file {
  su_home_t home[1]; /* first: the file is its own home */
  char *name;
  sipt_item_t *items;
  size_t n, cap;
};

/* Text growing in a home (NUL-terminated at every step); an allocation
 * failure sticks and is reported once, when the text is taken. */
typedef struct buf {
  su_home_t *home;
  char *s;
  size_t len, cap;
  int oom;
} buf_t;

typedef struct lineit {
  const char *p, *end; /* the next line starts at p */
  unsigned no;         /* and has this number */
} lineit_t;

typedef struct line {
  const char *s;
  size_t len; /* without the line break (LF or CRLF) */
  unsigned no;
} line_t;

typedef struct tok {
  char *s; /* NUL-terminated in the parser's copy of the line */
  unsigned col;
  int quoted;
} tok_t;

/* The indented lines after a send or respond. */
typedef struct block {
  lineit_t it;     /* at its first non-blank line */
  const char *end; /* just after its last line; NULL: no block */
  size_t indent;   /* the indentation all its lines share, in bytes */
} block_t;

typedef struct parser {
  sipt_file_t *f;
  const char *name; /* for diagnostics */
  lineit_t it;      /* the next unread line */
  unsigned line;    /* the line being parsed */
  char *buf;        /* its copy, cut into tokens in place */
  size_t bufcap;
  char *cur;         /* the next character to tokenize */
  const char *prev;  /* the last token read, for "missing X after 'prev'" */
  const char *kw;    /* the line's keyword */
  buf_t json;        /* the fixture being built */
  char *err;
  size_t errlen;
  int failed, oom;
  unsigned script_line;  /* where 'script' was given; 0: not yet */
  const char *case_name; /* the current case; NULL before the first */
  int have_step;         /* a send or respond in the current case */
} parser_t;

/* A keyword table, NULL-terminated; arg is what the caller needs. */
typedef struct kw {
  const char *name;
  int (*fn)(parser_t *P, sipt_item_t *it);
  int arg;
} kw_t;

/* ---- diagnostics ---- */

static int perr_at(parser_t *P, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Only the first error: the ones after it are usually its echoes. */
static int perr_at(parser_t *P, unsigned line, unsigned col, const char *fmt, ...)
{
  if (P->failed)
    return -1;
  P->failed = 1;
  if (!P->err || !P->errlen)
    return -1;
  int n = snprintf(P->err, P->errlen, "%s:%u:%u: error: ", P->name, line, col);
  if (n < 0 || (size_t)n >= P->errlen)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(P->err + n, P->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

#define perr(P, col, ...) perr_at((P), (P)->line, (col), __VA_ARGS__)

/* ---- text building ---- */

static void buf_add(buf_t *b, const char *s, size_t n)
{
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = su_realloc(b->home, b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
  buf_add(b, s, strlen(s));
}

/* A JSON string: quote, backslash and control characters escaped. */
static void buf_json(buf_t *b, const char *s)
{
  buf_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\')
      buf_add(b, (char[]){'\\', (char)c}, 2);
    else if (c < 0x20)
      buf_add(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    else
      buf_add(b, s, 1);
  }
  buf_add(b, "\"", 1);
}

static int buf_take(parser_t *P, buf_t *b, char **out, size_t *len)
{
  if (b->oom)
    return perr(P, 1, "out of memory");
  *out = b->s;
  if (len)
    *len = b->len;
  return 0;
}

static char *keep(parser_t *P, const char *s)
{
  char *d = su_strdup(P->f->home, s);
  P->oom |= !d;
  return d;
}

/* ---- lines and tokens ---- */

static int is_blank(int c)
{
  return c == ' ' || c == '\t';
}

static int line_next(lineit_t *it, line_t *l)
{
  if (it->p >= it->end)
    return 0;
  const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
  const char *e = nl ? nl : it->end;
  l->s = it->p;
  l->len = (size_t)(e - it->p);
  l->no = it->no++;
  if (l->len && l->s[l->len - 1] == '\r')
    l->len--;
  it->p = nl ? nl + 1 : it->end;
  return 1;
}

static int line_is_blank(const line_t *l)
{
  for (size_t i = 0; i < l->len; i++)
    if (!is_blank(l->s[i]))
      return 0;
  return 1;
}

static int line_load(parser_t *P, const line_t *l)
{
  if (l->len + 1 > P->bufcap) {
    char *p = realloc(P->buf, l->len + 1);
    if (!p)
      return perr_at(P, l->no, 1, "out of memory");
    P->buf = p;
    P->bufcap = l->len + 1;
  }
  memcpy(P->buf, l->s, l->len);
  P->buf[l->len] = '\0';
  P->cur = P->buf;
  P->line = l->no;
  P->prev = NULL;
  return 0;
}

static unsigned col_of(const parser_t *P, const char *at)
{
  return (unsigned)(at - P->buf) + 1;
}

/* Whether s starts with the bare word w. */
static int word_at(const char *s, const char *w)
{
  size_t n = strlen(w);
  return !strncmp(s, w, n) && (!s[n] || is_blank(s[n]));
}

static int tok_bare(parser_t *P, tok_t *t)
{
  char *s = t->s;
  while (*s && !is_blank(*s))
    s++;
  P->cur = *s ? s + 1 : s;
  *s = '\0';
  return 1;
}

/* Decodes in place: the text shrinks, so what follows the closing quote
 * stays where it was and its columns stay right. */
static int tok_quoted(parser_t *P, tok_t *t)
{
  char *r = t->s + 1, *w = t->s;
  for (; *r && *r != '"'; r++) {
    if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
      r++;
    *w++ = *r;
  }
  if (!*r)
    return perr(P, t->col, "unterminated quoted string");
  *w = '\0';
  P->cur = r + 1;
  if (*P->cur && !is_blank(*P->cur) && *P->cur != '#')
    return perr(P, col_of(P, P->cur), "expected a space after the closing quote");
  return 1;
}

/* The next token: 1, 0 at the end of the line (or a comment), -1 on error.
 * '#' starts a comment only where a token would start, so that "Via#2"
 * is one word. */
static int tok_next(parser_t *P, tok_t *t)
{
  char *s = P->cur;
  while (is_blank(*s))
    s++;
  P->cur = t->s = s;
  t->col = col_of(P, s);
  t->quoted = *s == '"';
  if (!*s || *s == '#')
    return 0;
  int r = t->quoted ? tok_quoted(P, t) : tok_bare(P, t);
  if (r > 0)
    P->prev = t->s;
  return r;
}

static int tok_need(parser_t *P, tok_t *t, const char *what)
{
  const char *prev = P->prev;
  int r = tok_next(P, t);
  return r ? r : perr(P, t->col, "missing %s after '%s'", what, prev);
}

static int tok_need_quoted(parser_t *P, tok_t *t, const char *what)
{
  if (tok_need(P, t, what) < 0)
    return -1;
  return t->quoted ? 0
                   : perr(P, t->col, "expected a quoted %s, found '%s'", what, t->s);
}

/* The next token must be the word w. */
static int tok_want(parser_t *P, const char *w)
{
  char what[32];
  tok_t t;
  snprintf(what, sizeof what, "'%s'", w);
  if (tok_need(P, &t, what) < 0)
    return -1;
  return strcmp(t.s, w) ? perr(P, t.col, "expected '%s', found '%s'", w, t.s) : 0;
}

/* Consumes the next token if it is the bare word w. */
static int tok_word(parser_t *P, const char *w)
{
  tok_t t;
  return word_at(P->cur + strspn(P->cur, " \t"), w) && tok_next(P, &t) > 0;
}

static int tok_end(parser_t *P)
{
  const char *prev = P->prev;
  tok_t t;
  int r = tok_next(P, &t);
  return r > 0 ? perr(P, t.col, "unexpected '%s' after '%s'", t.s, prev) : r;
}

/* ---- values ---- */

static int tok_uint(parser_t *P, const tok_t *t, unsigned long lo, unsigned long hi,
                    const char *what, unsigned long *out)
{
  char *e = t->s;
  errno = 0;
  unsigned long v = isdigit((unsigned char)*e) ? strtoul(t->s, &e, 10) : 0;
  if (e == t->s || *e || errno || v < lo || v > hi)
    return perr(P, t->col, "%s must be a number from %lu to %lu, not '%s'", what,
                lo, hi, t->s);
  *out = v;
  return 0;
}

static int tok_num(parser_t *P, const char *what, unsigned long lo,
                   unsigned long hi, unsigned long *out)
{
  tok_t t;
  return tok_need(P, &t, what) < 0 ? -1 : tok_uint(P, &t, lo, hi, what, out);
}

/* RFC 3261 token characters: methods and header names. */
static size_t token_len(const char *s, size_t n)
{
  size_t i = 0;
  while (i < n && (isalnum((unsigned char)s[i]) || strchr("-.!%*_+`'~", s[i])))
    i++;
  return i;
}

static int tok_method(parser_t *P, tok_t *t)
{
  if (tok_need(P, t, "method") < 0)
    return -1;
  size_t n = strlen(t->s);
  return token_len(t->s, n) == n ? 0 : perr(P, t->col, "bad method '%s'", t->s);
}

/* An identifier, plus the characters in extra: module and parameter
 * names have no '.' or '=', which would make "MOD.PARAM=VALUE" ambiguous. */
static int tok_ident(parser_t *P, tok_t *t, const char *what, const char *extra)
{
  if (tok_need(P, t, what) < 0)
    return -1;
  const char *s = t->s;
  while (isalnum((unsigned char)*s) || *s == '_' || (*s && strchr(extra, *s)))
    s++;
  return s > t->s && !*s ? 0 : perr(P, t->col, "bad %s '%s'", what, t->s);
}

/* Only the scheme is checked: the runner compares URIs as text. */
static int uri_check(parser_t *P, const tok_t *t)
{
  static const char scheme[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
  size_t n = isalpha((unsigned char)*t->s) ? strspn(t->s, scheme) : 0;
  if (!n || t->s[n] != ':' || !t->s[n + 1])
    return perr(P, t->col, "bad URI '%s' (expected scheme:...)", t->s);
  return 0;
}

static int tok_uri(parser_t *P, tok_t *t, const char *what)
{
  return tok_need(P, t, what) < 0 ? -1 : uri_check(P, t);
}

static int tok_name(parser_t *P, tok_t *t, const char *what)
{
  static const char chars[] = "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
  if (tok_need(P, t, what) < 0)
    return -1;
  size_t n = strspn(t->s, chars);
  return n && !t->s[n] ? 0 : perr(P, t->col, "bad %s '%s'", what, t->s);
}

/* Compiled once here so a bad pattern is reported where it is written,
 * not when the case runs. */
static int tok_ere(parser_t *P, tok_t *t)
{
  if (tok_need_quoted(P, t, "regular expression") < 0)
    return -1;
  regex_t re;
  int rc = regcomp(&re, t->s, REG_EXTENDED | REG_NOSUB);
  if (!rc) {
    regfree(&re);
    return 0;
  }
  char msg[128];
  regerror(rc, &re, msg, sizeof msg);
  return perr(P, t->col, "bad regular expression: %s", msg);
}

/* "IP:PORT" or "[IPv6]:PORT"; host keeps the IPv6 without brackets. */
static int tok_addr(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_need(P, &t, "source address") < 0)
    return -1;
  int v6 = *t.s == '[';
  char *host = t.s + v6, *end = v6 ? strchr(host, ']') : strrchr(host, ':');
  char h[INET6_ADDRSTRLEN] = "";
  unsigned char ip[16];
  size_t hl = end ? (size_t)(end - host) : sizeof h;
  if (hl < sizeof h) {
    memcpy(h, host, hl);
    h[hl] = '\0';
  }
  if (hl >= sizeof h || (v6 && end[1] != ':') ||
      inet_pton(v6 ? AF_INET6 : AF_INET, h, ip) != 1)
    return perr(P, t.col, "bad address '%s' (expected IP:PORT or [IPv6]:PORT)", t.s);
  tok_t port = {end + 1 + v6, t.col + (unsigned)(end + 1 + v6 - t.s), 0};
  unsigned long v;
  if (tok_uint(P, &port, 1, 65535, "port", &v) < 0)
    return -1;
  it->host = keep(P, h);
  it->port = (unsigned)v;
  return 0;
}

/* ---- keyword tables ---- */

static const kw_t *kw_find(const kw_t *tab, const char *name)
{
  for (; tab->name; tab++)
    if (!strcmp(tab->name, name))
      return tab;
  return NULL;
}

static int kw_unknown(parser_t *P, const tok_t *t, const char *what,
                      const char *prefix, const kw_t *tab)
{
  suggest_t sg;
  char hint[96];
  suggest_init(&sg, t->s);
  for (; tab->name; tab++)
    suggest_add(&sg, tab->name);
  return perr(P, t->col, "unknown %s '%s%s'%s", what, prefix, t->s,
              suggest_hint(&sg, prefix, hint, sizeof hint));
}

/* Reads a keyword of tab, or reports it unknown with a did-you-mean. */
static const kw_t *kw_read(parser_t *P, const kw_t *tab, const char *what,
                           const char *prefix)
{
  tok_t t;
  if (tok_need(P, &t, what) < 0)
    return NULL;
  const kw_t *k = kw_find(tab, t.s);
  if (!k)
    kw_unknown(P, &t, what, prefix, tab);
  return k;
}

/* ---- NAME=VALUE options ---- */

enum { OPT_EXPIRES, OPT_TTL, OPT_Q, OPT_URI };

typedef struct optval {
  char *s; /* NULL: not given */
  unsigned long n;
} optval_t;

/* A SIP q-value, 0 to 1 with at most three decimals: valid JSON as is. */
static int q_check(parser_t *P, const tok_t *t)
{
  const char *s = t->s;
  int ok = *s == '0' || *s == '1';
  if (ok && s[1] == '.') {
    size_t d = strspn(s + 2, *s == '1' ? "0" : "0123456789");
    ok = d >= 1 && d <= 3 && !s[2 + d];
  } else {
    ok = ok && !s[1];
  }
  return ok ? 0 : perr(P, t->col, "q must be from 0 to 1 with at most 3 decimals, not '%s'", s);
}

static int opt_check(parser_t *P, const kw_t *o, optval_t *v, unsigned col)
{
  tok_t t = {v->s, col, 0};
  switch (o->arg) {
  case OPT_EXPIRES:
    return tok_uint(P, &t, 1, INT32_MAX, o->name, &v->n);
  case OPT_TTL:
    return tok_uint(P, &t, 0, INT32_MAX, o->name, &v->n);
  case OPT_Q:
    return q_check(P, &t);
  default:
    return uri_check(P, &t);
  }
}

/* The options of tab to the end of the line, each at most once, into
 * vals (indexed as tab). */
static int opts_parse(parser_t *P, const kw_t *tab, optval_t *vals)
{
  for (;;) {
    const char *prev = P->prev;
    tok_t t;
    int r = tok_next(P, &t);
    if (r <= 0)
      return r;
    char *eq = strchr(t.s, '=');
    if (!eq || t.quoted)
      return perr(P, t.col, "unexpected '%s' after '%s'", t.s, prev);
    *eq = '\0';
    const kw_t *o = kw_find(tab, t.s);
    if (!o)
      return kw_unknown(P, &t, "option", "", tab);
    if (vals[o - tab].s)
      return perr(P, t.col, "option '%s' given twice", o->name);
    vals[o - tab].s = eq + 1;
    if (opt_check(P, o, &vals[o - tab], t.col + (unsigned)(eq + 1 - t.s)) < 0)
      return -1;
    *eq = '=';
  }
}

/* ---- fixtures: control commands with JSON params ---- */

static void json_begin(parser_t *P)
{
  P->json = (buf_t){.home = P->f->home};
  buf_add(&P->json, "{", 1);
}

static void json_key(parser_t *P, const char *key)
{
  if (P->json.len > 1)
    buf_add(&P->json, ",", 1);
  buf_json(&P->json, key);
  buf_add(&P->json, ":", 1);
}

static void json_str(parser_t *P, const char *key, const char *val)
{
  json_key(P, key);
  buf_json(&P->json, val);
}

static void json_num(parser_t *P, const char *key, unsigned long v)
{
  char n[24];
  json_key(P, key);
  buf_add(&P->json, n, (size_t)snprintf(n, sizeof n, "%lu", v));
}

static int json_end(parser_t *P, sipt_item_t *it, const char *command)
{
  buf_add(&P->json, "}", 1);
  it->kind = SIPT_FIXTURE;
  it->a = keep(P, command);
  it->b = keep(P, P->kw);
  return buf_take(P, &P->json, &it->text, NULL);
}

static int p_subscriber(parser_t *P, sipt_item_t *it)
{
  tok_t who, pw;
  if (tok_need(P, &who, "USER@DOMAIN") < 0)
    return -1;
  char *at = strchr(who.s, '@');
  if (!at || at == who.s || !at[1] || strchr(at + 1, '@'))
    return perr(P, who.col, "expected USER@DOMAIN, found '%s'", who.s);
  if (tok_need(P, &pw, "password") < 0 || tok_end(P) < 0)
    return -1;
  *at = '\0';
  json_begin(P);
  json_str(P, "username", who.s);
  json_str(P, "domain", at + 1);
  json_str(P, "password", pw.s);
  return json_end(P, it, "auth.subscriber_add");
}

static const kw_t binding_opts[] = {{"expires", NULL, OPT_EXPIRES},
                                    {"q", NULL, OPT_Q},
                                    {"received", NULL, OPT_URI},
                                    {NULL, NULL, 0}};

static int p_binding(parser_t *P, sipt_item_t *it)
{
  tok_t aor, contact;
  optval_t v[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
  if (tok_uri(P, &aor, "AOR") < 0 || tok_uri(P, &contact, "contact") < 0 ||
      opts_parse(P, binding_opts, v) < 0)
    return -1;
  json_begin(P);
  json_str(P, "aor", aor.s);
  json_str(P, "contact", contact.s);
  json_num(P, "expires", v[0].s ? v[0].n : 3600);
  if (v[1].s) {
    json_key(P, "q");
    buf_str(&P->json, v[1].s);
  }
  if (v[2].s)
    json_str(P, "received", v[2].s);
  return json_end(P, it, "location.add");
}

static const kw_t ttl_opts[] = {{"ttl", NULL, OPT_TTL}, {NULL, NULL, 0}};

static int dns_ttl(parser_t *P)
{
  optval_t v[1] = {{NULL, 0}};
  if (opts_parse(P, ttl_opts, v) < 0)
    return -1;
  if (v[0].s)
    json_num(P, "ttl", v[0].n);
  return 0;
}

static int dns_addr(parser_t *P, int af)
{
  tok_t name, addr;
  unsigned char ip[16];
  if (tok_name(P, &name, "domain name") < 0 || tok_need(P, &addr, "address") < 0)
    return -1;
  if (inet_pton(af, addr.s, ip) != 1)
    return perr(P, addr.col, "bad %s address '%s'", af == AF_INET ? "IPv4" : "IPv6",
                addr.s);
  json_str(P, "name", name.s);
  json_str(P, "address", addr.s);
  return dns_ttl(P);
}

static int dns_srv(parser_t *P)
{
  tok_t name, target;
  unsigned long prio, weight, port;
  if (tok_name(P, &name, "domain name") < 0 ||
      tok_num(P, "priority", 0, 65535, &prio) < 0 ||
      tok_num(P, "weight", 0, 65535, &weight) < 0 ||
      tok_num(P, "port", 0, 65535, &port) < 0 || tok_name(P, &target, "target") < 0)
    return -1;
  json_str(P, "name", name.s);
  json_num(P, "priority", prio);
  json_num(P, "weight", weight);
  json_num(P, "port", port);
  json_str(P, "target", target.s);
  return dns_ttl(P);
}

static int dns_naptr(parser_t *P)
{
  tok_t name, flags, service, regexp, repl;
  unsigned long order, pref;
  if (tok_name(P, &name, "domain name") < 0 ||
      tok_num(P, "order", 0, 65535, &order) < 0 ||
      tok_num(P, "preference", 0, 65535, &pref) < 0 ||
      tok_need_quoted(P, &flags, "flags") < 0 ||
      tok_need_quoted(P, &service, "service") < 0 ||
      tok_need_quoted(P, &regexp, "regexp") < 0 ||
      tok_name(P, &repl, "replacement") < 0)
    return -1;
  json_str(P, "name", name.s);
  json_num(P, "order", order);
  json_num(P, "preference", pref);
  json_str(P, "flags", flags.s);
  json_str(P, "service", service.s);
  json_str(P, "regexp", regexp.s);
  json_str(P, "replacement", repl.s);
  return dns_ttl(P);
}

static int dns_nx(parser_t *P)
{
  tok_t name;
  if (tok_name(P, &name, "domain name") < 0 || tok_end(P) < 0)
    return -1;
  json_str(P, "name", name.s);
  return 0;
}

enum { DNS_A, DNS_AAAA, DNS_SRV, DNS_NAPTR, DNS_NXDOMAIN };
static const kw_t dns_types[] = {
    {"A", NULL, DNS_A},         {"AAAA", NULL, DNS_AAAA},
    {"SRV", NULL, DNS_SRV},     {"NAPTR", NULL, DNS_NAPTR},
    {"NXDOMAIN", NULL, DNS_NXDOMAIN}, {NULL, NULL, 0}};

static int dns_record(parser_t *P, int type)
{
  switch (type) {
  case DNS_A:
    return dns_addr(P, AF_INET);
  case DNS_AAAA:
    return dns_addr(P, AF_INET6);
  case DNS_SRV:
    return dns_srv(P);
  case DNS_NAPTR:
    return dns_naptr(P);
  default:
    return dns_nx(P);
  }
}

static int p_dns(parser_t *P, sipt_item_t *it)
{
  const kw_t *k = kw_read(P, dns_types, "dns type", "");
  if (!k)
    return -1;
  json_begin(P);
  json_str(P, "type", k->name);
  return dns_record(P, k->arg) < 0 ? -1 : json_end(P, it, "dns.zone_add");
}

/* The length of the {...} at s, braces and brackets balanced outside
 * strings, or 0 if the line ends first. Only its shape is checked here:
 * the server parses it. */
static size_t json_span(const char *s)
{
  int depth = 0, in_str = 0;
  for (const char *p = s; *p; p++) {
    if (in_str && *p == '\\' && p[1])
      p++;
    else if (*p == '"')
      in_str = !in_str;
    else if (!in_str && (*p == '{' || *p == '['))
      depth++;
    else if (!in_str && (*p == '}' || *p == ']') && --depth == 0)
      return (size_t)(p - s) + 1;
  }
  return 0;
}

static int p_control(parser_t *P, sipt_item_t *it)
{
  tok_t cmd, t;
  if (tok_ident(P, &cmd, "command name", ".") < 0)
    return -1;
  char *s = P->cur + strspn(P->cur, " \t");
  if (*s != '{')
    return tok_need(P, &t, "JSON object") < 0
               ? -1
               : perr(P, t.col, "expected a JSON object, found '%s'", t.s);
  size_t n = json_span(s);
  if (!n)
    return perr(P, col_of(P, s), "unterminated JSON object");
  it->kind = SIPT_FIXTURE;
  it->a = keep(P, cmd.s);
  it->b = keep(P, "control");
  it->text = su_strndup(P->f->home, s, n);
  P->oom |= !it->text;
  P->cur = s + n;
  P->prev = "}";
  return tok_end(P);
}

/* ---- directives and cases ---- */

static int p_script(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (P->script_line)
    return perr(P, it->col, "'script' given twice (first at line %u)", P->script_line);
  if (tok_need(P, &t, "path") < 0 || tok_end(P) < 0)
    return -1;
  it->kind = SIPT_SCRIPT;
  it->text = keep(P, t.s);
  P->script_line = it->line;
  return 0;
}

static int p_modparam(parser_t *P, sipt_item_t *it)
{
  tok_t mod, param, value;
  if (tok_ident(P, &mod, "module name", "") < 0 ||
      tok_ident(P, &param, "parameter name", "") < 0 ||
      tok_need(P, &value, "value") < 0 || tok_end(P) < 0)
    return -1;
  it->kind = SIPT_MODPARAM;
  it->text = su_sprintf(P->f->home, "%s.%s=%s", mod.s, param.s, value.s);
  P->oom |= !it->text;
  return 0;
}

/* listen [udp:]HOST[:PORT]: replaces the script's listen= lines, as -l
 * does (scripts that leave the address to the command line). */
static int p_listen(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_need(P, &t, "listen address") < 0 || tok_end(P) < 0)
    return -1;
  it->kind = SIPT_LISTEN;
  it->text = keep(P, t.s);
  return 0;
}

/* clock YYYY-MM-DDTHH:MM:SSZ: where the virtual clock starts (UTC). */
static int p_clock(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  struct tm tm = {0};
  if (P->case_name)
    return perr(P, it->col, "'clock' must come before the first 'case'");
  if (tok_need(P, &t, "time") < 0)
    return -1;
  const char *end = strptime(t.s, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end)
    return perr(P, t.col, "a time is YYYY-MM-DDTHH:MM:SSZ (UTC), not '%s'", t.s);
  it->kind = SIPT_CLOCK;
  it->text = keep(P, t.s);
  return tok_end(P);
}

static int p_case(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_need_quoted(P, &t, "case name") < 0 || tok_end(P) < 0)
    return -1;
  if (!*t.s)
    return perr(P, t.col, "empty case name");
  for (size_t i = 0; i < P->f->n; i++) {
    const sipt_item_t *c = &P->f->items[i];
    if (c->kind == SIPT_CASE && !strcmp(c->a, t.s))
      return perr(P, t.col, "case \"%s\" already defined at line %u", t.s, c->line);
  }
  it->kind = SIPT_CASE;
  it->a = keep(P, t.s);
  P->case_name = it->a;
  P->have_step = 0;
  return 0;
}

/* ---- message blocks ---- */

/* Finds the block after the current line: the indented lines that follow,
 * with the blank lines between them; blank lines after it are left to the
 * main loop, so the line numbers of what follows stay right. */
static int block_scan(parser_t *P, block_t *b)
{
  lineit_t it = P->it;
  line_t l, first = {NULL, 0, 0};
  *b = (block_t){.end = NULL};
  for (lineit_t at = it; line_next(&it, &l); at = it) {
    if (line_is_blank(&l))
      continue;
    if (!is_blank(l.s[0]))
      break;
    if (!b->end) {
      b->it = at;
      first = l;
      b->indent = strspn(l.s, " \t");
    }
    while (b->indent && strncmp(l.s, first.s, b->indent))
      b->indent--;
    b->end = P->it.p = it.p;
    P->it.no = it.no;
  }
  if (b->end && b->end - b->it.p > SIPT_MAX_BLOCK)
    return perr_at(P, first.no, 1, "message block longer than %d bytes", SIPT_MAX_BLOCK);
  return 0;
}

/* The block's next line, indentation stripped; blank lines come empty. */
static int block_next(block_t *b, line_t *l)
{
  if (b->it.p >= b->end || !line_next(&b->it, l))
    return 0;
  if (line_is_blank(l))
    l->len = 0;
  else {
    l->s += b->indent;
    l->len -= b->indent;
  }
  return 1;
}

/* Whether a header line is a Content-Length (or its compact "l"); *value
 * is where its value starts. */
static int hdr_is_cl(const line_t *l, size_t *value)
{
  const char *colon = memchr(l->s, ':', l->len);
  if (!colon)
    return 0;
  size_t n = (size_t)(colon - l->s), v = n + 1;
  while (n && is_blank(l->s[n - 1]))
    n--;
  while (v < l->len && is_blank(l->s[v]))
    v++;
  *value = v;
  return (n == 14 && !strncasecmp(l->s, "content-length", 14)) ||
         (n == 1 && tolower((unsigned char)l->s[0]) == 'l');
}

static int hdr_is_auto_cl(const line_t *l, size_t *value)
{
  if (!hdr_is_cl(l, value))
    return 0;
  size_t n = l->len;
  while (n > *value && is_blank(l->s[n - 1]))
    n--;
  return n - *value == 4 && !strncasecmp(l->s + *value, "auto", 4);
}

/* The body's length on the wire, and whether a Content-Length is written. */
static size_t msg_measure(block_t b, int *has_cl)
{
  line_t l;
  size_t body = 0, v;
  int in_body = 0;
  *has_cl = 0;
  while (block_next(&b, &l)) {
    if (in_body)
      body += l.len + 2;
    else if (!l.len)
      in_body = 1;
    else
      *has_cl |= hdr_is_cl(&l, &v);
  }
  return body;
}

static void msg_end_headers(buf_t *out, int has_cl, const char *len)
{
  if (!has_cl) {
    buf_str(out, "Content-Length: ");
    buf_str(out, len);
    buf_add(out, "\r\n", 2);
  }
  buf_add(out, "\r\n", 2);
}

/* A SIP message: CRLF line ends, headers, a blank line, the body, with
 * Content-Length added when missing and set where written "auto". */
static void msg_sip(block_t b, buf_t *out)
{
  int has_cl, in_body = 0;
  char len[24];
  snprintf(len, sizeof len, "%zu", msg_measure(b, &has_cl));
  line_t l;
  size_t v;
  while (block_next(&b, &l)) {
    if (!in_body && !l.len) {
      msg_end_headers(out, has_cl, len);
      in_body = 1;
      continue;
    }
    if (!in_body && hdr_is_auto_cl(&l, &v)) {
      buf_add(out, l.s, v);
      buf_str(out, len);
    } else {
      buf_add(out, l.s, l.len);
    }
    buf_add(out, "\r\n", 2);
  }
  if (!in_body)
    msg_end_headers(out, has_cl, len);
}

/* The escape at s (a backslash): its byte in *c and the characters it
 * takes, 0 for a malformed \x. Unknown escapes keep their backslash. */
static size_t raw_escape(const char *s, size_t left, char *c)
{
  static const char from[] = "rnt\\", to[] = "\r\n\t\\";
  const char *k = left > 1 ? memchr(from, s[1], 4) : NULL;
  *c = k ? to[k - from] : '\\';
  if (k || left < 2 || s[1] != 'x')
    return k ? 2 : 1;
  if (left < 4 || !isxdigit((unsigned char)s[2]) || !isxdigit((unsigned char)s[3]))
    return 0;
  *c = (char)strtol((char[]){s[2], s[3], '\0'}, NULL, 16);
  return 4;
}

/* A raw message: the lines as written, CRLF-ended, escapes expanded. */
static int msg_raw(parser_t *P, block_t b, buf_t *out)
{
  size_t indent = b.indent;
  line_t l;
  while (block_next(&b, &l)) {
    for (size_t i = 0, k; i < l.len; i += k) {
      char c = l.s[i];
      k = c == '\\' ? raw_escape(l.s + i, l.len - i, &c) : 1;
      if (!k)
        return perr_at(P, l.no, (unsigned)(indent + i + 1),
                       "'\\x' needs two hex digits");
      buf_add(out, &c, 1);
    }
    buf_add(out, "\r\n", 2);
  }
  return 0;
}

/* A respond block: header lines only, each "Name: value". */
static int msg_headers(parser_t *P, block_t b, buf_t *out)
{
  unsigned col = (unsigned)b.indent + 1;
  line_t l;
  while (block_next(&b, &l)) {
    if (!l.len)
      return perr_at(P, l.no, 1, "blank line in a 'respond' block (it holds header lines only)");
    size_t n = token_len(l.s, l.len), c = n;
    while (c < l.len && is_blank(l.s[c]))
      c++;
    if (!n || c == l.len || l.s[c] != ':')
      return perr_at(P, l.no, col, "expected a header line 'Name: value'");
    buf_add(out, l.s, l.len);
    buf_add(out, "\r\n", 2);
  }
  return 0;
}

/* ---- steps ---- */

static int step_check(parser_t *P, const sipt_item_t *it)
{
  if (!P->case_name)
    return perr(P, it->col, "'%s' before the first 'case'", P->kw);
  P->have_step = 1;
  return 0;
}

static const kw_t protos[] = {
    {"udp", NULL, 0}, {"tcp", NULL, 0}, {"tls", NULL, 0}, {NULL, NULL, 0}};

static int send_from(parser_t *P, sipt_item_t *it)
{
  if (tok_want(P, "from") < 0)
    return -1;
  const kw_t *k = kw_read(P, protos, "transport", "");
  if (!k)
    return -1;
  memcpy(it->proto, k->name, sizeof it->proto);
  return tok_addr(P, it);
}

static int send_creds(parser_t *P, sipt_item_t *it)
{
  tok_t user, pw;
  if (!tok_word(P, "with"))
    return 0;
  if (tok_want(P, "credentials") < 0 || tok_need(P, &user, "user name") < 0 ||
      tok_need(P, &pw, "password") < 0)
    return -1;
  it->user = keep(P, user.s);
  it->password = keep(P, pw.s);
  return 0;
}

static int p_send(parser_t *P, sipt_item_t *it)
{
  block_t b;
  it->kind = SIPT_SEND;
  it->repeat = it->repeat ? it->repeat : 1;
  it->raw = tok_word(P, "raw");
  if (step_check(P, it) < 0 || send_from(P, it) < 0 || send_creds(P, it) < 0 ||
      tok_end(P) < 0 || block_scan(P, &b) < 0)
    return -1;
  if (!b.end)
    return perr(P, it->col, "'%s' needs a message: indented lines after it", P->kw);
  buf_t out = {.home = P->f->home};
  if (it->raw && msg_raw(P, b, &out) < 0)
    return -1;
  if (!it->raw)
    msg_sip(b, &out);
  return buf_take(P, &out, &it->msg, &it->msglen);
}

static int p_repeat(parser_t *P, sipt_item_t *it)
{
  unsigned long n;
  if (tok_num(P, "repeat count", 1, SIPT_MAX_REPEAT, &n) < 0 || tok_want(P, "send") < 0)
    return -1;
  it->repeat = (unsigned)n;
  return p_send(P, it);
}

/* An optional "REASON"; quoted, so that it is never taken for a keyword
 * ("to") or the words of a reason for trailing garbage. */
static int tok_reason(parser_t *P, char **out, const char *next_word)
{
  const char *s = P->cur + strspn(P->cur, " \t");
  tok_t t;
  if (!*s || *s == '#' || (next_word && word_at(s, next_word)))
    return 0;
  if (tok_next(P, &t) < 0)
    return -1;
  if (!t.quoted)
    return perr(P, t.col, "expected a quoted reason phrase, found '%s'", t.s);
  *out = keep(P, t.s);
  return 0;
}

static int p_respond(parser_t *P, sipt_item_t *it)
{
  unsigned long status;
  tok_t m;
  block_t b;
  it->kind = SIPT_RESPOND;
  if (step_check(P, it) < 0 || tok_num(P, "status", 100, 699, &status) < 0 ||
      tok_reason(P, &it->b, "to") < 0)
    return -1;
  it->n = (int)status;
  if (tok_word(P, "to")) {
    if (tok_method(P, &m) < 0)
      return -1;
    it->a = keep(P, m.s);
  }
  if (tok_end(P) < 0 || block_scan(P, &b) < 0)
    return -1;
  buf_t out = {.home = P->f->home};
  if (!b.end)
    return 0;
  return msg_headers(P, b, &out) < 0 ? -1 : buf_take(P, &out, &it->msg, &it->msglen);
}

/* advance N(ms|s|m|h): the virtual clock moves on, timer by timer. */
static int p_advance(parser_t *P, sipt_item_t *it)
{
  static const struct { const char *unit; unsigned long ms; } units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  tok_t t;
  it->kind = SIPT_ADVANCE;
  if (step_check(P, it) < 0 || tok_need(P, &t, "duration") < 0)
    return -1;
  char *end;
  errno = 0;
  unsigned long v = isdigit((unsigned char)*t.s) ? strtoul(t.s, &end, 10) : 0;
  for (size_t i = 0; v && !errno && i < sizeof units / sizeof *units; i++)
    if (strcmp(end, units[i].unit) == 0 && v <= 86400000UL / units[i].ms) {
      it->n = (int)(v * units[i].ms);
      return tok_end(P);
    }
  return perr(P, t.col, "a duration is a number with ms, s, m or h, up to 24h, "
              "not '%s'", t.s);
}

/* ---- expectations ---- */

static int x_reply(parser_t *P, sipt_item_t *it)
{
  unsigned long status;
  if (tok_num(P, "status", 100, 699, &status) < 0)
    return -1;
  it->n = (int)status;
  return tok_reason(P, &it->a, NULL);
}

static int x_uri(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_uri(P, &t, "URI") < 0)
    return -1;
  it->a = keep(P, t.s);
  return 0;
}

static int x_relays(parser_t *P, sipt_item_t *it)
{
  unsigned long n;
  if (tok_num(P, "relay count", 0, SIPT_MAX_REPEAT, &n) < 0)
    return -1;
  it->n = (int)n;
  return 0;
}

static int x_request(parser_t *P, sipt_item_t *it)
{
  tok_t m, uri;
  if (tok_method(P, &m) < 0 || tok_uri(P, &uri, "URI") < 0)
    return -1;
  it->a = keep(P, m.s);
  it->b = keep(P, uri.s);
  return 0;
}

/* NAME or NAME#N (the Nth of its kind, from 1). */
static int header_ref(parser_t *P, const tok_t *t, sipt_item_t *it)
{
  char *hash = strchr(t->s, '#');
  size_t n = hash ? (size_t)(hash - t->s) : strlen(t->s);
  unsigned long idx = 0;
  if (!n || token_len(t->s, n) != n)
    return perr(P, t->col, "bad header name '%s'", t->s);
  if (hash) {
    tok_t num = {hash + 1, t->col + (unsigned)n + 1, 0};
    if (tok_uint(P, &num, 1, 1000, "header index", &idx) < 0)
      return -1;
  }
  it->n = (int)idx;
  it->a = su_strndup(P->f->home, t->s, n);
  P->oom |= !it->a;
  return 0;
}

static int x_header(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_need(P, &t, "header name") < 0 || header_ref(P, &t, it) < 0)
    return -1;
  if (tok_word(P, "absent")) {
    it->op = SIPT_OP_ABSENT;
    return 0;
  }
  if (tok_need(P, &t, "'=', '~' or 'absent'") < 0)
    return -1;
  if (t.quoted || (strcmp(t.s, "=") && strcmp(t.s, "~")))
    return perr(P, t.col, "expected '=', '~' or 'absent', found '%s'", t.s);
  it->op = *t.s == '=' ? SIPT_OP_EQ : SIPT_OP_MATCH;
  if ((it->op == SIPT_OP_EQ ? tok_need_quoted(P, &t, "text") : tok_ere(P, &t)) < 0)
    return -1;
  it->b = keep(P, t.s);
  return 0;
}

/* body ~ "ERE", log ~ "ERE" */
static int x_match(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_want(P, "~") < 0 || tok_ere(P, &t) < 0)
    return -1;
  it->op = SIPT_OP_MATCH;
  it->b = keep(P, t.s);
  return 0;
}

/* The script's route blocks; arg: whether a [name] is none, optional or
 * needed. */
enum { ROUTE_PLAIN, ROUTE_NAMED };
/* The routes the server runs on a message; a route(x) call inside one is
 * seen by --coverage, not here. */
static const kw_t routes[] = {
    {"request_route", NULL, ROUTE_PLAIN}, {"reply_route", NULL, ROUTE_PLAIN},
    {"failure_route", NULL, ROUTE_NAMED}, {NULL, NULL, 0}};

static int x_route(parser_t *P, sipt_item_t *it)
{
  tok_t t;
  if (tok_need(P, &t, "route name") < 0)
    return -1;
  it->a = keep(P, t.s);
  char *br = strchr(t.s, '[');
  size_t n = strlen(t.s);
  if (br && (br[1] == ']' || t.s[n - 1] != ']' || strchr(br + 1, '[')))
    return perr(P, t.col, "bad route name '%s' (expected NAME or NAME[x])", t.s);
  if (br)
    *br = '\0';
  const kw_t *k = kw_find(routes, t.s);
  if (!k)
    return kw_unknown(P, &t, "route", "", routes);
  if (br ? k->arg == ROUTE_PLAIN : k->arg == ROUTE_NAMED)
    return perr(P, t.col, "'%s' %s", k->name, br ? "takes no [name]" : "needs a [name]");
  return 0;
}

static int x_no_route(parser_t *P, sipt_item_t *it)
{
  it->negate = 1;
  return x_route(P, it);
}

static int x_no(parser_t *P, sipt_item_t *it);

/* "reply" before "relay": a mistyped "replay" is more often a reply. */
static const kw_t expects[] = {
    {"reply", x_reply, SIPT_X_REPLY},   {"relay", x_uri, SIPT_X_RELAY},
    {"relays", x_relays, SIPT_X_RELAYS}, {"request", x_request, SIPT_X_REQUEST},
    {"ruri", x_uri, SIPT_X_RURI},       {"header", x_header, SIPT_X_HEADER},
    {"body", x_match, SIPT_X_BODY},     {"drop", NULL, SIPT_X_DROP},
    {"route", x_route, SIPT_X_ROUTE},   {"log", x_match, SIPT_X_LOG},
    {"no", x_no, 0},                    {NULL, NULL, 0}};
static const kw_t expects_no[] = {{"reply", NULL, SIPT_X_NO_REPLY},
                                  {"relay", NULL, SIPT_X_NO_RELAY},
                                  {"route", x_no_route, SIPT_X_ROUTE},
                                  {NULL, NULL, 0}};

static int expect_run(parser_t *P, sipt_item_t *it, const kw_t *tab, const char *prefix)
{
  const kw_t *k = kw_read(P, tab, "expectation", prefix);
  if (!k)
    return -1;
  it->x = (sipt_expect_t)k->arg;
  return k->fn ? k->fn(P, it) : 0;
}

static int x_no(parser_t *P, sipt_item_t *it)
{
  return expect_run(P, it, expects_no, "no ");
}

static int p_expect(parser_t *P, sipt_item_t *it)
{
  it->kind = SIPT_EXPECT;
  if (!P->case_name)
    return perr(P, it->col, "'expect' before the first 'case'");
  if (!P->have_step)
    return perr(P, it->col, "'expect' before any 'send' or 'respond' in case \"%s\"",
                P->case_name);
  return expect_run(P, it, expects, "") < 0 ? -1 : tok_end(P);
}

/* ---- the file ---- */

static const kw_t directives[] = {
    {"script", p_script, 0},   {"modparam", p_modparam, 0},
    {"listen", p_listen, 0},   {"clock", p_clock, 0},
    {"subscriber", p_subscriber, 0}, {"binding", p_binding, 0},
    {"dns", p_dns, 0},         {"control", p_control, 0},
    {"case", p_case, 0},       {"send", p_send, 0},
    {"repeat", p_repeat, 0},   {"respond", p_respond, 0},
    {"advance", p_advance, 0},
    {"expect", p_expect, 0},   {NULL, NULL, 0}};

static int item_push(parser_t *P, const sipt_item_t *it)
{
  sipt_file_t *f = P->f;
  if (f->n == f->cap && !P->oom) {
    size_t cap = f->cap ? 2 * f->cap : 32;
    sipt_item_t *items = su_realloc(f->home, f->items, cap * sizeof *items);
    if (items) {
      f->items = items;
      f->cap = cap;
    } else {
      P->oom = 1;
    }
  }
  if (P->oom)
    return perr_at(P, it->line, it->col, "out of memory");
  f->items[f->n++] = *it;
  return 0;
}

static int parse_line(parser_t *P, const line_t *l)
{
  tok_t kw;
  if (line_load(P, l) < 0 || tok_next(P, &kw) <= 0)
    return P->failed ? -1 : 0;
  if (kw.col > 1)
    return perr(P, kw.col, "indented line outside a message block "
                           "(only the lines after 'send' or 'respond' are)");
  const kw_t *d = kw_find(directives, kw.s);
  if (!d)
    return kw_unknown(P, &kw, "directive", "", directives);
  sipt_item_t it = {.line = l->no, .col = kw.col};
  P->kw = kw.s;
  return d->fn(P, &it) < 0 ? -1 : item_push(P, &it);
}

/* Tokens and messages are C strings: a NUL byte would cut them short. */
static int nul_check(parser_t *P)
{
  const char *s = P->it.p, *z = memchr(s, '\0', (size_t)(P->it.end - s));
  if (!z)
    return 0;
  unsigned line = 1;
  const char *bol = s;
  for (const char *p = s; p < z; p++)
    if (*p == '\n') {
      line++;
      bol = p + 1;
    }
  return perr_at(P, line, (unsigned)(z - bol) + 1, "NUL byte in the file");
}

sipt_file_t *sipt_parse(const char *name, const char *text, size_t len, char *err,
                        size_t errlen)
{
  parser_t P = {.name = name, .it = {text, text + len, 1}, .err = err, .errlen = errlen};
  line_t l;
  if (err && errlen)
    err[0] = '\0';
  P.f = su_home_new(sizeof *P.f);
  if (!P.f || !(P.f->name = su_strdup(P.f->home, name))) {
    perr_at(&P, 1, 1, "out of memory");
  } else if (nul_check(&P) == 0) {
    while (line_next(&P.it, &l) && parse_line(&P, &l) == 0)
      ;
  }
  free(P.buf);
  if (P.failed) {
    sipt_free(P.f);
    return NULL;
  }
  return P.f;
}

/* The whole file, at most SIPT_MAX_FILE bytes; NULL with errno set. */
static char *read_all(FILE *fp, size_t *len)
{
  size_t cap = 65536;
  char *text = NULL, *p;
  *len = 0;
  for (;;) {
    if (!(p = realloc(text, cap)))
      break;
    text = p;
    *len += fread(text + *len, 1, cap - *len, fp);
    if (*len > SIPT_MAX_FILE) {
      errno = EFBIG;
      break;
    }
    if (*len < cap && !ferror(fp))
      return text;
    if (*len < cap)
      break;
    cap *= 2;
  }
  free(text);
  return NULL;
}

sipt_file_t *sipt_parse_file(const char *path, char *err, size_t errlen)
{
  FILE *fp = fopen(path, "rb");
  size_t len = 0;
  char *text = fp ? read_all(fp, &len) : NULL;
  int e = errno;
  if (fp)
    fclose(fp);
  if (!text) {
    if (err && errlen)
      snprintf(err, errlen, "%s: error: %s", path, strerror(e));
    return NULL;
  }
  sipt_file_t *f = sipt_parse(path, text, len, err, errlen);
  free(text);
  return f;
}

void sipt_free(sipt_file_t *f)
{
  if (f)
    su_home_unref(f->home);
}

const char *sipt_name(const sipt_file_t *f)
{
  return f->name;
}

size_t sipt_count(const sipt_file_t *f)
{
  return f->n;
}

const sipt_item_t *sipt_at(const sipt_file_t *f, size_t i)
{
  return i < f->n ? &f->items[i] : NULL;
}
