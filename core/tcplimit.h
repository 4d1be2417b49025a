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

#endif
