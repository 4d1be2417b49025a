/*
 * loop.h - the process's one Sofia su_root, and the timers and fd watches
 * registered on it on behalf of an owner (a module instance or the core).
 */
#ifndef TZ_LOOP_H
#define TZ_LOOP_H

#include <trapezoid/trapezoid.h>
#include <sofia-sip/su_wait.h>

/* Everything one owner registered, so it can all be undone at once. */
typedef struct tz_regs {
  tz_timer_t *timers;
  tz_fdwatch_t *fds;
} tz_regs_t;

int tz_loop_init(void);
void tz_loop_deinit(void);
su_root_t *tz_loop_root(void);
void tz_loop_run(void);
void tz_loop_break(void);

/* Stops every timer and fd watch in r; returns how many there were. */
unsigned tz_regs_release(tz_regs_t *r);

/* Installs SIGTERM/SIGINT/SIGHUP handlers that wake the loop; the callback
 * runs in the loop, never in signal context. */
typedef void (*tz_signal_f)(int signo);
int tz_loop_catch_signals(tz_signal_f cb);

#endif
