/*
 * test_hep.c - the hep module's HEPv3 encoder against the spec's layout:
 * one packet byte for byte (IPv4), then each chunk by type: IPv6
 * addresses, the Call-ID as correlation id (long and compact form, none,
 * switched off), a message too big for one datagram.
 */
#define _POSIX_C_SOURCE 200809L
#include "tzunit.h"

#include "hep.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

static struct sockaddr_in v4(const char *ip, unsigned port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static struct sockaddr_in6 v6(const char *ip, unsigned port)
{
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static const struct timespec ts = {1700000000, 123456789};

/* Encodes msg (in two pieces, as sendmsg() hands them) from src to dst. */
static hep_pkt_t *encode(const void *src, const void *dst, const char *msg,
                         int correlation)
{
  size_t n = strlen(msg), half = n / 2;
  struct iovec iov[2] = {{(void *)msg, half}, {(void *)(msg + half), n - half}};
  tz_wire_t w = {.sent = 1, .proto = IPPROTO_UDP, .src = src, .dst = dst,
                 .iov = iov, .iovcnt = 2, .len = n};
  hep_meta_t meta = {.capture_id = 7, .correlation = correlation};
  return hep_encode(&w, &meta, &ts);
}

/* The value of the chunk of type in p (its length in *len), after checking
 * that the chunks tile the packet exactly; NULL if there is none. */
static const unsigned char *chunk(const hep_pkt_t *p, unsigned type, size_t *len)
{
  const unsigned char *found = NULL;
  size_t off = 6;
  CU_ASSERT_FATAL(p->len >= 6 && memcmp(p->data, "HEP3", 4) == 0);
  CU_ASSERT_EQUAL(p->data[4] << 8 | p->data[5], p->len);
  while (off + 6 <= p->len) {
    const unsigned char *c = p->data + off;
    size_t clen = (size_t)(c[4] << 8 | c[5]);
    CU_ASSERT_EQUAL(c[0] << 8 | c[1], 0); /* generic vendor */
    CU_ASSERT_FATAL(clen >= 6 && off + clen <= p->len);
    if ((unsigned)(c[2] << 8 | c[3]) == type)
      found = c + 6, *len = clen - 6;
    off += clen;
  }
  CU_ASSERT_EQUAL(off, p->len);
  return found;
}

#define MSG "INVITE sip:b@x SIP/2.0\r\nCall-ID: abc@h \r\nCSeq: 1 INVITE\r\n\r\n"

static void test_ipv4_bytes(void)
{
  struct sockaddr_in s = v4("10.0.0.1", 5060), d = v4("10.0.0.2", 5070);
  static const unsigned char head[] = {
    'H', 'E', 'P', '3', 0, 0, /* total length: checked below */
    0, 0, 0, 1, 0, 7, 2,                  /* IP family: IPv4 */
    0, 0, 0, 2, 0, 7, 17,                 /* IP protocol: UDP */
    0, 0, 0, 3, 0, 10, 10, 0, 0, 1,       /* source IPv4 */
    0, 0, 0, 7, 0, 8, 0x13, 0xc4,         /* source port 5060 */
    0, 0, 0, 4, 0, 10, 10, 0, 0, 2,       /* destination IPv4 */
    0, 0, 0, 8, 0, 8, 0x13, 0xce,         /* destination port 5070 */
    0, 0, 0, 9, 0, 10, 0x65, 0x53, 0xf1, 0x00, /* seconds 1700000000 */
    0, 0, 0, 10, 0, 10, 0, 0x01, 0xe2, 0x40,   /* microseconds 123456 */
    0, 0, 0, 11, 0, 7, 1,                 /* protocol type: SIP */
    0, 0, 0, 12, 0, 10, 0, 0, 0, 7,       /* capture agent id 7 */
    0, 0, 0, 15, 0, 6 + sizeof MSG - 1};  /* payload chunk header */
  static const unsigned char corr[] = {0, 0, 0, 0x11, 0, 6 + 5, 'a', 'b', 'c', '@', 'h'};
  hep_pkt_t *p = encode(&s, &d, MSG, 1);
  CU_ASSERT_FATAL(p != NULL);
  CU_ASSERT_EQUAL(p->len, sizeof head + sizeof MSG - 1 + sizeof corr);
  CU_ASSERT_EQUAL(p->data[4] << 8 | p->data[5], p->len);
  CU_ASSERT(memcmp(p->data + 6, head + 6, sizeof head - 6) == 0);
  CU_ASSERT(memcmp(p->data + sizeof head, MSG, sizeof MSG - 1) == 0);
  CU_ASSERT(memcmp(p->data + sizeof head + sizeof MSG - 1, corr, sizeof corr) == 0);
  free(p);
}

static void test_ipv6(void)
{
  struct sockaddr_in6 s = v6("2001:db8::1", 5060), d = v6("2001:db8::2", 9);
  hep_pkt_t *p = encode(&s, &d, MSG, 1);
  size_t n = 0;
  const unsigned char *v = chunk(p, 0x0001, &n);
  CU_ASSERT(v && n == 1 && v[0] == 10);
  CU_ASSERT((v = chunk(p, 0x0005, &n)) && n == 16 && memcmp(v, &s.sin6_addr, 16) == 0);
  CU_ASSERT((v = chunk(p, 0x0006, &n)) && n == 16 && memcmp(v, &d.sin6_addr, 16) == 0);
  CU_ASSERT((v = chunk(p, 0x0008, &n)) && n == 2 && v[0] == 0 && v[1] == 9);
  CU_ASSERT(chunk(p, 0x0003, &n) == NULL);
  free(p);
}

/* The correlation chunk of msg, "" when there is none. */
static char *correlation(const char *msg, int on)
{
  static char out[300];
  struct sockaddr_in s = v4("127.0.0.1", 1), d = v4("127.0.0.1", 2);
  hep_pkt_t *p = encode(&s, &d, msg, on);
  size_t n = 0;
  const unsigned char *v = chunk(p, 0x0011, &n);
  memcpy(out, v ? (const char *)v : "", v ? n : 0);
  out[v ? n : 0] = '\0';
  free(p);
  return out;
}

static void test_correlation(void)
{
  CU_ASSERT_STRING_EQUAL(correlation(MSG, 1), "abc@h");
  CU_ASSERT_STRING_EQUAL(correlation(MSG, 0), "");
  CU_ASSERT_STRING_EQUAL(correlation("SIP/2.0 200 OK\r\nVia: x\r\ni :\tq1\r\n\r\n", 1), "q1");
  CU_ASSERT_STRING_EQUAL(correlation("SIP/2.0 200 OK\r\nCall-Info: <x>\r\n\r\n", 1), "");
  /* a Call-ID in the body is not the message's */
  CU_ASSERT_STRING_EQUAL(correlation("OPTIONS sip:x SIP/2.0\r\n\r\nCall-ID: body\r\n", 1), "");
  CU_ASSERT_STRING_EQUAL(correlation("\r\n\r\n", 1), "");
}

static void test_too_big(void)
{
  struct sockaddr_in s = v4("127.0.0.1", 1), d = v4("127.0.0.1", 2);
  char *big = malloc(65508);
  CU_ASSERT_FATAL(big != NULL);
  memset(big, 'x', 65507);
  big[65507] = '\0';
  CU_ASSERT(encode(&s, &d, big, 1) == NULL); /* with the chunks, over 65507 */
  big[65000] = '\0';
  hep_pkt_t *p = encode(&s, &d, big, 1);
  CU_ASSERT(p != NULL && p->len < 65507);
  free(p);
  free(big);
}

int main(void)
{
  static const tz_unit_test_t tests[] = {
    {"one IPv4 packet byte for byte", test_ipv4_bytes},
    {"IPv6 addresses and ports", test_ipv6},
    {"Call-ID as correlation id", test_correlation},
    {"a message too big for a datagram", test_too_big},
    {NULL, NULL}};
  static const tz_unit_suite_t suites[] = {{"hep", tests, NULL, NULL}, {NULL, NULL, NULL, NULL}};
  return tz_unit_main(suites);
}
