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
 * Owns the table of accepted descriptors. Every worker accepts and closes
 * (and any thread's close() lands in tz_tcp_forget): tcp_lock guards the
 * table and the counts; close() of a descriptor that was never ours reads
 * its atomic slot and takes no lock. The sweep runs in worker 0 only.
 */
#define _GNU_SOURCE
#include "sip/tcplimit.h"
#include <trapezoid/trapezoid.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t tcp_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint tcp_cap;  /* 0 = no cap */
static unsigned tcp_idle_ms;
static int tcp_maxfd = -1; /* highest descriptor ever tracked */
static unsigned tcp_open; /* connections accepted and not yet closed */
static unsigned long tcp_refused;

/* Accepted descriptors, so close() can tell ours from others. Static and
 * never freed: the location writer thread may close its own files while
 * the loop thread accepts, or after shutdown. Untouched pages cost no
 * memory. */
#define TCP_MAX_FD (1 << 20)
static atomic_uchar tcp_fds[TCP_MAX_FD];

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

unsigned long tz_tcp_refused(void)
{
  pthread_mutex_lock(&tcp_lock);
  unsigned long n = tcp_refused;
  pthread_mutex_unlock(&tcp_lock);
  return n;
}

unsigned tz_tcp_open(void)
{
  pthread_mutex_lock(&tcp_lock);
  unsigned n = tcp_open;
  pthread_mutex_unlock(&tcp_lock);
  return n;
}

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
  pthread_mutex_lock(&tcp_lock);
  for (int fd = 0; tcp_idle_ms && fd <= tcp_maxfd; fd++) {
    if (tcp_fds[fd] != 1)
      continue;
    unsigned idle = tcp_idle_of(fd);
    if (idle >= tcp_idle_ms) {
      tcp_shut(fd, idle);
      n++;
    }
  }
  pthread_mutex_unlock(&tcp_lock);
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
  unsigned cap = atomic_load(&tcp_cap);
  if (!cap)
    return 1;
  pthread_mutex_lock(&tcp_lock);
  int ok = !((tcp_open >= cap && tcp_make_room() < 0) || tcp_track(fd) < 0);
  if (!ok)
    tcp_refused++;
  pthread_mutex_unlock(&tcp_lock);
  return ok;
}

void tz_tcp_forget(int fd)
{
  if (fd < 0 || fd >= TCP_MAX_FD || !atomic_load_explicit(&tcp_fds[fd], memory_order_relaxed))
    return;
  pthread_mutex_lock(&tcp_lock);
  if (tcp_fds[fd]) { /* ours, open or shut */
    tcp_fds[fd] = 0;
    tcp_open--;
  }
  pthread_mutex_unlock(&tcp_lock);
}

void tz_tcp_limit_deinit(void) { atomic_store(&tcp_cap, 0); }
