/*
 * dns_zone_json.c - the zone's control side: dns.zone_add's params into a
 * record, and the zone as JSON for dns.zone_show, with the same members,
 * so what zone_show prints can be added again. Numbers may come as JSON
 * numbers or as decimal strings (tzctl sends every argument as a string).
 *
 * Threads: whatever thread the command runs in (worker 0); the zone takes
 * its own lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "dns_zone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ZJ_BAD_PARAMS = -32602, ZJ_REFUSED = -32000 };

#define ZJ_TTL_DEFAULT 3600
#define ZJ_TTL_MAX 2147483647L /* RFC 2181 8 */

/* ---- reading params ------------------------------------------------------------ */

static int zj_fail(char *err, size_t errlen, const char *key, const char *what)
{
  snprintf(err, errlen, "\"%s\": expected %s", key, what);
  return -1;
}

/* A number as a JSON number or a decimal string; -1 if neither. */
static long zj_number(const tz_json_t *v)
{
  if (tz_json_type(v) == TZ_JSON_NUMBER) {
    double d = tz_json_num(v);
    return d >= 0 && d <= ZJ_TTL_MAX && d == (double)(long)d ? (long)d : -1;
  }
  const char *s = tz_json_str(v);
  if (!s || *s < '0' || *s > '9')
    return -1;
  char *end;
  errno = 0;
  long n = strtol(s, &end, 10);
  return *end || errno || n > ZJ_TTL_MAX ? -1 : n;
}

/* Member key as an integer 0..max; dflt when absent, unless dflt < 0. */
static int zj_uint(const tz_json_t *p, const char *key, long max, long dflt,
                   long *out, char *err, size_t errlen)
{
  const tz_json_t *v = tz_json_get(p, key);
  *out = v ? zj_number(v) : dflt;
  if (*out >= 0 && *out <= max)
    return 0;
  char what[48];
  snprintf(what, sizeof what, "an integer 0..%ld", max);
  return zj_fail(err, errlen, key, what);
}

static int zj_u16(const tz_json_t *p, const char *key, uint16_t *out,
                  char *err, size_t errlen)
{
  long n;
  if (zj_uint(p, key, 65535, -1, &n, err, errlen) < 0)
    return -1;
  *out = (uint16_t)n;
  return 0;
}

/* Member key as a string that fits buf; a name must not be empty. */
static int zj_text(const tz_json_t *p, const char *key, char *buf, size_t size,
                   int name, char *err, size_t errlen)
{
  const char *s = tz_json_str(tz_json_get(p, key));
  if (!s || (name && !*s) || strlen(s) >= size) {
    char what[64];
    snprintf(what, sizeof what, "a %sstring of at most %zu bytes",
             name ? "non-empty " : "", size - 1);
    return zj_fail(err, errlen, key, what);
  }
  memcpy(buf, s, strlen(s) + 1);
  return 0;
}

/* ---- the types ------------------------------------------------------------------ */

static int zj_read_addr(const tz_json_t *p, dns_zone_rec_t *r, char *err,
                        size_t errlen)
{
  int af = r->rr.type == DNS_T_A ? AF_INET : AF_INET6;
  unsigned char bin[16];
  const char *s = tz_json_str(tz_json_get(p, "address"));
  if (!s || inet_pton(af, s, bin) != 1)
    return zj_fail(err, errlen, "address",
                   af == AF_INET ? "an IPv4 address" : "an IPv6 address");
  inet_ntop(af, bin, r->rr.u.addr, sizeof r->rr.u.addr); /* canonical */
  return 0;
}

static int zj_read_srv(const tz_json_t *p, dns_zone_rec_t *r, char *err,
                       size_t errlen)
{
  return zj_u16(p, "priority", &r->rr.u.srv.prio, err, errlen) ||
                 zj_u16(p, "weight", &r->rr.u.srv.weight, err, errlen) ||
                 zj_u16(p, "port", &r->rr.u.srv.port, err, errlen) ||
                 zj_text(p, "target", r->rr.u.srv.target,
                         sizeof r->rr.u.srv.target, 1, err, errlen)
             ? -1
             : 0;
}

static int zj_read_naptr(const tz_json_t *p, dns_zone_rec_t *r, char *err,
                         size_t errlen)
{
  dns_rr_t *rr = &r->rr;
  return zj_u16(p, "order", &rr->u.naptr.order, err, errlen) ||
                 zj_u16(p, "preference", &rr->u.naptr.pref, err, errlen) ||
                 zj_text(p, "flags", rr->u.naptr.flags,
                         sizeof rr->u.naptr.flags, 0, err, errlen) ||
                 zj_text(p, "service", rr->u.naptr.services,
                         sizeof rr->u.naptr.services, 0, err, errlen) ||
                 zj_text(p, "regexp", r->regexp, sizeof r->regexp, 0, err,
                         errlen) ||
                 zj_text(p, "replacement", rr->u.naptr.replace,
                         sizeof rr->u.naptr.replace, 1, err, errlen)
             ? -1
             : 0;
}

static int zj_read_none(const tz_json_t *p, dns_zone_rec_t *r, char *err,
                        size_t errlen)
{
  (void)p, (void)r, (void)err, (void)errlen;
  return 0;
}

static void zj_write_addr(tz_jbuf_t *out, const dns_zone_rec_t *r)
{
  tz_jw_key_str(out, "address", r->rr.u.addr);
}

static void zj_write_srv(tz_jbuf_t *out, const dns_zone_rec_t *r)
{
  tz_jw_key_int(out, "priority", r->rr.u.srv.prio);
  tz_jw_key_int(out, "weight", r->rr.u.srv.weight);
  tz_jw_key_int(out, "port", r->rr.u.srv.port);
  tz_jw_key_str(out, "target", r->rr.u.srv.target);
}

static void zj_write_naptr(tz_jbuf_t *out, const dns_zone_rec_t *r)
{
  tz_jw_key_int(out, "order", r->rr.u.naptr.order);
  tz_jw_key_int(out, "preference", r->rr.u.naptr.pref);
  tz_jw_key_str(out, "flags", r->rr.u.naptr.flags);
  tz_jw_key_str(out, "service", r->rr.u.naptr.services);
  tz_jw_key_str(out, "regexp", r->regexp);
  tz_jw_key_str(out, "replacement", r->rr.u.naptr.replace);
}

static void zj_write_none(tz_jbuf_t *out, const dns_zone_rec_t *r)
{
  (void)out, (void)r;
}

static const struct zj_type {
  const char *name;
  unsigned type;
  int (*read)(const tz_json_t *p, dns_zone_rec_t *r, char *err, size_t errlen);
  void (*write)(tz_jbuf_t *out, const dns_zone_rec_t *r);
} zj_types[] = {
    {"A", DNS_T_A, zj_read_addr, zj_write_addr},
    {"AAAA", DNS_T_AAAA, zj_read_addr, zj_write_addr},
    {"SRV", DNS_T_SRV, zj_read_srv, zj_write_srv},
    {"NAPTR", DNS_T_NAPTR, zj_read_naptr, zj_write_naptr},
    {"NXDOMAIN", DNS_ZONE_NXDOMAIN, zj_read_none, zj_write_none},
};
#define ZJ_NTYPES (sizeof zj_types / sizeof zj_types[0])

static const struct zj_type *zj_type_named(const char *name)
{
  for (size_t i = 0; name && i < ZJ_NTYPES; i++)
    if (strcasecmp(zj_types[i].name, name) == 0)
      return &zj_types[i];
  return NULL;
}

static const struct zj_type *zj_type_of(unsigned type)
{
  for (size_t i = 0; i < ZJ_NTYPES; i++)
    if (zj_types[i].type == type)
      return &zj_types[i];
  return NULL;
}

/* ---- the commands ---------------------------------------------------------------- */

int dns_zone_add_json(dns_zone_t *z, const tz_json_t *params, char *err,
                      size_t errlen)
{
  const struct zj_type *t =
      zj_type_named(tz_json_str(tz_json_get(params, "type")));
  dns_zone_rec_t r;
  long ttl;
  memset(&r, 0, sizeof r);
  if (!t) {
    zj_fail(err, errlen, "type", "A, AAAA, SRV, NAPTR or NXDOMAIN");
    return ZJ_BAD_PARAMS;
  }
  r.rr.type = (uint16_t)t->type;
  if (zj_text(params, "name", r.name, sizeof r.name, 1, err, errlen) < 0 ||
      t->read(params, &r, err, errlen) < 0 ||
      zj_uint(params, "ttl", ZJ_TTL_MAX, ZJ_TTL_DEFAULT, &ttl, err, errlen) < 0)
    return ZJ_BAD_PARAMS;
  r.ttl = (uint32_t)ttl;
  return dns_zone_add(z, &r, err, errlen) < 0 ? ZJ_REFUSED : 0;
}

static void zj_write_rec(void *arg, const dns_zone_rec_t *r)
{
  tz_jbuf_t *out = arg;
  const struct zj_type *t = zj_type_of(r->rr.type);
  tz_jw_obj_begin(out);
  tz_jw_key_str(out, "type", t->name);
  tz_jw_key_str(out, "name", r->name);
  t->write(out, r);
  tz_jw_key_int(out, "ttl", r->ttl);
  tz_jw_obj_end(out);
}

void dns_zone_write_json(dns_zone_t *z, tz_jbuf_t *out)
{
  tz_jw_arr_begin(out);
  dns_zone_each(z, zj_write_rec, out);
  tz_jw_arr_end(out);
}
