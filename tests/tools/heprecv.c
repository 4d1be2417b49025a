/*
 * heprecv.c - a HEP collector for the tests: listens on a loopback UDP
 * port and writes every datagram it gets into a pcap file, each behind a
 * made-up Ethernet, IPv4 and UDP header (from the sender's port to PORT), so that
 * pcap readers (sngrep -E, tshark) see the HEP packets as they came.
 * The file is flushed after each packet; SIGTERM ends it.
 *
 * Usage: heprecv PORT FILE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Ethernet, not raw IP: sngrep writes what it decodes from a file as
 * Ethernet frames under the file's own link type. */
#define LINKTYPE_ETHERNET 1
#define HDRS 42 /* Ethernet 14, IPv4 20, UDP 8 */

static void put16(unsigned char *p, unsigned v)
{
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

/* The IPv4 header checksum (RFC 791) over its 20 bytes. */
static unsigned ip_sum(const unsigned char *h)
{
  uint32_t s = 0;
  for (int i = 0; i < 20; i += 2)
    s += (uint32_t)(h[i] << 8 | h[i + 1]);
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/* 127.0.0.1:sport -> 127.0.0.1:dport, n bytes of UDP payload. */
static void headers(unsigned char *h, unsigned sport, unsigned dport, size_t n)
{
  static const unsigned char lo[4] = {127, 0, 0, 1};
  memset(h, 0, HDRS);
  put16(h + 12, 0x0800); /* IPv4 */
  h += 14;
  h[0] = 0x45, h[8] = 64, h[9] = IPPROTO_UDP;
  put16(h + 2, (unsigned)(28 + n));
  memcpy(h + 12, lo, 4);
  memcpy(h + 16, lo, 4);
  put16(h + 10, ip_sum(h));
  put16(h + 20, sport);
  put16(h + 22, dport);
  put16(h + 24, (unsigned)(8 + n)); /* UDP checksum 0: none (IPv4) */
}

static void pcap_header(FILE *f)
{
  uint32_t magic = 0xa1b2c3d4, snap = 65535, link = LINKTYPE_ETHERNET, zero = 0;
  uint16_t major = 2, minor = 4;
  fwrite(&magic, 4, 1, f), fwrite(&major, 2, 1, f), fwrite(&minor, 2, 1, f);
  fwrite(&zero, 4, 1, f), fwrite(&zero, 4, 1, f);
  fwrite(&snap, 4, 1, f), fwrite(&link, 4, 1, f);
  fflush(f);
}

static void pcap_packet(FILE *f, const unsigned char *h, const void *data, size_t n)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  uint32_t rec[4] = {(uint32_t)tv.tv_sec, (uint32_t)tv.tv_usec,
                     (uint32_t)(HDRS + n), (uint32_t)(HDRS + n)};
  fwrite(rec, sizeof rec, 1, f);
  fwrite(h, HDRS, 1, f);
  fwrite(data, n, 1, f);
  fflush(f);
}

static int listen_on(unsigned port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int rcvbuf = 8 << 20;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
    return -1;
  /* Room for a burst (privileged: past net.core.rmem_max). */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  return fd;
}

int main(int argc, char **argv)
{
  static unsigned char buf[65536];
  unsigned char h[HDRS];
  unsigned port = argc == 3 ? (unsigned)atoi(argv[1]) : 0;
  int fd = port ? listen_on(port) : -1;
  FILE *f = fd >= 0 ? fopen(argv[2], "wb") : NULL;
  if (!f) {
    fprintf(stderr, "usage: heprecv PORT FILE (and a free loopback PORT)\n");
    return 2;
  }
  pcap_header(f);
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 0)
      continue;
    headers(h, ntohs(from.sin_port), port, (size_t)n);
    pcap_packet(f, h, buf, (size_t)n);
  }
}
