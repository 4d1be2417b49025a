/*
 * expect.c - a test file's expectations, checked against what the last
 * step made the server do: the datagrams it sent (replies upstream,
 * requests downstream), the routes it ran, the lines it logged.
 *
 * Messages are read as text, the way a peer reads them, not through the
 * server's parser: a test must not share the code it checks. Owns
 * nothing; the subject of `expect header` is a pointer into the run.
 */
#define _GNU_SOURCE
#include "test/harness.h"
#include "test/wire.h"
#include "script/script.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading messages -------------------------------------------------------- */

/* RFC 3261 7.3.3's compact forms. */
static const char *compact_form(const char *name)
{
  static const char *const forms[][2] = {
      {"Via", "v"}, {"From", "f"}, {"To", "t"}, {"Call-ID", "i"},
      {"Contact", "m"}, {"Content-Length", "l"}, {"Content-Type", "c"},
      {"Supported", "k"}, {"Subject", "s"}, {"Content-Encoding", "e"}};
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
    if (strcasecmp(name, forms[i][0]) == 0)
      return forms[i][1];
  return NULL;
}

static int name_is(const char *line, size_t n, const char *name)
{
  const char *c = compact_form(name);
  return (n == strlen(name) && strncasecmp(line, name, n) == 0) ||
         (c && n == 1 && tolower((unsigned char)*line) == *c);
}

const char *tt_header(const char *text, const char *name, unsigned nth, size_t *len)
{
  const char *p = strstr(text, "\r\n");
  while (p && p[2] != '\r' && p[2] != '\0') {
    const char *line = p + 2, *end = strstr(line, "\r\n"), *colon = strchr(line, ':');
    if (!end)
      end = line + strlen(line);
    size_t n = colon && colon < end ? (size_t)(colon - line) : 0;
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
      n--;
    if (n && name_is(line, n, name) && --nth == 0) {
      const char *v = colon + 1;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      *len = (size_t)(end - v);
      return v;
    }
    p = *end ? end : NULL;
  }
  return NULL;
}

const char *tt_body(const char *text)
{
  const char *p = strstr(text, "\r\n\r\n");
  return p ? p + 4 : "";
}

void tt_parse_first_line(tt_msg_t *m)
{
  const char *t = m->text;
  int n = 0;
  if (strncmp(t, "SIP/2.0 ", 8) == 0) {
    sscanf(t + 8, "%d %n", &m->status, &n);
    snprintf(m->reason, sizeof m->reason, "%.*s", (int)strcspn(t + 8 + n, "\r\n"),
             t + 8 + n);
    return;
  }
  size_t k = strcspn(t, " \r\n");
  snprintf(m->method, sizeof m->method, "%.*s", (int)k, t);
  if (t[k] == ' ')
    snprintf(m->ruri, sizeof m->ruri, "%.*s", (int)strcspn(t + k + 1, " \r\n"), t + k + 1);
}

/* ---- targets: sip:user@host:port;transport=udp --------------------------------- */

typedef struct target {
  char user[128], host[64];
  unsigned port;
  char proto[8];
} target_t;

static int target_parse(const char *uri, target_t *t)
{
  memset(t, 0, sizeof *t);
  int sips = strncasecmp(uri, "sips:", 5) == 0;
  const char *p = sips ? uri + 5 : strncasecmp(uri, "sip:", 4) == 0 ? uri + 4 : NULL;
  if (!p)
    return -1;
  const char *at = strchr(p, '@'), *semi = strchr(p, ';');
  if (at && (!semi || at < semi)) {
    snprintf(t->user, sizeof t->user, "%.*s", (int)(at - p), p);
    p = at + 1;
  }
  size_t hl = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":;>");
  snprintf(t->host, sizeof t->host, "%.*s", (int)(*p == '[' ? hl - 2 : hl), p + (*p == '['));
  t->port = p[hl] == ':' ? (unsigned)atoi(p + hl + 1) : sips ? 5061 : 5060;
  const char *tr = strcasestr(p, ";transport=");
  snprintf(t->proto, sizeof t->proto, "%.*s", tr ? (int)strcspn(tr + 11, ";>") : 3,
           tr ? tr + 11 : sips ? "tls" : "udp");
  for (char *c = t->proto; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  return 0;
}

/* Where the message went, when the URI names an address; a host name is
 * nowhere a datagram goes (DNS chose the address), so only the
 * Request-URI says anything then (expect_target). The harness's wire is
 * UDP alone: a message it saw went out over UDP. */
static int target_is_address(const target_t *t)
{
  unsigned char a[16];
  return inet_pton(AF_INET, t->host, a) == 1 || inet_pton(AF_INET6, t->host, a) == 1;
}

static int target_matches(const target_t *t, const tt_msg_t *m)
{
  if (!target_is_address(t))
    return 1;
  return strcmp(t->proto, "udp") == 0 && t->port == m->dst_port &&
         strcmp(t->host, m->dst_host) == 0;
}

/* A request `expect relay` looks at: the step's own method after a send,
 * anything but ACK and CANCEL after a respond. */
static int is_relayed(const tt_run_t *r, const tt_msg_t *m)
{
  if (m->status)
    return 0;
  if (r->step_method[0])
    return strcmp(m->method, r->step_method) == 0;
  return strcmp(m->method, "ACK") != 0 && strcmp(m->method, "CANCEL") != 0;
}

/* A reply of the step: a response to the case's caller (the source of
 * its last send); before any send, any response. */
static int is_reply(const tt_run_t *r, const tt_msg_t *m)
{
  return m->status && (r->sender.ss_family == AF_UNSPEC ||
                       tz_testwire_same((const struct sockaddr *)&m->to,
                                        (const struct sockaddr *)&r->sender));
}

/* ---- what the step did, for failure messages ------------------------------------ */

static void describe(const tt_msg_t *m, char *buf, size_t len)
{
  if (m->status)
    snprintf(buf, len, "%d \"%s\"", m->status, m->reason);
  else
    snprintf(buf, len, "%s %s to udp:%s:%u", m->method, m->ruri, m->dst_host, m->dst_port);
}

/* "got 401 "Unauthorized", 100 "Trying"" or "got none". */
static void got(const tt_run_t *r, int responses, char *buf, size_t len)
{
  size_t off = (size_t)snprintf(buf, len, "got");
  const char *sep = " ";
  for (size_t i = r->step_first; i < r->nmsgs && off + 1 < len; i++) {
    const tt_msg_t *m = &r->msgs[i];
    if (responses ? is_reply(r, m) : !m->status) {
      char d[700];
      describe(m, d, sizeof d);
      off += (size_t)snprintf(buf + off, len - off, "%s%s", sep, d);
      sep = ", ";
    }
  }
  if (*sep == ' ')
    snprintf(buf + off, len - off, " none");
}

/* ---- the expectations ---------------------------------------------------------- */

static void expect_reply(tt_run_t *r, const sipt_item_t *it)
{
  for (size_t i = r->step_first; i < r->nmsgs; i++) {
    const tt_msg_t *m = &r->msgs[i];
    if (is_reply(r, m) && m->status == it->n && (!it->a || strcmp(m->reason, it->a) == 0)) {
      r->subject = m;
      return;
    }
  }
  char g[2048];
  got(r, 1, g, sizeof g);
  tt_fail(r, it, "expected reply %d%s%s%s, %s", it->n, it->a ? " \"" : "",
          it->a ? it->a : "", it->a ? "\"" : "", g);
}

static void expect_none(tt_run_t *r, const sipt_item_t *it, int responses)
{
  for (size_t i = r->step_first; i < r->nmsgs; i++)
    if (responses ? is_reply(r, &r->msgs[i]) : !r->msgs[i].status) {
      char g[2048];
      got(r, responses, g, sizeof g);
      tt_fail(r, it, "expected no %s, %s", responses ? "reply" : "relay", g);
      return;
    }
}

/* A request to the URI's host, port and transport (and, with a user part,
 * with it as Request-URI), of the kind `relayed` says. */
static void expect_target(tt_run_t *r, const sipt_item_t *it, const char *method,
                          const char *uri)
{
  target_t t;
  if (target_parse(uri, &t) < 0) {
    tt_fail(r, it, "'%s' is no sip: or sips: URI", uri);
    return;
  }
  for (size_t i = r->step_first; i < r->nmsgs; i++) {
    const tt_msg_t *m = &r->msgs[i];
    if ((method ? !m->status && strcmp(m->method, method) == 0 : is_relayed(r, m)) &&
        target_matches(&t, m) &&
        ((t.user[0] || !target_is_address(&t)) ? strcmp(m->ruri, uri) == 0 : 1)) {
      r->subject = m;
      return;
    }
  }
  char g[2048];
  got(r, 0, g, sizeof g);
  tt_fail(r, it, "expected %s %s, %s", method ? method : "relay to", uri, g);
}

static void expect_relays(tt_run_t *r, const sipt_item_t *it)
{
  int n = 0;
  for (size_t i = r->step_first; i < r->nmsgs; i++)
    n += is_relayed(r, &r->msgs[i]);
  if (n != it->n) {
    char g[2048];
    got(r, 0, g, sizeof g);
    tt_fail(r, it, "expected %d relays, %s", it->n, g);
  }
}

static void expect_ruri(tt_run_t *r, const sipt_item_t *it)
{
  for (size_t i = r->step_first; i < r->nmsgs; i++)
    if (is_relayed(r, &r->msgs[i]) && strcmp(r->msgs[i].ruri, it->a) == 0) {
      r->subject = &r->msgs[i];
      return;
    }
  char g[2048];
  got(r, 0, g, sizeof g);
  tt_fail(r, it, "expected a relay with Request-URI %s, %s", it->a, g);
}

static int text_matches(tt_run_t *r, const sipt_item_t *it, const char *v, size_t len)
{
  if (it->op == SIPT_OP_EQ)
    return len == strlen(it->b) && strncmp(v, it->b, len) == 0;
  regex_t re;
  int rc = regcomp(&re, it->b, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char e[128];
    regerror(rc, &re, e, sizeof e);
    tt_fail(r, it, "bad regular expression \"%s\": %s", it->b, e);
    return -1;
  }
  char *s = strndup(v, len);
  int ok = s && regexec(&re, s, 0, NULL, 0) == 0;
  free(s);
  regfree(&re);
  return ok;
}

/* NAME#N tests the Nth occurrence; NAME alone passes if any does. */
static void expect_header(tt_run_t *r, const sipt_item_t *it)
{
  if (!r->subject) {
    tt_fail(r, it, "'expect header' tests the message the last 'expect reply', "
            "'relay', 'request' or 'ruri' matched: there is none before it");
    return;
  }
  const char *text = r->subject->text, *v, *first;
  size_t len, first_len = 0;
  unsigned k = it->n ? (unsigned)it->n : 1;
  first = tt_header(text, it->a, k, &first_len);
  for (v = first, len = first_len; v; v = it->n ? NULL : tt_header(text, it->a, ++k, &len)) {
    int ok = it->op == SIPT_OP_ABSENT ? 0 : text_matches(r, it, v, len);
    if (ok != 0)
      return; /* a match, or a bad ERE already reported */
    if (it->op == SIPT_OP_ABSENT)
      break;
  }
  if (it->op == SIPT_OP_ABSENT && !first)
    return;
  char d[700];
  describe(r->subject, d, sizeof d);
  if (it->op == SIPT_OP_ABSENT)
    tt_fail(r, it, "expected no %s header in %s, got \"%.*s\"", it->a, d,
            (int)first_len, first);
  else if (!first)
    tt_fail(r, it, "expected a %s header%s in %s, got none", it->a,
            it->n > 1 ? " that far down" : "", d);
  else
    tt_fail(r, it, "%s in %s is \"%.*s\", expected %s\"%s\"", it->a, d,
            (int)first_len, first, it->op == SIPT_OP_EQ ? "" : "a match for ", it->b);
}

static void expect_body(tt_run_t *r, const sipt_item_t *it)
{
  if (!r->subject) {
    tt_fail(r, it, "'expect body' tests the message the last 'expect reply', "
            "'relay', 'request' or 'ruri' matched: there is none before it");
    return;
  }
  const char *b = tt_body(r->subject->text);
  if (text_matches(r, it, b, strlen(b)) == 0)
    tt_fail(r, it, "the body does not match \"%s\": \"%s\"", it->b, b);
}

static void expect_route(tt_run_t *r, const sipt_item_t *it, int drop)
{
  for (size_t i = 0; i < r->nroutes; i++)
    if (drop ? strcmp(r->routes[i].name, "request_route") == 0 && r->routes[i].rc == TZ_RUN_DROP
             : strcmp(r->routes[i].name, it->a) == 0) {
      if (it->negate)
        tt_fail(r, it, "expected no %s to run; it ran", it->a);
      return;
    }
  if (drop)
    tt_fail(r, it, "expected request_route to end in drop; it did not");
  else if (!it->negate)
    tt_fail(r, it, "expected %s to run; %s", it->a,
            r->nroutes ? "it did not" : "no route ran");
}

static void expect_log(tt_run_t *r, const sipt_item_t *it)
{
  for (size_t i = 0; i < r->nlogs; i++) {
    int ok = text_matches(r, it, r->logs[i], strlen(r->logs[i]));
    if (ok)
      return;
  }
  tt_fail(r, it, "no log line of the step matches \"%s\" (%zu lines)", it->b, r->nlogs);
}

void tt_expect(tt_run_t *r, const sipt_item_t *it)
{
  if (r->wire->replay &&
      (it->x == SIPT_X_DROP || it->x == SIPT_X_ROUTE || it->x == SIPT_X_LOG)) {
    r->unchecked++; /* a running server shows neither its routes nor its log */
    return;
  }
  switch (it->x) {
  case SIPT_X_REPLY: expect_reply(r, it); break;
  case SIPT_X_NO_REPLY: expect_none(r, it, 1); break;
  case SIPT_X_NO_RELAY: expect_none(r, it, 0); break;
  case SIPT_X_RELAY: expect_target(r, it, NULL, it->a); break;
  case SIPT_X_REQUEST: expect_target(r, it, it->a, it->b); break;
  case SIPT_X_RELAYS: expect_relays(r, it); break;
  case SIPT_X_RURI: expect_ruri(r, it); break;
  case SIPT_X_HEADER: expect_header(r, it); break;
  case SIPT_X_BODY: expect_body(r, it); break;
  case SIPT_X_DROP: expect_route(r, it, 1); break;
  case SIPT_X_ROUTE: expect_route(r, it, 0); break;
  case SIPT_X_LOG: expect_log(r, it); break;
  }
}
