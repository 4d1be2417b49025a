/*
 * interpose.h - the daemon's libc and tport wrappers (interpose.c, udpio.c,
 * tportio.c): the one way to reach the definition they wrap.
 */
#ifndef TZ_INTERPOSE_H
#define TZ_INTERPOSE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#define TZ_INTERPOSE __attribute__((visibility("default")))

/* libc's (or libsofia's) definition of name, looked up on first use by any thread and kept
 * in *slot. */
void *tz_real(_Atomic(void *) *slot, const char *name);

/* udpio.c: fd was bound by a Sofia UDP transport, or is being closed. */
void tz_udpio_bound(int fd);
void tz_udpio_closed(int fd);
/* udpio.c: a datagram for fd, as if read ahead from the kernel (test/wire.c). */
int tz_udpio_inject(int fd, const void *data, size_t len, const struct sockaddr *from,
                    socklen_t fromlen);

/* tportio.c: fd, perhaps a TCP connection's, is being closed. */
void tz_tportio_closed(int fd);

#endif
