/*
 * addr.c - host:port text: parsing, comparing, and IPv4 literals both ways
 * (for interpose.c). Owns no state.
 */
#define _POSIX_C_SOURCE 200809L
#include "lib/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

unsigned tz_port_parse(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (!n || n > 5 || strspn(s, "0123456789") != n)
    return 0;
  unsigned long v = strtoul(s, NULL, 10);
  return v >= 1 && v <= 65535 ? (unsigned)v : 0;
}

/* Where the host ends and what follows it ("" or ":port"), for the three
 * forms; NULL when malformed. */
static const char *addr_split(const char *text, const char **host,
                              size_t *hostlen)
{
  const char *colon = strchr(text, ':');
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close)
      return NULL;
    *host = text + 1;
    *hostlen = (size_t)(close - text - 1);
    return close + 1;
  }
  *host = text;
  if (colon && strchr(colon + 1, ':')) { /* a bare IPv6 literal: no port */
    *hostlen = strlen(text);
    return text + *hostlen;
  }
  *hostlen = colon ? (size_t)(colon - text) : strlen(text);
  return text + *hostlen;
}

int tz_hostport_parse(const char *text, char *host, size_t hostlen,
                      unsigned *port, unsigned dflt)
{
  const char *h;
  size_t hl;
  const char *rest = text ? addr_split(text, &h, &hl) : NULL;
  if (!rest || !hl || hl >= hostlen)
    return -1;
  if (*rest == ':')
    *port = tz_port_parse(rest + 1);
  else if (!*rest)
    *port = dflt;
  else
    return -1;
  if (!*port)
    return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  return 0;
}

void tz_listen_free(tz_listen_t *l)
{
  free(l->proto);
  free(l->host);
  l->proto = l->host = NULL;
}

int tz_listen_parse(const char *text, tz_listen_t *out, char *err,
                    size_t errlen)
{
  static const char *const protos[] = {"udp", "tcp", "tls"};
  char host[256];
  memset(out, 0, sizeof *out);
  const char *p = text;
  unsigned dflt = 5060;
  for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
    size_t n = strlen(protos[i]);
    if (strncasecmp(p, protos[i], n) == 0 && p[n] == ':') {
      out->proto = strdup(protos[i]);
      p += n + 1;
      dflt = i == 2 ? 5061 : 5060;
      break;
    }
  }
  if (tz_hostport_parse(p, host, sizeof host, &out->port, dflt) < 0 ||
      !(out->host = strdup(host))) {
    snprintf(err, errlen,
             "bad listen address '%s' (expected [udp:|tcp:|tls:]host[:port], "
             "IPv6 in brackets)",
             text);
    tz_listen_free(out);
    return -1;
  }
  return 0;
}

/* Copies an IPv6 literal without its brackets; other text as it is. */
static const char *addr_unbracket(const char *s, char *buf, size_t len)
{
  size_t n = strlen(s);
  if (n > 1 && s[0] == '[' && s[n - 1] == ']' && n - 2 < len) {
    memcpy(buf, s + 1, n - 2);
    buf[n - 2] = '\0';
    return buf;
  }
  return s;
}

int tz_host_eq(const char *a, const char *b)
{
  char ba[64], bb[64];
  a = addr_unbracket(a, ba, sizeof ba);
  b = addr_unbracket(b, bb, sizeof bb);
  struct in6_addr x, y;
  if (inet_pton(AF_INET6, a, &x) == 1 && inet_pton(AF_INET6, b, &y) == 1)
    return memcmp(&x, &y, sizeof x) == 0;
  return strcasecmp(a, b) == 0;
}

size_t tz_ipv4_text(const void *a, char *text)
{
  const unsigned char *b = a;
  char *p = text;
  for (int i = 0; i < 4; i++) {
    if (b[i] >= 100)
      *p++ = (char)('0' + b[i] / 100);
    if (b[i] >= 10)
      *p++ = (char)('0' + b[i] / 10 % 10);
    *p++ = (char)('0' + b[i] % 10);
    *p++ = i < 3 ? '.' : '\0';
  }
  return (size_t)(p - text);
}

int tz_ipv4_literal(const char *node, const char *service, const struct addrinfo *h,
                    struct sockaddr_in *sin)
{
  unsigned port = tz_port_parse(service);
  if (!node || !port || !h || (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET) ||
      (h->ai_flags & ~AI_NUMERICHOST) || !h->ai_socktype || !h->ai_protocol)
    return 0;
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, node, &sin->sin_addr) == 1;
}
