/*
 * interpose.c - libc's accept() and close() as Sofia's tport calls them,
 * wrapped for the TCP connection cap (tcplimit.c decides) and to know
 * which worker owns each connection (handoff.c), and bind(), wrapped so
 * that workers share a listen port (SO_REUSEPORT: tport has no option for
 * it and takes no ready-made socket; transport.c decides) and to tell
 * udpio.c which sockets are Sofia's UDP transports.
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

#include "sip/transport.h"
#include "test/wire.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>

typedef int (*accept_f)(int, struct sockaddr *, socklen_t *);
typedef int (*close_f)(int);
typedef int (*bind_f)(int, const struct sockaddr *, socklen_t);

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
