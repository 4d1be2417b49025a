/*
 * tcplimit.c - a cap on open TCP/TLS connections: the bookkeeping.
 *
 * Sofia's tport accepts every connection it is offered and has no limit
 * of its own; at the process's descriptor limit its level-triggered accept
 * would fail in a loop. The daemon therefore wraps libc's accept() and
 * close() (interpose.c, linked into the daemon only) and asks this file:
 * past the cap a new connection is closed at once, which empties the
 * backlog, costs nothing per message and keeps the server answering the
 * connections it has. Idle connections are shut down by a sweep that asks
 * the kernel (TCP_INFO) when each last carried data: tport's own idle
 * timer only starts after a connection's first message, so a connection
 * that never sends anything would stay forever. At the cap, the
 * connection idle longest makes room for the new one.
 *
 * Owns the table of accepted descriptors; used from the event loop
 * thread, except tz_tcp_forget(), which any thread's close() may call.
 */
#define _GNU_SOURCE
#include "sip/tcplimit.h"
#include <trapezoid/trapezoid.h>

#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned tcp_cap;  /* 0 = no cap */
static unsigned tcp_idle_ms;
static int tcp_maxfd = -1; /* highest descriptor ever tracked */
static unsigned tcp_open; /* connections accepted and not yet closed */
static unsigned long tcp_refused;

/* Accepted descriptors, so close() can tell ours from others. Static and
 * never freed: the location writer thread may close its own files while
 * the loop thread accepts, or after shutdown. Untouched pages cost no
 * memory. */
#define TCP_MAX_FD (1 << 20)
static unsigned char tcp_fds[TCP_MAX_FD];

int tz_tcp_limit_set(unsigned max_connections, unsigned idle_ms)
{
  tcp_idle_ms = idle_ms;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max; /* room for the connections we allow */
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  rlim_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
  if (nofile > TCP_MAX_FD)
    nofile = TCP_MAX_FD;
  if (max_connections && max_connections + 64 > nofile)
    max_connections = nofile > 64 ? (unsigned)nofile - 64 : 1;
  tcp_cap = max_connections;
  return (int)tcp_cap;
}

unsigned long tz_tcp_refused(void) { return tcp_refused; }
unsigned tz_tcp_open(void) { return tcp_open; }

static int tcp_track(int fd)
{
  if (fd >= TCP_MAX_FD)
    return -1;
  tcp_fds[fd] = 1;
  if (fd > tcp_maxfd)
    tcp_maxfd = fd;
  tcp_open++;
  return 0;
}

/* Milliseconds since fd last received or sent data. */
static unsigned tcp_idle_of(int fd)
{
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
    return 0;
  return ti.tcpi_last_data_recv < ti.tcpi_last_data_sent
             ? ti.tcpi_last_data_recv
             : ti.tcpi_last_data_sent;
}

/* Shuts fd down; tport sees the end of the stream and closes it. */
static void tcp_shut(int fd, unsigned idle)
{
  shutdown(fd, SHUT_RDWR);
  tcp_fds[fd] = 2; /* shut, not yet closed: not a candidate again */
  tz_log(TZ_LOG_DBG, "tcp: closing connection %d, idle %u ms", fd, idle);
}

/* The open connection idle longest, if idle at least min_ms; -1 if none. */
static int tcp_most_idle(unsigned min_ms, unsigned *idle_out)
{
  int best = -1;
  unsigned most = 0;
  for (int fd = 0; fd <= tcp_maxfd; fd++) {
    if (tcp_fds[fd] != 1)
      continue;
    unsigned idle = tcp_idle_of(fd);
    if (idle >= min_ms && idle >= most) {
      most = idle;
      best = fd;
    }
  }
  *idle_out = most;
  return best;
}

unsigned tz_tcp_sweep(void)
{
  unsigned n = 0;
  for (int fd = 0; tcp_idle_ms && fd <= tcp_maxfd; fd++) {
    if (tcp_fds[fd] != 1)
      continue;
    unsigned idle = tcp_idle_of(fd);
    if (idle >= tcp_idle_ms) {
      tcp_shut(fd, idle);
      n++;
    }
  }
  return n;
}

/* At the cap: the connection idle longest (over a second) makes room. */
static int tcp_make_room(void)
{
  unsigned idle;
  int victim = tcp_most_idle(1000, &idle);
  if (victim < 0)
    return -1;
  tcp_shut(victim, idle);
  return 0;
}

int tz_tcp_admit(int fd)
{
  if (!tcp_cap)
    return 1;
  if ((tcp_open >= tcp_cap && tcp_make_room() < 0) || tcp_track(fd) < 0) {
    tcp_refused++;
    return 0;
  }
  return 1;
}

void tz_tcp_forget(int fd)
{
  if (fd >= 0 && fd < TCP_MAX_FD && tcp_fds[fd]) { /* ours, open or shut */
    tcp_fds[fd] = 0;
    tcp_open--;
  }
}

void tz_tcp_limit_deinit(void) { tcp_cap = 0; }
