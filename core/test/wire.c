/*
 * wire.c - sockets that never reach the network, for `trapezoid --test`
 * (harness.c). Daemon only, like interpose.c and udpio.c.
 *
 * The harness runs the server's own stack: a real nta agent with real
 * tports, fed and read below them. In test mode:
 * - bind() records the address and asks nothing of the kernel, and
 *   getsockname() answers the record: tport names itself after it, so
 *   Via, Record-Route and the script's listen= read as in production,
 *   and no port of the machine is taken. listen() on a recorded socket
 *   does nothing (on an unbound socket it would bind a real port).
 * - sendmsg() on a recorded UDP socket (udpio.c asks here) hands the
 *   datagram to the harness instead of the kernel; sendto() on one
 *   (Sofia's start-up probe of its own port) is refused, which tport
 *   takes in its stride.
 * - connect() and sendto() on every other socket fail with ENETUNREACH:
 *   a TCP branch, the resolvers, a HEP collector see an unreachable
 *   network, as they would in a sealed room.
 * - tz_testwire_inject() puts a datagram "from" any address into udpio's
 *   read-ahead cache and makes the UDP transport read it: Sofia's own
 *   receive path, nta's transaction matching, then the dispatcher.
 * Outside test mode each wrapper costs one relaxed load.
 *
 * Owns the table of recorded sockets (descriptor -> address); test mode
 * has one worker, the main thread, so the table has one user.
 */
#define _GNU_SOURCE
#include "interpose.h"
#include "test/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/tport.h>

#define WIRE_MAX_FD 4096

static atomic_int wire_on;

static struct wire_sock {
  int used, type;
  struct sockaddr_storage addr;
  socklen_t len;
} wire_socks[WIRE_MAX_FD];

static tz_testwire_sent_f wire_sent;
static void *wire_sent_arg;

typedef int (*connect_f)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_f)(int, int);
typedef int (*getsockname_f)(int, struct sockaddr *, socklen_t *);
typedef ssize_t (*sendto_f)(int, const void *, size_t, int, const struct sockaddr *,
                            socklen_t);

void tz_testwire_enable(tz_testwire_sent_f sent, void *arg)
{
  wire_sent = sent;
  wire_sent_arg = arg;
  atomic_store(&wire_on, 1);
}

int tz_testwire_on(void) { return atomic_load_explicit(&wire_on, memory_order_relaxed); }

static struct wire_sock *wire_sock(int fd)
{
  return fd >= 0 && fd < WIRE_MAX_FD && wire_socks[fd].used ? &wire_socks[fd] : NULL;
}

int tz_testwire_bind(int s, const struct sockaddr *a, socklen_t len)
{
  int type = 0;
  socklen_t tl = sizeof type;
  if (s < 0 || s >= WIRE_MAX_FD || len > sizeof(struct sockaddr_storage) ||
      getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
    errno = EINVAL;
    return -1;
  }
  struct wire_sock *w = &wire_socks[s];
  memset(w, 0, sizeof *w);
  memcpy(&w->addr, a, len);
  w->len = len, w->type = type, w->used = 1;
  return 0;
}

void tz_testwire_closed(int fd)
{
  if (wire_sock(fd))
    wire_socks[fd].used = 0;
}

TZ_INTERPOSE int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
  static _Atomic(void *) real;
  struct wire_sock *w = tz_testwire_on() ? wire_sock(fd) : NULL;
  if (!w)
    return ((getsockname_f)tz_real(&real, "getsockname"))(fd, a, len);
  memcpy(a, &w->addr, *len < w->len ? *len : w->len);
  *len = w->len;
  return 0;
}

/* A stream socket that neither listens nor connects reads as hung up to
 * epoll, over and over. A recorded one becomes an unbound datagram
 * socket under the same number instead: it never has anything to read,
 * so tport never calls accept() on it. */
TZ_INTERPOSE int listen(int fd, int backlog)
{
  static _Atomic(void *) real;
  struct wire_sock *w = tz_testwire_on() ? wire_sock(fd) : NULL;
  if (!w)
    return ((listen_f)tz_real(&real, "listen"))(fd, backlog);
  int quiet = socket(w->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int rc = quiet < 0 ? -1 : dup3(quiet, fd, O_CLOEXEC);
  if (quiet >= 0)
    close(quiet); /* the wrapper: quiet was never recorded */
  return rc < 0 ? -1 : 0;
}

TZ_INTERPOSE int connect(int fd, const struct sockaddr *a, socklen_t len)
{
  static _Atomic(void *) real;
  if (tz_testwire_on()) {
    errno = ENETUNREACH;
    return -1;
  }
  return ((connect_f)tz_real(&real, "connect"))(fd, a, len);
}

TZ_INTERPOSE ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                            const struct sockaddr *a, socklen_t len)
{
  static _Atomic(void *) real;
  if (tz_testwire_on()) {
    errno = wire_sock(fd) ? EPERM : ENETUNREACH;
    return -1;
  }
  return ((sendto_f)tz_real(&real, "sendto"))(fd, buf, n, flags, a, len);
}

ssize_t tz_testwire_sendmsg(int fd, const struct msghdr *m)
{
  struct wire_sock *w = wire_sock(fd);
  if (!w || w->type != SOCK_DGRAM || !m->msg_name) {
    errno = ENETUNREACH;
    return -1;
  }
  size_t n = 0;
  for (size_t i = 0; i < m->msg_iovlen; i++)
    n += m->msg_iov[i].iov_len;
  char *buf = malloc(n ? n : 1);
  if (!buf) {
    errno = ENOBUFS;
    return -1;
  }
  for (size_t i = 0, off = 0; i < m->msg_iovlen; off += m->msg_iov[i++].iov_len)
    memcpy(buf + off, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
  if (wire_sent)
    wire_sent(wire_sent_arg, (const struct sockaddr *)&w->addr, m->msg_name, buf, n);
  free(buf);
  return (ssize_t)n;
}

/* ---- injection ---------------------------------------------------------------- */

socklen_t tz_testwire_addr_len(const struct sockaddr *a)
{
  return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int tz_testwire_same(const struct sockaddr *a, const struct sockaddr *b)
{
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* The recorded UDP socket bound to `to`, or -1. */
static int wire_udp_fd(const struct sockaddr *to)
{
  for (int fd = 0; fd < WIRE_MAX_FD; fd++)
    if (wire_socks[fd].used && wire_socks[fd].type == SOCK_DGRAM &&
        tz_testwire_same((const struct sockaddr *)&wire_socks[fd].addr, to))
      return fd;
  return -1;
}

/* The agent's UDP primary named after `to` (tport names itself after the
 * address getsockname() gave it), or its first one if `to` is NULL; its
 * address in *ss. */
static tport_t *wire_udp_tport(nta_agent_t *agent, const struct sockaddr *to,
                               struct sockaddr_storage *ss)
{
  for (tport_t *tp = tport_primaries(nta_agent_tports(agent)); tp; tp = tport_next(tp)) {
    const tp_name_t *n = tport_name(tp);
    if (strcasecmp(n->tpn_proto, "udp") == 0 &&
        tz_testwire_parse_addr(n->tpn_host, n->tpn_port, ss) == 0 &&
        (!to || tz_testwire_same((const struct sockaddr *)ss, to)))
      return tp;
  }
  return NULL;
}

int tz_testwire_server(nta_agent_t *agent, struct sockaddr_storage *ss)
{
  return wire_udp_tport(agent, NULL, ss) ? 0 : -1;
}

int tz_testwire_inject(nta_agent_t *agent, const struct sockaddr *to,
                       const struct sockaddr *from, socklen_t fromlen,
                       const void *data, size_t len)
{
  struct sockaddr_storage ss;
  int fd = wire_udp_fd(to);
  tport_t *tp = fd < 0 ? NULL : wire_udp_tport(agent, to, &ss);
  if (!tp || tz_udpio_inject(fd, data, len, from, fromlen) < 0)
    return -1;
  tport_recv_event(tp);
  return 0;
}

int tz_testwire_parse_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
  char h[64];
  size_t n = strlen(host);
  if (host[0] == '[' && n > 2 && host[n - 1] == ']')
    host++, n -= 2;
  if (n >= sizeof h)
    return -1;
  memcpy(h, host, n);
  h[n] = '\0';
  unsigned p = port && *port ? (unsigned)atoi(port) : 5060;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)p);
    return 0;
  }
  if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)p);
    return 0;
  }
  return -1;
}
