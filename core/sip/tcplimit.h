/*
 * tcplimit.h - the cap on open TCP/TLS connections (see tcplimit.c).
 */
#ifndef TZ_TCPLIMIT_H
#define TZ_TCPLIMIT_H

/* Sets the cap (0 = none), raising the descriptor limit as far as the
 * hard limit allows; returns the cap in force (lowered to fit). */
int tz_tcp_limit_set(unsigned max_connections, unsigned idle_ms);
/* Shuts down connections idle for idle_ms; returns how many. Run it
 * periodically. */
unsigned tz_tcp_sweep(void);
unsigned long tz_tcp_refused(void);
unsigned tz_tcp_open(void);
void tz_tcp_limit_deinit(void);

/* A connection was accepted on fd: true to keep it, false when it must be
 * closed at once (over the cap with nothing idle to make room). */
int tz_tcp_admit(int fd);
/* fd is being closed (any descriptor, any thread). */
void tz_tcp_forget(int fd);

#endif
