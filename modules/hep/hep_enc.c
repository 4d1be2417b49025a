/*
 * hep_enc.c - HEPv3, the Homer Encapsulation Protocol (sipcapture.org's
 * HEP spec, as Homer, Kamailio's siptrace and Wireshark's "hep" dissector
 * read it): "HEP3", the packet's total length, then chunks, each a vendor
 * (0: generic), a type, a length that counts the chunk's own 6 bytes, and
 * a value; all numbers in network order. Owns no state.
 */
#include "hep.h"

#include <assert.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

/* Chunk types (generic vendor). The source address types are one below
 * the destination ones, and so are the ports: hep_addr relies on it. */
enum {
  HEP_IP_FAMILY = 0x0001,
  HEP_IP_PROTO = 0x0002,
  HEP_SRC_IP4 = 0x0003, /* 0x0004 destination */
  HEP_SRC_IP6 = 0x0005, /* 0x0006 destination */
  HEP_SRC_PORT = 0x0007, /* 0x0008 destination */
  HEP_TS_SEC = 0x0009,
  HEP_TS_USEC = 0x000a,
  HEP_PROTO_TYPE = 0x000b,
  HEP_CAPTURE_ID = 0x000c,
  HEP_PAYLOAD = 0x000f,
  HEP_CORRELATION = 0x0011
};
/* The spec's numbers (they are Linux's AF_INET and AF_INET6 by origin). */
enum { HEP_FAMILY_IP4 = 2, HEP_FAMILY_IP6 = 10, HEP_TYPE_SIP = 1 };

#define HEP_CHUNK 6      /* a chunk's vendor, type and length */
#define HEP_HEAD_MAX 128 /* "HEP3", length, and the chunks before the payload */
#define HEP_CORR_MAX 255 /* a longer Call-ID is not sent as correlation id */
#define HEP_UDP_MAX 65507 /* the largest UDP payload over IPv4 */

static unsigned char *hep_put16(unsigned char *p, unsigned v)
{
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
  return p + 2;
}

/* A chunk's header; its value of n bytes follows. */
static unsigned char *hep_chunk(unsigned char *p, unsigned type, size_t n)
{
  p = hep_put16(p, 0);
  p = hep_put16(p, type);
  return hep_put16(p, (unsigned)(HEP_CHUNK + n));
}

static unsigned char *hep_bytes(unsigned char *p, unsigned type, const void *v,
                                size_t n)
{
  p = hep_chunk(p, type, n);
  memcpy(p, v, n);
  return p + n;
}

static unsigned char *hep_u8(unsigned char *p, unsigned type, unsigned v)
{
  unsigned char b = (unsigned char)v;
  return hep_bytes(p, type, &b, 1);
}

static unsigned char *hep_u16(unsigned char *p, unsigned type, unsigned v)
{
  return hep_put16(hep_chunk(p, type, 2), v);
}

static unsigned char *hep_u32(unsigned char *p, unsigned type, uint32_t v)
{
  p = hep_put16(hep_chunk(p, type, 4), v >> 16);
  return hep_put16(p, v & 0xffff);
}

/* An address and its port: the source's chunks (dst 0) or the
 * destination's (dst 1). */
static unsigned char *hep_addr(unsigned char *p, const struct sockaddr *sa, int dst)
{
  const struct sockaddr_in *in = (const void *)sa;
  const struct sockaddr_in6 *in6 = (const void *)sa;
  int v4 = sa->sa_family == AF_INET;
  p = v4 ? hep_bytes(p, HEP_SRC_IP4 + dst, &in->sin_addr, 4)
         : hep_bytes(p, HEP_SRC_IP6 + dst, &in6->sin6_addr, 16);
  return hep_u16(p, HEP_SRC_PORT + dst, ntohs(v4 ? in->sin_port : in6->sin6_port));
}

/* Every chunk before the payload. */
static unsigned char *hep_head(unsigned char *p, const tz_wire_t *w,
                               const hep_meta_t *meta, const struct timespec *ts)
{
  assert(w->src->sa_family == w->dst->sa_family); /* one socket's */
  assert(w->src->sa_family == AF_INET || w->src->sa_family == AF_INET6);
  p = hep_u8(p, HEP_IP_FAMILY,
             w->src->sa_family == AF_INET ? HEP_FAMILY_IP4 : HEP_FAMILY_IP6);
  p = hep_u8(p, HEP_IP_PROTO, (unsigned)w->proto);
  p = hep_addr(hep_addr(p, w->src, 0), w->dst, 1);
  p = hep_u32(p, HEP_TS_SEC, (uint32_t)ts->tv_sec);
  p = hep_u32(p, HEP_TS_USEC, (uint32_t)(ts->tv_nsec / 1000));
  p = hep_u8(p, HEP_PROTO_TYPE, HEP_TYPE_SIP);
  return hep_u32(p, HEP_CAPTURE_ID, meta->capture_id);
}

static unsigned char *hep_payload(unsigned char *p, const tz_wire_t *w)
{
  size_t left = w->len;
  p = hep_chunk(p, HEP_PAYLOAD, w->len);
  for (size_t i = 0; i < w->iovcnt && left; i++) {
    size_t n = w->iov[i].iov_len < left ? w->iov[i].iov_len : left;
    memcpy(p, w->iov[i].iov_base, n);
    p += n, left -= n;
  }
  assert(left == 0);
  return p;
}

/* The value of the header line [line, eol) if it is a Call-ID (long or
 * compact form, RFC 3261 7.3.3), else NULL. */
static const char *hep_callid_value(const char *line, const char *eol)
{
  static const char name[] = "Call-ID";
  const char *p = line;
  if (eol - p > (long)sizeof name && strncasecmp(p, name, sizeof name - 1) == 0)
    p += sizeof name - 1;
  else if (eol - p > 1 && (*p == 'i' || *p == 'I'))
    p++;
  else
    return NULL;
  while (p < eol && (*p == ' ' || *p == '\t'))
    p++;
  return p < eol && *p == ':' ? p + 1 : NULL;
}

/* The Call-ID of the message msg[0..len): its length, 0 if there is none
 * before the empty line that ends the headers. A folded Call-ID (which no
 * one sends) would be taken up to its first line end. */
static size_t hep_callid(const char *msg, size_t len, const char **id)
{
  const char *end = msg + len, *eol, *v = NULL;
  for (const char *line = msg; !v && line < end; line = eol + 1) {
    eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol || eol == line || (eol == line + 1 && *line == '\r'))
      return 0;
    v = hep_callid_value(line, eol);
  }
  if (!v)
    return 0;
  while (v < eol && (*v == ' ' || *v == '\t'))
    v++;
  while (eol > v && isspace((unsigned char)eol[-1]))
    eol--;
  *id = v;
  return (size_t)(eol - v);
}

/* The correlation chunk after the payload (already in the packet at
 * payload), when asked for and the message has a Call-ID. */
static unsigned char *hep_correlation(unsigned char *p, const unsigned char *payload,
                                      size_t len, const hep_meta_t *meta)
{
  const char *id;
  size_t n = meta->correlation ? hep_callid((const char *)payload, len, &id) : 0;
  return n && n <= HEP_CORR_MAX ? hep_bytes(p, HEP_CORRELATION, id, n) : p;
}

hep_pkt_t *hep_encode(const tz_wire_t *w, const hep_meta_t *meta,
                      const struct timespec *ts)
{
  hep_pkt_t *pk = w->len <= HEP_UDP_MAX
                      ? malloc(sizeof *pk + HEP_HEAD_MAX + 2 * HEP_CHUNK + w->len + HEP_CORR_MAX)
                      : NULL;
  if (!pk)
    return NULL;
  unsigned char *p = hep_head(pk->data + 6, w, meta, ts);
  p = hep_correlation(hep_payload(p, w), p + HEP_CHUNK, w->len, meta);
  pk->len = (size_t)(p - pk->data);
  assert(pk->len <= HEP_HEAD_MAX + 2 * HEP_CHUNK + w->len + HEP_CORR_MAX);
  if (pk->len > HEP_UDP_MAX) {
    free(pk);
    return NULL;
  }
  memcpy(pk->data, "HEP3", 4);
  hep_put16(pk->data + 4, (unsigned)pk->len);
  return pk;
}
