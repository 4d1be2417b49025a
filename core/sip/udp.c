/*
 * udp.c - our UDP listen sockets as the kernel sees them. Sofia sets the
 * buffer sizes (TPTAG_UDP_RMEM/WMEM: SO_RCVBUFFORCE when privileged, else
 * SO_RCVBUF, which Linux silently caps at net.core.rmem_max) but tells
 * nobody what it got, and a full receive buffer drops datagrams where no
 * log line sees them. So this file finds the sockets (the process's
 * descriptors that are datagram sockets bound to a listen port), reports
 * what they got, and reads their drop counts from /proc/net/udp{,6}.
 * Owns no state.
 */
#define _GNU_SOURCE
#include "sip/udp.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "sip/transport.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The local port of fd if it is a datagram socket, else 0. */
static unsigned udp_port_of(int fd)
{
  int type = 0;
  socklen_t len = sizeof type;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
      type != SOCK_DGRAM || getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

/* Calls cb for every descriptor that is one of our UDP listen sockets. */
static void udp_each(void (*cb)(void *arg, int fd, unsigned port), void *arg)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name);
    unsigned port = e->d_name[0] != '.' && fd != dirfd(d) ? udp_port_of(fd) : 0;
    if (tz_sip_is_udp_port(port))
      cb(arg, fd, port);
  }
  closedir(d);
}

static int udp_buf(int fd, int opt)
{
  int v = 0;
  socklen_t len = sizeof v;
  return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? 0 : v;
}

/* Linux reports twice the size asked for (its bookkeeping overhead). */
static void udp_report_one(void *arg, int fd, unsigned port)
{
  const tz_gen_t *g = arg;
  int rcv = udp_buf(fd, SO_RCVBUF), snd = udp_buf(fd, SO_SNDBUF);
  int short_rcv = g->udp_rcvbuf && (unsigned)rcv < 2 * g->udp_rcvbuf;
  int short_snd = g->udp_sndbuf && (unsigned)snd < 2 * g->udp_sndbuf;
  tz_log(short_rcv || short_snd ? TZ_LOG_WARN : TZ_LOG_INFO,
         "udp port %u: receive buffer %d, send buffer %d bytes (asked %u and %u)%s",
         port, rcv / 2, snd / 2, g->udp_rcvbuf, g->udp_sndbuf,
         short_rcv || short_snd
             ? ": the kernel capped them; raise net.core.rmem_max and "
               "net.core.wmem_max, or run privileged"
             : "");
}

void tz_udp_report(const tz_gen_t *g)
{
  udp_each(udp_report_one, (void *)g);
}

/* ---- drops: /proc/net/udp's per-socket "drops" column ---------------------- */

typedef struct udp_inodes {
  unsigned long v[64];
  size_t n;
} udp_inodes_t;

static void udp_add_inode(void *arg, int fd, unsigned port)
{
  (void)port;
  udp_inodes_t *in = arg;
  char link[64], path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n <= 0 || in->n == sizeof in->v / sizeof *in->v)
    return;
  link[n] = '\0';
  unsigned long ino;
  if (sscanf(link, "socket:[%lu]", &ino) == 1)
    in->v[in->n++] = ino;
}

static int udp_has_inode(const udp_inodes_t *in, unsigned long ino)
{
  for (size_t i = 0; i < in->n; i++)
    if (in->v[i] == ino)
      return 1;
  return 0;
}

/* Sums the drops column of file's lines whose inode is one of ours. */
static unsigned long udp_drops_in(const char *file, const udp_inodes_t *in)
{
  FILE *f = fopen(file, "r");
  char line[512];
  unsigned long sum = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long ino, drops;
    /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops */
    if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %*s %*s %lu",
               &ino, &drops) == 2 && udp_has_inode(in, ino))
      sum += drops;
  }
  fclose(f);
  return sum;
}

void tz_udp_stats_refresh(void)
{
  static tz_stat_t *drops;
  if (!drops)
    drops = tz_stat_get("sip.udp.drops", "datagrams the kernel dropped on our "
                        "UDP sockets: receive buffer full");
  udp_inodes_t in = {.n = 0};
  udp_each(udp_add_inode, &in);
  tz_stat_set(drops, (long)(udp_drops_in("/proc/net/udp", &in) +
                            udp_drops_in("/proc/net/udp6", &in)));
}
