/*
 * loop.h - the process's one Sofia su_root, and the timers and fd watches
 * registered on it on behalf of an owner (a module instance or the core;
 * see owner.h).
 */
#ifndef TZ_LOOP_H
#define TZ_LOOP_H

#include <trapezoid/trapezoid.h>
#include <sofia-sip/su_wait.h>

int tz_loop_init(void);
void tz_loop_deinit(void);
su_root_t *tz_loop_root(void);
void tz_loop_run(void);
void tz_loop_break(void);
/* Measures the calling worker's loop lag (core.loop_lag_ms: the slowest
 * worker's; core.loop_stalls). */
int tz_loop_lag_start(void);

/* Installs SIGTERM/SIGINT/SIGHUP handlers that wake the loop; the callback
 * runs in the loop, never in signal context. */
typedef void (*tz_signal_f)(int signo);
int tz_loop_catch_signals(tz_signal_f cb);

#endif
