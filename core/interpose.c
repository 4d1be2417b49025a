/*
 * interpose.c - libc's accept() and close() as Sofia's tport calls them,
 * wrapped for the TCP connection cap (tcplimit.c decides) and to know
 * which worker owns each connection (handoff.c), and bind(), wrapped so
 * that workers share a listen port (SO_REUSEPORT: tport has no option for
 * it and takes no ready-made socket; transport.c decides) and to tell
 * udpio.c which sockets are Sofia's UDP transports; and epoll_wait(),
 * where every event loop (loop.c makes them all epoll ports) waits: the
 * place to send what udpio.c queued, and to wait out the sub-millisecond
 * rest of a timer instead of polling for it; and inet_ntop() and
 * getaddrinfo(), faster for IPv4 literals.
 *
 * Linked into the daemon only; these names, udpio.c's and tportio.c's
 * are the only symbols the daemon exports besides the module API: libsofia's calls
 * resolve to the executable's definitions only when they are in its
 * dynamic symbol table. Sofia has no hook of its own at accept time.
 */
#define _GNU_SOURCE
#include "interpose.h"
#include "sip/tcplimit.h"
#include "sip/handoff.h"
#include "lib/addr.h"

#include "sip/transport.h"
#include "test/wire.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>

typedef int (*accept_f)(int, struct sockaddr *, socklen_t *);
typedef int (*close_f)(int);
typedef int (*bind_f)(int, const struct sockaddr *, socklen_t);
typedef int (*epoll_wait_f)(int, struct epoll_event *, int, int);
typedef const char *(*inet_ntop_f)(int, const void *, char *, socklen_t);
typedef int (*getaddrinfo_f)(const char *, const char *, const struct addrinfo *,
                             struct addrinfo **);

/* Two threads that look a name up at once store the same pointer. */
void *tz_real(_Atomic(void *) *slot, const char *name)
{
  void *f = atomic_load_explicit(slot, memory_order_acquire);
  if (!f) {
    f = dlsym(RTLD_NEXT, name);
    atomic_store_explicit(slot, f, memory_order_release);
  }
  return f;
}

static int interpose_close(int fd)
{
  static _Atomic(void *) real;
  return ((close_f)tz_real(&real, "close"))(fd);
}

TZ_INTERPOSE int accept(int s, struct sockaddr *addr, socklen_t *len)
{
  static _Atomic(void *) real;
  int fd = ((accept_f)tz_real(&real, "accept"))(s, addr, len);
  if (fd < 0)
    return fd;
  if (tz_tcp_admit(fd)) {
    tz_handoff_accepted(fd);
    return fd;
  }
  interpose_close(fd);
  errno = ECONNABORTED;
  return -1;
}

static int interpose_bind(int s, const struct sockaddr *a, socklen_t len)
{
  static _Atomic(void *) real;
  return ((bind_f)tz_real(&real, "bind"))(s, a, len);
}

static unsigned interpose_port(const struct sockaddr *a)
{
  if (a->sa_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)a)->sin_port);
  if (a->sa_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  return 0;
}

/* SO_REUSEPORT lets any process of our user join the port: the first
 * worker makes sure nobody has it yet, which is what a plain bind would
 * have said (tport's SO_REUSEADDR on TCP, so a restart is not refused). */
static int interpose_port_free(int s, const struct sockaddr *a, socklen_t len)
{
  int type = 0, one = 1;
  socklen_t tl = sizeof type;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
    return -1;
  int probe = socket(a->sa_family, type, 0);
  if (probe < 0)
    return -1;
  if (type == SOCK_STREAM)
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = interpose_bind(probe, a, len);
  int saved = errno;
  interpose_close(probe);
  errno = saved;
  return rc;
}

TZ_INTERPOSE int bind(int s, const struct sockaddr *a, socklen_t len)
{
  tz_bind_mode_t mode = tz_sip_bind_mode();
  int one = 1;
  if (tz_testwire_on()) { /* trapezoid --test: no port is taken */
    int rc = tz_testwire_bind(s, a, len);
    if (rc == 0 && mode != TZ_BIND_NONE)
      tz_udpio_bound(s);
    return rc;
  }
  if (mode >= TZ_BIND_SHARED_FIRST && interpose_port(a) != 0) {
    if (mode == TZ_BIND_SHARED_FIRST && interpose_port_free(s, a, len) < 0)
      return -1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
      return -1;
  }
  int rc = interpose_bind(s, a, len);
  if (rc == 0 && mode != TZ_BIND_NONE)
    tz_udpio_bound(s);
  return rc;
}

TZ_INTERPOSE int close(int fd)
{
  tz_tcp_forget(fd);
  tz_handoff_closed(fd);
  tz_udpio_closed(fd);
  tz_tportio_closed(fd);
  if (tz_testwire_on())
    tz_testwire_closed(fd);
  return interpose_close(fd);
}

/* Sofia's loop waits for the time to its next timer in whole milliseconds,
 * rounded down: in the last millisecond before a timer it polls (timeout
 * 0) over and over until the timer is due. Under load nta re-arms its
 * agent timer a millisecond ahead every millisecond (some transaction is
 * always due), so a worker that had caught up spun instead of sleeping:
 * 51,000 empty polls a second at 4,000 calls/s, CPU the SIPp peers or a
 * second worker on the same cores needed (issue 13). Sofia also polls
 * with timeout 0 when it has messages queued; that first poll stays a
 * poll, and a second one in a row that found nothing becomes a 1 ms wait
 * (any I/O, or a message's wake-up, still ends it at once): a timer fires
 * up to 1 ms late, nothing waits longer. Not in test mode, whose clock
 * stands still while the harness steps the loop (test/clock.c). */
TZ_INTERPOSE int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
  static _Atomic(void *) real;
  static _Thread_local bool polled_empty;
  if (tz_udpio_before_wait())
    timeout = 0;
  else if (timeout == 0 && polled_empty && !tz_testwire_on())
    timeout = 1;
  int n = ((epoll_wait_f)tz_real(&real, "epoll_wait"))(epfd, ev, max, timeout);
  polled_empty = n == 0 && timeout == 0;
  return n;
}

/* Sofia prints the source address of every message it receives (in
 * tport_deliver(), and for a request's Via check), and so does
 * tz_msg_open(): five times a relayed call here. glibc prints an IPv4
 * address with sprintf(), 1,700 instructions each, 5 % of the worker's
 * per call (callgrind, the seed call without record-routing);
 * tz_ipv4_text() writes the same text for a tenth of that. IPv6 goes to
 * libc. */
TZ_INTERPOSE const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)
{
  static _Atomic(void *) real;
  if (af != AF_INET)
    return ((inet_ntop_f)tz_real(&real, "inet_ntop"))(af, src, dst, size);
  char text[INET_ADDRSTRLEN];
  size_t len = tz_ipv4_text(src, text);
  if (len > size) {
    errno = ENOSPC;
    return NULL;
  }
  return memcpy(dst, text, len);
}

/* Sofia resolves the destination of every message it sends with
 * getaddrinfo() (tport_resolve()), also when it is an IPv4 literal, as a
 * proxy's next hop is once the dns module or the location index chose it:
 * 1,200 instructions in glibc, 3 % of the worker's per call (callgrind).
 * That case (tz_ipv4_literal()) is answered here as glibc answers it (one
 * result with the hints' flags, socket type and protocol, no canonical
 * name), in one block as glibc allocates each of its own, so glibc's
 * freeaddrinfo() frees either (a libc that allocated otherwise would need
 * its freeaddrinfo() wrapped too). Anything else goes to libc. */
TZ_INTERPOSE int getaddrinfo(const char *node, const char *service,
                             const struct addrinfo *hints, struct addrinfo **res)
{
  static _Atomic(void *) real;
  struct sockaddr_in sin;
  if (!tz_ipv4_literal(node, service, hints, &sin))
    return ((getaddrinfo_f)tz_real(&real, "getaddrinfo"))(node, service, hints, res);
  struct {
    struct addrinfo ai; /* first: freeaddrinfo() frees the block by it */
    struct sockaddr_in sin;
  } *r = calloc(1, sizeof *r);
  if (!r)
    return EAI_MEMORY;
  r->sin = sin;
  r->ai = (struct addrinfo){.ai_flags = hints->ai_flags, .ai_family = AF_INET,
                            .ai_socktype = hints->ai_socktype,
                            .ai_protocol = hints->ai_protocol, .ai_addrlen = sizeof r->sin,
                            .ai_addr = (struct sockaddr *)&r->sin};
  *res = &r->ai;
  return 0;
}
