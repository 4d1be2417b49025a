/*
 * freeport.c - prints N distinct loopback ports, below the kernel's ephemeral
 * range, that are free for both UDP
 * and TCP right now, so tests never assume a fixed port.
 *
 * Usage: freeport [-6] [N]
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static int freeport_bind(int family, int type, unsigned port)
{
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons((unsigned short)port);
    len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((unsigned short)port);
    len = sizeof *a;
  }
  int fd = socket(family, type, 0);
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The kernel's ephemeral ports start here: every port bound to 0 later
 * (a worker's private port, SIPp's, a client's) comes from above it. */
static unsigned freeport_ephemeral_low(void)
{
  unsigned low = 32768, high;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f) {
    if (fscanf(f, "%u %u", &low, &high) != 2)
      low = 32768;
    fclose(f);
  }
  return low;
}

/* A port free for TCP and UDP below the ephemeral range, so that nothing
 * bound later to port 0 can take it, nor the next port (baresip's TLS). */
static unsigned freeport_pick(int family)
{
  unsigned low = 20000, high = freeport_ephemeral_low();
  if (high <= low + 1000)
    low = 1024;
  for (int tries = 0; tries < 1000; tries++) {
    unsigned port = low + (unsigned)rand() % (high - low);
    int t = freeport_bind(family, SOCK_STREAM, port);
    if (t < 0)
      continue;
    int u = freeport_bind(family, SOCK_DGRAM, port);
    close(t);
    if (u >= 0) {
      close(u);
      return port;
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  int family = AF_INET, n = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-6") == 0)
      family = AF_INET6;
    else
      n = atoi(argv[i]);
  }
  unsigned seen[64];
  int got = 0;
  srand((unsigned)getpid() ^ (unsigned)time(NULL));
  while (got < n && got < 64) {
    unsigned p = freeport_pick(family);
    if (!p)
      return 1;
    int dup = 0;
    for (int k = 0; k < got; k++)
      dup |= seen[k] == p;
    if (!dup)
      seen[got++] = p;
  }
  for (int k = 0; k < got; k++)
    printf("%u\n", seen[k]);
  return 0;
}
