/*
 * interpose.c - libc's accept() and close() as Sofia's tport calls them,
 * wrapped for the TCP connection cap (tcplimit.c decides).
 *
 * Linked into the daemon only, and the two names are the only symbols
 * the daemon exports besides the module API: libsofia's calls resolve to
 * the executable's definitions only when they are in its dynamic symbol
 * table. Sofia has no hook of its own at accept time.
 */
#define _GNU_SOURCE
#include "sip/tcplimit.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

#define TZ_INTERPOSE __attribute__((visibility("default")))

typedef int (*accept_f)(int, struct sockaddr *, socklen_t *);
typedef int (*close_f)(int);

static int interpose_close(int fd)
{
  static close_f real;
  if (!real)
    real = (close_f)dlsym(RTLD_NEXT, "close");
  return real(fd);
}

TZ_INTERPOSE int accept(int s, struct sockaddr *addr, socklen_t *len)
{
  static accept_f real;
  if (!real)
    real = (accept_f)dlsym(RTLD_NEXT, "accept");
  int fd = real(s, addr, len);
  if (fd < 0 || tz_tcp_admit(fd))
    return fd;
  interpose_close(fd);
  errno = ECONNABORTED;
  return -1;
}

TZ_INTERPOSE int close(int fd)
{
  tz_tcp_forget(fd);
  return interpose_close(fd);
}
