/*
 * udpio.c - one system call per datagram each way on Sofia's UDP
 * transports, where Sofia makes two. Daemon only, like interpose.c.
 *
 * Sofia's UDP tport sizes each message buffer exactly: it asks the kernel
 * for the next datagram's size (ioctl FIONREAD), then reads it (recvmsg).
 * Before every send it clears the socket's pending error (getsockopt
 * SO_ERROR), then sends (sendmsg). Measured without record-routing at
 * 5,000 calls/s for 60 s, two runs each, alternated, on this project's
 * 2-core VM (bench/steady.sh): 0.133 ms of CPU per call with them, 0.115
 * without (-13 %).
 *
 * - FIONREAD reads the datagram itself into the thread's one-datagram
 *   cache and answers its exact length; the recvmsg() (or, for a zero-
 *   length datagram, the recv()) that Sofia makes next is served from the
 *   cache. A cached datagram stays until it is read: FIONREAD on another
 *   socket meanwhile goes to the kernel as before.
 * - SO_ERROR answers 0 without asking. A pending error (an ICMP error the
 *   error queue has not cleared yet) then fails the next send instead,
 *   which consumed it and sent nothing: that send is made once more.
 * Only sockets bound while transport.c creates a transport are treated so
 * (tz_udpio_bound, from the bind wrapper; close() forgets them). Every
 * other descriptor, and every other request, goes straight to libc.
 *
 * The wire tap (sip/wiretap.c) is fed here because only here are the bytes
 * exactly those on the wire, both ways, with nta's retransmissions and its
 * own 100 Trying: each datagram once, when it leaves the kernel (read
 * ahead by FIONREAD, or by a recvmsg() that went to the kernel) and once
 * it was sent. With no tap registered that costs one relaxed load.
 *
 * Owns the table of such descriptors (atomic bytes: bound in the worker
 * that creates the transport, read by it afterwards), each thread's cache
 * and each thread's local addresses of them (thread-local: a worker reads
 * and writes only its own sockets).
 */
#define _GNU_SOURCE
#include "interpose.h"
#include "sip/wiretap.h"
#include "test/wire.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define UDPIO_MAX_FD (1 << 20)

/* 0, or the stamp of the bind that made the descriptor one of ours. */
static atomic_uchar udpio_fds[UDPIO_MAX_FD];
static atomic_uint udpio_binds;

/* The datagram FIONREAD read ahead of Sofia's recvmsg(). */
static _Thread_local struct {
  int fd;
  int full;
  size_t len;
  struct sockaddr_storage from;
  socklen_t fromlen;
  char data[65536];
} udpio_cache;

typedef int (*ioctl_f)(int, unsigned long, ...);
typedef int (*getsockopt_f)(int, int, int, void *, socklen_t *);
typedef ssize_t (*recvmsg_f)(int, struct msghdr *, int);
typedef ssize_t (*recv_f)(int, void *, size_t, int);
typedef ssize_t (*sendmsg_f)(int, const struct msghdr *, int);

static int udpio_ours(int fd)
{
  return fd >= 0 && fd < UDPIO_MAX_FD &&
         atomic_load_explicit(&udpio_fds[fd], memory_order_relaxed);
}

void tz_udpio_bound(int fd)
{
  int type = 0;
  socklen_t len = sizeof type;
  static _Atomic(void *) real;
  if (fd >= 0 && fd < UDPIO_MAX_FD &&
      ((getsockopt_f)tz_real(&real, "getsockopt"))(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
      type == SOCK_DGRAM)
    atomic_store(&udpio_fds[fd],
                 (unsigned char)(1 + atomic_fetch_add(&udpio_binds, 1) % 255));
}

void tz_udpio_closed(int fd)
{
  if (udpio_ours(fd)) {
    atomic_store(&udpio_fds[fd], 0);
    if (udpio_cache.fd == fd)
      udpio_cache.full = 0;
  }
}

static int udpio_cached(int fd) { return udpio_cache.full && udpio_cache.fd == fd; }

/* ---- the wire tap ---------------------------------------------------------- */

/* Each socket's local address, asked once per thread (getsockname), in a
 * table by descriptor; the bind's stamp tells a closed descriptor's
 * earlier socket from the one bound now under the same number. */
#define UDPIO_LOCAL 16
static _Thread_local struct udpio_local {
  int fd;
  unsigned char stamp;
  struct sockaddr_storage addr;
} udpio_local[UDPIO_LOCAL];

static const struct sockaddr *udpio_local_addr(int fd)
{
  unsigned char stamp = atomic_load_explicit(&udpio_fds[fd], memory_order_relaxed);
  struct udpio_local *l = &udpio_local[fd % UDPIO_LOCAL];
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (l->fd != fd || l->stamp != stamp) {
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
      return NULL;
    l->fd = fd, l->stamp = stamp, l->addr = ss;
  }
  return (const struct sockaddr *)&l->addr;
}

/* A datagram of ours, len bytes in iov, to the taps (the caller checked
 * tz_wiretap_on()). No peer address, nothing to say where it went. */
static void udpio_tap(int fd, int sent, const void *peer, const struct iovec *iov,
                      size_t iovcnt, size_t len)
{
  const struct sockaddr *local = udpio_local_addr(fd);
  if (!local || !peer)
    return;
  tz_wire_t w = {.sent = sent, .proto = IPPROTO_UDP, .src = sent ? local : peer,
                 .dst = sent ? peer : local, .iov = iov, .iovcnt = iovcnt,
                 .len = len};
  tz_wiretap_run(&w);
}

/* ---- the read-ahead cache -------------------------------------------------- */

/* FIONREAD on one of ours: the next datagram's length, read into the
 * cache; 0 when there is none (as the kernel would say). */
static int udpio_read_ahead(int fd, int *size)
{
  static _Atomic(void *) real;
  if (!udpio_cached(fd)) {
    struct iovec iov = {udpio_cache.data, sizeof udpio_cache.data};
    struct msghdr m = {.msg_name = &udpio_cache.from,
                       .msg_namelen = sizeof udpio_cache.from,
                       .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = ((recvmsg_f)tz_real(&real, "recvmsg"))(fd, &m, MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    if (n < 0) {
      *size = 0;
      return 0;
    }
    udpio_cache.fd = fd;
    udpio_cache.full = 1;
    udpio_cache.len = (size_t)n;
    udpio_cache.fromlen = m.msg_namelen;
    if (n > 0 && tz_wiretap_on()) {
      iov.iov_len = (size_t)n;
      udpio_tap(fd, 0, &udpio_cache.from, &iov, 1, (size_t)n);
    }
  }
  *size = (int)udpio_cache.len;
  return 0;
}

TZ_INTERPOSE int ioctl(int fd, unsigned long request, ...)
{
  static _Atomic(void *) real;
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (request == FIONREAD && udpio_ours(fd) &&
      (!udpio_cache.full || udpio_cache.fd == fd))
    return udpio_read_ahead(fd, arg);
  return ((ioctl_f)tz_real(&real, "ioctl"))(fd, request, arg);
}

/* The cached datagram into iov, as recvmsg() would: truncated to the
 * buffers (MSG_TRUNC), the whole length returned if flags ask MSG_TRUNC. */
static ssize_t udpio_copy(struct iovec *iov, size_t iovlen, int flags, int *mflags)
{
  size_t off = 0;
  for (size_t i = 0; i < iovlen && off < udpio_cache.len; i++) {
    size_t k = udpio_cache.len - off < iov[i].iov_len ? udpio_cache.len - off
                                                      : iov[i].iov_len;
    memcpy(iov[i].iov_base, udpio_cache.data + off, k);
    off += k;
  }
  *mflags = off < udpio_cache.len ? MSG_TRUNC : 0;
  if (!(flags & MSG_PEEK))
    udpio_cache.full = 0;
  return (ssize_t)(flags & MSG_TRUNC ? udpio_cache.len : off);
}

/* A recvmsg() that went to the kernel read a datagram of ours whole: the
 * taps see it (a peek is seen when it is read, the error queue never). */
static ssize_t udpio_tap_recvmsg(int fd, struct msghdr *m, int flags, ssize_t n)
{
  if (n > 0 && tz_wiretap_on() && udpio_ours(fd) &&
      !(flags & (MSG_ERRQUEUE | MSG_PEEK | MSG_TRUNC)) && !(m->msg_flags & MSG_TRUNC))
    udpio_tap(fd, 0, m->msg_name, m->msg_iov, m->msg_iovlen, (size_t)n);
  return n;
}

TZ_INTERPOSE ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
  static _Atomic(void *) real;
  if (!udpio_cached(fd) || (flags & MSG_ERRQUEUE))
    return udpio_tap_recvmsg(fd, m, flags,
                             ((recvmsg_f)tz_real(&real, "recvmsg"))(fd, m, flags));
  if (m->msg_name) {
    socklen_t n = m->msg_namelen < udpio_cache.fromlen ? m->msg_namelen
                                                       : udpio_cache.fromlen;
    memcpy(m->msg_name, &udpio_cache.from, n);
    m->msg_namelen = udpio_cache.fromlen;
  }
  m->msg_controllen = 0;
  return udpio_copy(m->msg_iov, m->msg_iovlen, flags, &m->msg_flags);
}

/* trapezoid --test (test/wire.c): a datagram for fd from `from`, in the
 * cache as if FIONREAD had read it ahead. */
int tz_udpio_inject(int fd, const void *data, size_t len, const struct sockaddr *from,
                    socklen_t fromlen)
{
  if (!udpio_ours(fd) || len > sizeof udpio_cache.data ||
      fromlen > sizeof udpio_cache.from || (udpio_cache.full && udpio_cache.fd != fd))
    return -1;
  memcpy(udpio_cache.data, data, len);
  memcpy(&udpio_cache.from, from, fromlen);
  udpio_cache.fd = fd, udpio_cache.full = 1;
  udpio_cache.len = len, udpio_cache.fromlen = fromlen;
  return 0;
}

/* Sofia's recv() on a UDP transport only discards an empty datagram (its
 * zero-length path), which carries no message: not tapped. */
TZ_INTERPOSE ssize_t recv(int fd, void *buf, size_t len, int flags)
{
  static _Atomic(void *) real;
  if (!udpio_cached(fd))
    return ((recv_f)tz_real(&real, "recv"))(fd, buf, len, flags);
  struct iovec iov = {buf, len};
  int mflags;
  return udpio_copy(&iov, 1, flags, &mflags);
}

TZ_INTERPOSE int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
  static _Atomic(void *) real;
  if (level != SOL_SOCKET || name != SO_ERROR || !udpio_ours(fd) ||
      *len < (socklen_t)sizeof(int))
    return ((getsockopt_f)tz_real(&real, "getsockopt"))(fd, level, name, val, len);
  *(int *)val = 0;
  *len = sizeof(int);
  return 0;
}

/* The errors an ICMP message leaves pending on a UDP socket. */
static int udpio_icmp_error(int e)
{
  return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
         e == EHOSTDOWN || e == EPROTO || e == EMSGSIZE;
}

TZ_INTERPOSE ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
  static _Atomic(void *) real;
  if (tz_testwire_on() && udpio_ours(fd))
    return tz_testwire_sendmsg(fd, m);
  sendmsg_f f = (sendmsg_f)tz_real(&real, "sendmsg");
  ssize_t n = f(fd, m, flags);
  if (n < 0 && udpio_icmp_error(errno) && udpio_ours(fd))
    n = f(fd, m, flags);
  if (n > 0 && tz_wiretap_on() && udpio_ours(fd))
    udpio_tap(fd, 1, m->msg_name, m->msg_iov, m->msg_iovlen, (size_t)n);
  return n;
}
