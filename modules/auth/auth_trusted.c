/*
 * auth_trusted.c - the "trusted" address list: peers (gateways, other
 * proxies) whose requests may be relayed without credentials. IPv4 and
 * IPv6 addresses and CIDR networks.
 */
#define _POSIX_C_SOURCE 200809L
#include "auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* An address as family + bytes; IPv4-mapped IPv6 becomes IPv4, so a
 * dual-stack socket's sources match IPv4 entries. */
static int trusted_addr(const char *s, int *family, unsigned char addr[16])
{
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0xff, 0xff};
  if (inet_pton(AF_INET, s, addr) == 1) {
    *family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, s, addr) != 1)
    return -1;
  *family = AF_INET6;
  if (memcmp(addr, mapped, sizeof mapped) == 0) {
    memmove(addr, addr + 12, 4);
    *family = AF_INET;
  }
  return 0;
}

/* One "addr" or "addr/bits" entry into n. */
static int trusted_entry(const char *s, auth_net_t *n, char *err,
                         size_t errlen)
{
  char buf[64];
  const char *slash = strchr(s, '/');
  size_t alen = slash ? (size_t)(slash - s) : strlen(s);
  if (alen >= sizeof buf)
    goto bad;
  memcpy(buf, s, alen);
  buf[alen] = '\0';
  memset(n->addr, 0, sizeof n->addr);
  if (trusted_addr(buf, &n->family, n->addr) < 0)
    goto bad;
  unsigned max = n->family == AF_INET ? 32 : 128;
  n->bits = max;
  if (slash) {
    char *end;
    unsigned long b = strtoul(slash + 1, &end, 10);
    if (!slash[1] || *end || b > max)
      goto bad;
    n->bits = (unsigned)b;
  }
  return 0;
bad:
  snprintf(err, errlen, "auth: trusted: '%s' is no address or network", s);
  return -1;
}

int auth_trusted_parse(auth_trusted_t *t, const char *list, char *err,
                       size_t errlen)
{
  t->nets = NULL;
  t->n = 0;
  char *copy = strdup(list ? list : "");
  if (!copy) {
    snprintf(err, errlen, "auth: out of memory");
    return -1;
  }
  char *save = NULL;
  for (char *tok = strtok_r(copy, ", \t", &save); tok;
       tok = strtok_r(NULL, ", \t", &save)) {
    auth_net_t *v = realloc(t->nets, (t->n + 1) * sizeof *v);
    if (!v) {
      snprintf(err, errlen, "auth: out of memory");
      goto fail;
    }
    t->nets = v;
    if (trusted_entry(tok, &t->nets[t->n], err, errlen) < 0)
      goto fail;
    t->n++;
  }
  free(copy);
  return 0;
fail:
  free(copy);
  auth_trusted_free(t);
  return -1;
}

static int trusted_in(const auth_net_t *n, int family,
                      const unsigned char *addr)
{
  if (n->family != family)
    return 0;
  unsigned full = n->bits / 8, rest = n->bits % 8;
  if (memcmp(n->addr, addr, full) != 0)
    return 0;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return !rest || ((n->addr[full] ^ addr[full]) & mask) == 0;
}

int auth_trusted_match(const auth_trusted_t *t, const char *ip)
{
  int family;
  unsigned char addr[16] = {0};
  if (!ip || trusted_addr(ip, &family, addr) < 0)
    return 0;
  for (size_t i = 0; i < t->n; i++)
    if (trusted_in(&t->nets[i], family, addr))
      return 1;
  return 0;
}

void auth_trusted_free(auth_trusted_t *t)
{
  free(t->nets);
  t->nets = NULL;
  t->n = 0;
}
