/*
 * interpose.h - the daemon's libc and tport wrappers (interpose.c, udpio.c,
 * tportio.c): the one way to reach the definition they wrap.
 */
#ifndef TZ_INTERPOSE_H
#define TZ_INTERPOSE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include <sofia-sip/tport.h>

#define TZ_INTERPOSE __attribute__((visibility("default")))

/* libc's (or libsofia's) definition of name, looked up on first use by any thread and kept
 * in *slot. */
void *tz_real(_Atomic(void *) *slot, const char *name);

/* udpio.c: fd was bound by a Sofia UDP transport, or is being closed. */
void tz_udpio_bound(int fd);
void tz_udpio_closed(int fd);
/* udpio.c: the loop is about to wait; sends what it queued. Nonzero if it
 * must look again at once instead of sleeping. */
int tz_udpio_before_wait(void);
/* udpio.c: a datagram for fd, as if read ahead from the kernel (test/wire.c). */
int tz_udpio_inject(int fd, const void *data, size_t len, const struct sockaddr *from,
                    socklen_t fromlen);

/* Exported by libsofia-sip-ua, declared only in its uninstalled
 * tport_internal.h: what the event loop calls when a transport's socket
 * is readable (udpio.c wraps it; test/wire.c calls it). */
void tport_recv_event(tport_t *self);
/* ... and what it calls with a send's error, as for an ICMP error. */
void tport_error_report(tport_t *self, int errcode, su_sockaddr_t const *addr);

/* udpio.c: the datagrams queued by the send tportio.c's tport_tsend()
 * wrapper just made went out through tp (for an error, later). */
void tz_udpio_sent_by(tport_t *tp);

/* tportio.c: fd, perhaps a TCP connection's, is being closed. */
void tz_tportio_closed(int fd);

#endif
