/*
 * udpio.c - fewer system calls on Sofia's UDP transports: one per batch
 * of datagrams each way where Sofia makes two per datagram, plus an
 * epoll_wait() per datagram received. Daemon only, like interpose.c.
 *
 * Sofia's UDP tport sizes each message buffer exactly: it asks the kernel
 * for the next datagram's size (ioctl FIONREAD), then reads it (recvmsg).
 * Before every send it clears the socket's pending error (getsockopt
 * SO_ERROR), then sends (sendmsg). It reads one datagram per "readable"
 * event and sends each message as it is made. On this project's 2-core VM
 * a system call costs more than the work of relaying a datagram around it
 * (perf: a third of the server's CPU in syscall entry, epoll_wait and the
 * scheduler at 4,000 calls/s); measured without record-routing at 4,000
 * calls/s for 60 s, alternated (bench/steady.sh), CPU per call went from
 * 0.148 ms to 0.125 with the batched reads, and to 0.100 with the sends
 * batched as well.
 *
 * - FIONREAD reads the datagrams waiting, up to UDPIO_BATCH in one
 *   recvmmsg(), into the thread's cache and answers the first one's exact
 *   length; the recvmsg() (or, for a zero-length datagram, the recv())
 *   that Sofia makes next is served from the cache. Cached datagrams stay
 *   until they are read: FIONREAD on another socket meanwhile goes to the
 *   kernel as before.
 * - tport_recv_event() (Sofia's "socket readable", one datagram a call)
 *   runs again while the cache holds datagrams, so a loop that fell behind
 *   catches up with one system call per batch instead of an epoll_wait()
 *   and a recvmsg() per datagram; one that keeps up reads one datagram per
 *   wake-up as before.
 * - sendmsg() queues the datagram (copied; its length answered at once)
 *   and the loop sends the queue with sendmmsg() before it waits
 *   (epoll_wait), so what one event or one batch produced leaves together,
 *   in order. A refused datagram's error reaches Sofia as an ICMP error's
 *   does (see struct udpio_out).
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
 * that creates the transport, read by it afterwards), each thread's read
 * cache and send queue and each thread's local addresses of them (thread-local: a worker reads
 * and writes only its own sockets).
 */
#define _GNU_SOURCE
#include "interpose.h"
#include <trapezoid/trapezoid.h>
#include "sip/wiretap.h"
#include "test/wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define UDPIO_MAX_FD (1 << 20)

/* 0, or the stamp of the bind that made the descriptor one of ours. */
static atomic_uchar udpio_fds[UDPIO_MAX_FD];
static atomic_uint udpio_binds;

/* The datagrams FIONREAD read ahead of Sofia's recvmsg(), all from one
 * socket: d[head] is the next, count of them wait. Allocated by the first
 * read of each thread (a 64 KB slot a datagram: the largest UDP can
 * carry; pages are touched only as datagrams fill them), freed when the
 * thread ends. */
#define UDPIO_BATCH 16
#define UDPIO_SLOT 65536
struct udpio_cache {
  int fd;
  unsigned head, count;
  struct udpio_dgram {
    size_t len;
    socklen_t fromlen;
    struct sockaddr_storage from;
  } d[UDPIO_BATCH];
  char data[UDPIO_BATCH][UDPIO_SLOT];
};
static _Thread_local struct udpio_cache *udpio_cache;

/* Datagrams Sofia sent since the loop last waited, in order, each for
 * its socket (with the transport that sent it, once tportio.c's
 * tport_tsend() wrapper says); sent, a run of one socket's with one
 * sendmmsg(), when the loop is about to wait (epoll_wait), when a send
 * cannot wait (ancillary data), when full, when one of the sockets
 * closes and when the thread ends. A datagram the kernel refused is
 * lost, as on the wire, and counted; its error is reported to its
 * transport as Sofia reports an ICMP error (tport_error_report(): nta
 * fails a request to that address at once, 503) once the loop is about
 * to wait, never from inside a send. */
#define UDPIO_OUT 32
#define UDPIO_OUT_BYTES (256 * 1024)
struct udpio_out {
  unsigned count, nlost;
  size_t used;
  struct udpio_sent {
    int fd, flags, err;
    tport_t *tp;
    size_t off, len;
    socklen_t tolen;
    struct sockaddr_storage to;
  } d[UDPIO_OUT], lost[UDPIO_OUT];
  char data[UDPIO_OUT_BYTES];
};
static _Thread_local struct udpio_out *udpio_out;

/* Both, for each thread that reads or sends on our sockets: made on first
 * use, freed (its datagrams sent) when the thread ends. */
struct udpio_thread {
  struct udpio_cache in;
  struct udpio_out out;
};
static pthread_key_t udpio_key;
static pthread_once_t udpio_once = PTHREAD_ONCE_INIT;

static void udpio_flush(void);

/* fd closes: its transport may be gone by the time the loop would report. */
static void udpio_forget_lost(int fd)
{
  struct udpio_out *o = udpio_out;
  unsigned k = 0;
  for (unsigned i = 0; o && i < o->nlost; i++)
    if (o->lost[i].fd != fd)
      o->lost[k++] = o->lost[i];
  if (o)
    o->nlost = k;
}

static void udpio_free(void *t)
{
  udpio_flush();
  free(t);
  udpio_cache = NULL, udpio_out = NULL;
}

static void udpio_make_key(void) { pthread_key_create(&udpio_key, udpio_free); }

/* This thread's buffers; 0, or -1 if out of memory. */
static int udpio_get(void)
{
  struct udpio_thread *t;
  if (udpio_cache)
    return 0;
  if (!(t = malloc(sizeof *t)))
    return -1;
  t->in.count = t->out.count = t->out.nlost = 0;
  t->out.used = 0;
  udpio_cache = &t->in, udpio_out = &t->out;
  pthread_once(&udpio_once, udpio_make_key);
  pthread_setspecific(udpio_key, t);
  return 0;
}

static unsigned udpio_waiting(void) { return udpio_cache ? udpio_cache->count : 0; }

typedef void (*recv_event_f)(tport_t *);
typedef int (*ioctl_f)(int, unsigned long, ...);
typedef int (*getsockopt_f)(int, int, int, void *, socklen_t *);
typedef ssize_t (*recvmsg_f)(int, struct msghdr *, int);
typedef int (*recvmmsg_f)(int, struct mmsghdr *, unsigned, int, struct timespec *);
typedef ssize_t (*recv_f)(int, void *, size_t, int);
typedef ssize_t (*sendmsg_f)(int, const struct msghdr *, int);
typedef int (*sendmmsg_f)(int, struct mmsghdr *, unsigned, int);

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
    udpio_flush();
    udpio_forget_lost(fd);
    atomic_store(&udpio_fds[fd], 0);
    if (udpio_waiting() && udpio_cache->fd == fd)
      udpio_cache->count = 0;
  }
}

static int udpio_cached(int fd) { return udpio_waiting() && udpio_cache->fd == fd; }

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

/* Up to UDPIO_BATCH datagrams waiting on fd into the (empty) cache, each
 * tapped as it leaves the kernel. -1 on an error other than "none". */
static int udpio_fill(struct udpio_cache *c, int fd)
{
  static _Atomic(void *) real;
  struct mmsghdr mm[UDPIO_BATCH];
  struct iovec iov[UDPIO_BATCH];
  for (unsigned i = 0; i < UDPIO_BATCH; i++) {
    iov[i] = (struct iovec){c->data[i], UDPIO_SLOT};
    mm[i].msg_hdr = (struct msghdr){.msg_name = &c->d[i].from,
                                    .msg_namelen = sizeof c->d[i].from,
                                    .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  int n = ((recvmmsg_f)tz_real(&real, "recvmmsg"))(fd, mm, UDPIO_BATCH, MSG_DONTWAIT, NULL);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  c->fd = fd, c->head = 0, c->count = (unsigned)n;
  for (int i = 0; i < n; i++) {
    c->d[i].len = mm[i].msg_len;
    c->d[i].fromlen = mm[i].msg_hdr.msg_namelen;
    iov[i].iov_len = mm[i].msg_len;
    if (mm[i].msg_len > 0 && tz_wiretap_on())
      udpio_tap(fd, 0, &c->d[i].from, &iov[i], 1, mm[i].msg_len);
  }
  return 0;
}

/* FIONREAD on one of ours: the next datagram's length, read into the
 * cache; 0 when there is none (as the kernel would say). */
static int udpio_read_ahead(int fd, int *size)
{
  if (udpio_get() < 0) {
    errno = ENOMEM;
    return -1;
  }
  struct udpio_cache *c = udpio_cache;
  if (!c->count && udpio_fill(c, fd) < 0)
    return -1;
  *size = c->count ? (int)c->d[c->head].len : 0;
  return 0;
}

TZ_INTERPOSE int ioctl(int fd, unsigned long request, ...)
{
  static _Atomic(void *) real;
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (request == FIONREAD && udpio_ours(fd) && (!udpio_waiting() || udpio_cache->fd == fd))
    return udpio_read_ahead(fd, arg);
  return ((ioctl_f)tz_real(&real, "ioctl"))(fd, request, arg);
}

/* The next cached datagram into iov, as recvmsg() would: truncated to the
 * buffers (MSG_TRUNC), the whole length returned if flags ask MSG_TRUNC;
 * its sender into name. */
static ssize_t udpio_copy(struct iovec *iov, size_t iovlen, int flags, int *mflags,
                          void *name, socklen_t *namelen)
{
  struct udpio_cache *c = udpio_cache;
  struct udpio_dgram *d = &c->d[c->head];
  const char *data = c->data[c->head];
  if (name) {
    memcpy(name, &d->from, *namelen < d->fromlen ? *namelen : d->fromlen);
    *namelen = d->fromlen;
  }
  size_t off = 0;
  for (size_t i = 0; i < iovlen && off < d->len; i++) {
    size_t k = d->len - off < iov[i].iov_len ? d->len - off : iov[i].iov_len;
    memcpy(iov[i].iov_base, data + off, k);
    off += k;
  }
  *mflags = off < d->len ? MSG_TRUNC : 0;
  if (!(flags & MSG_PEEK))
    c->head++, c->count--;
  return (ssize_t)(flags & MSG_TRUNC ? d->len : off);
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
  m->msg_controllen = 0;
  return udpio_copy(m->msg_iov, m->msg_iovlen, flags, &m->msg_flags, m->msg_name,
                    &m->msg_namelen);
}

/* trapezoid --test (test/wire.c): a datagram for fd from `from`, in the
 * cache as if FIONREAD had read it ahead. */
int tz_udpio_inject(int fd, const void *data, size_t len, const struct sockaddr *from,
                    socklen_t fromlen)
{
  struct udpio_cache *c = udpio_get() < 0 ? NULL : udpio_cache;
  if (!c || !udpio_ours(fd) || len > UDPIO_SLOT || fromlen > sizeof c->d[0].from ||
      (c->count && (c->fd != fd || c->head + c->count == UDPIO_BATCH)))
    return -1;
  if (!c->count)
    c->head = 0;
  unsigned i = c->head + c->count++;
  memcpy(c->data[i], data, len);
  memcpy(&c->d[i].from, from, fromlen);
  c->fd = fd, c->d[i].len = len, c->d[i].fromlen = fromlen;
  return 0;
}

/* Sofia reads one datagram per "readable" event: while the cache holds
 * more from the same read, read on. A cache left from an earlier event
 * (the transport read none of it) is not this transport's to drain. */
TZ_INTERPOSE void tport_recv_event(tport_t *self)
{
  static _Atomic(void *) real;
  recv_event_f f = (recv_event_f)tz_real(&real, "tport_recv_event");
  int drain = !udpio_waiting();
  f(self);
  for (unsigned n = udpio_waiting(); drain && n; n = udpio_waiting()) {
    f(self);
    drain = udpio_waiting() < n; /* it read one: there is more to read */
  }
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
  return udpio_copy(&iov, 1, flags, &mflags, NULL, NULL);
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

/* A queued datagram the kernel refused (d->err): counted, logged at debug
 * level (under a flood of them the log would be the cost), kept to be
 * reported unless the kernel only had no room. */
static void udpio_lost(struct udpio_out *o, const struct udpio_sent *d)
{
  static _Atomic(tz_stat_t *) lost;
  tz_stat_t *st = atomic_load_explicit(&lost, memory_order_relaxed);
  if (!st) {
    st = tz_stat_get("sip.udp.send_lost", "UDP datagrams the kernel refused to send "
                     "(send buffer full, no route): lost, as on the wire");
    atomic_store_explicit(&lost, st, memory_order_relaxed);
  }
  tz_stat_add(st, 1);
  tz_log(TZ_LOG_DBG, "udp: datagram on socket %d not sent: %s", d->fd, strerror(d->err));
  if (d->tp && d->err != EAGAIN && d->err != EWOULDBLOCK && d->err != ENOBUFS &&
      o->nlost < UDPIO_OUT)
    o->lost[o->nlost++] = *d;
}

/* Sends the run d[0..n) of one socket's datagrams, mm their headers. A
 * datagram refused for an error an ICMP message left pending (that send
 * consumed it) is made once more. */
static void udpio_send_run(struct udpio_out *o, struct udpio_sent *d, struct mmsghdr *mm,
                           unsigned n)
{
  static _Atomic(void *) real;
  sendmmsg_f f = (sendmmsg_f)tz_real(&real, "sendmmsg");
  int again = 1;
  for (unsigned i = 0; i < n;) {
    int k = f(d->fd, mm + i, n - i, d->flags);
    if (k > 0) {
      for (int j = 0; j < k && tz_wiretap_on(); j++)
        udpio_tap(d->fd, 1, mm[i + j].msg_hdr.msg_name, mm[i + j].msg_hdr.msg_iov, 1,
                  mm[i + j].msg_len);
      i += (unsigned)k, again = 1;
    } else if (again && udpio_icmp_error(errno)) {
      again = 0;
    } else {
      d[i].err = errno;
      udpio_lost(o, &d[i]);
      i++, again = 1;
    }
  }
}

/* Sends what the thread queued, in order. */
static void udpio_flush(void)
{
  struct udpio_out *o = udpio_out;
  if (!o || !o->count)
    return;
  struct mmsghdr mm[UDPIO_OUT];
  struct iovec iov[UDPIO_OUT];
  for (unsigned i = 0; i < o->count; i++) {
    iov[i] = (struct iovec){o->data + o->d[i].off, o->d[i].len};
    mm[i].msg_hdr = (struct msghdr){.msg_name = &o->d[i].to, .msg_namelen = o->d[i].tolen,
                                    .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  for (unsigned i = 0, j; i < o->count; i = j) {
    for (j = i + 1; j < o->count && o->d[j].fd == o->d[i].fd && o->d[j].flags == o->d[i].flags;)
      j++;
    udpio_send_run(o, o->d + i, mm + i, j - i);
  }
  o->count = 0, o->used = 0;
}

/* The loop is at rest: the errors of lost datagrams go to their
 * transports (which may send, and queue, anew). */
static void udpio_report(void)
{
  struct udpio_out *o = udpio_out;
  struct udpio_sent lost[UDPIO_OUT];
  unsigned n = o ? o->nlost : 0;
  if (!n)
    return;
  memcpy(lost, o->lost, n * sizeof *lost);
  o->nlost = 0;
  for (unsigned i = 0; i < n; i++)
    tport_error_report(lost[i].tp, lost[i].err, (su_sockaddr_t const *)&lost[i].to);
}

void tz_udpio_sent_by(tport_t *tp)
{
  struct udpio_out *o = udpio_out;
  for (unsigned i = o ? o->count : 0; i > 0 && !o->d[i - 1].tp; i--)
    o->d[i - 1].tp = tp;
}

/* m queued for the next flush: its length, as sendmsg() would say; -1 if
 * it must go now (ancillary data, no address, out of memory). */
static ssize_t udpio_queue(int fd, const struct msghdr *m, int flags)
{
  size_t len = 0;
  for (size_t i = 0; i < m->msg_iovlen; i++)
    len += m->msg_iov[i].iov_len;
  if (m->msg_controllen || !m->msg_name || m->msg_namelen > sizeof(struct sockaddr_storage) ||
      len > UDPIO_SLOT || udpio_get() < 0)
    return -1;
  struct udpio_out *o = udpio_out;
  if (o->count == UDPIO_OUT || o->used + len > UDPIO_OUT_BYTES)
    udpio_flush();
  struct udpio_sent *d = &o->d[o->count++];
  *d = (struct udpio_sent){.fd = fd, .flags = flags, .off = o->used, .len = len,
                           .tolen = m->msg_namelen}; /* tp: tz_udpio_sent_by() */
  memcpy(&d->to, m->msg_name, m->msg_namelen);
  for (size_t i = 0; i < m->msg_iovlen; i++) {
    memcpy(o->data + o->used, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
    o->used += m->msg_iov[i].iov_len;
  }
  return (ssize_t)len;
}

TZ_INTERPOSE ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
  static _Atomic(void *) real;
  if (!udpio_ours(fd))
    return ((sendmsg_f)tz_real(&real, "sendmsg"))(fd, m, flags);
  if (tz_testwire_on())
    return tz_testwire_sendmsg(fd, m);
  ssize_t n = udpio_queue(fd, m, flags);
  if (n >= 0)
    return n;
  udpio_flush();
  sendmsg_f f = (sendmsg_f)tz_real(&real, "sendmsg");
  n = f(fd, m, flags);
  if (n < 0 && udpio_icmp_error(errno))
    n = f(fd, m, flags);
  if (n > 0 && tz_wiretap_on())
    udpio_tap(fd, 1, m->msg_name, m->msg_iov, m->msg_iovlen, (size_t)n);
  return n;
}

/* The loop is about to wait (interpose.c's epoll_wait()): what it sent
 * goes now. 1 if reporting a loss sent more, which must go before it
 * sleeps. */
int tz_udpio_before_wait(void)
{
  udpio_flush();
  udpio_report();
  return udpio_out && udpio_out->count;
}
