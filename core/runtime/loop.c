/*
 * loop.c - owns the su_root, the timers and fd watches registered on it,
 * and the signal pipe.
 *
 * Modules never touch su_timer/su_wait directly: every registration adds
 * an undo entry to its owner's cleanup list (owner.h), so unloading a
 * module removes whatever it forgot.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/loop.h"
#include "runtime/worker.h"
#include "lib/stats.h"
#include "runtime/module.h"
#include "lib/owner.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

struct tz_timer {
  tz_cleanup_t *cl; /* in the owner's cleanup list */
  su_timer_t *t;
  tz_modinst_t *mod;
  tz_timer_f cb;
  void *arg;
  int periodic;
};

struct tz_fdwatch {
  tz_cleanup_t *cl; /* in the owner's cleanup list */
  int index;
  tz_modinst_t *mod;
  tz_fd_f cb;
  void *arg;
};

/* Signals go to the process: one pipe, read by the first worker's loop. */
static int sig_pipe[2] = {-1, -1};
static tz_signal_f sig_cb;

/* Whose cleanup list a registration joins. A module's timers and watches
 * live in worker 0, where its instance is made and destroyed; the core's
 * own in the worker that made them, released when that worker closes. */
static tz_owner_t *loop_owner(tz_modinst_t *mod)
{
  tz_worker_t *w = tz_worker();
  if (mod && w->id != 0) {
    tz_log(TZ_LOG_ERR, "module %s: timers and fd watches are made in worker 0 "
           "(init, their own callbacks, commands), not from a request",
           tz_mod_name(mod));
    return NULL;
  }
  return mod ? tz_modinst_owner(mod) : w->id ? &w->owner : tz_core_owner();
}

/* ---- loop lag: how late a periodic tick runs, i.e. how long the loop was
 * busy with something else. A loop stalled longer than the socket buffer
 * lasts at the offered rate drops datagrams (issue 13's evidence). */

#define LAG_TICK_MS 50
#define LAG_WINDOW_MS 10000
#define STALL_WARN_MS 500

typedef struct loop_lag {
  su_time_t last;
  long window_max; /* ms, in the window being measured */
  unsigned ticks;
  tz_stat_t *st_max, *st_stalls;
} loop_lag_t;

/* Each worker's latest window, so the gauge shows the slowest loop. */
static atomic_long lag_of[TZ_MAX_WORKERS];

static void loop_lag_window_end(loop_lag_t *lag)
{
  atomic_store_explicit(&lag_of[tz_worker()->id], lag->window_max,
                        memory_order_relaxed);
  long max = 0;
  for (unsigned i = 0; i < tz_worker_count(); i++)
    if (atomic_load_explicit(&lag_of[i], memory_order_relaxed) > max)
      max = atomic_load_explicit(&lag_of[i], memory_order_relaxed);
  tz_stat_set(lag->st_max, max);
  lag->window_max = 0;
  lag->ticks = 0;
}

static void loop_lag_tick(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  loop_lag_t *lag = arg;
  su_time_t now = su_now();
  long late = (long)su_duration(now, lag->last) - LAG_TICK_MS;
  lag->last = now;
  if (late >= 100)
    tz_stat_add(lag->st_stalls, 1);
  /* A stall this long overflows a socket buffer at carrier rates: the log
   * says when, once per new longest stall of the window. */
  if (late >= STALL_WARN_MS && late > lag->window_max)
    tz_log(TZ_LOG_WARN, "worker %u: event loop stalled %ld ms (see sip.udp.drops)",
           tz_worker()->id, late);
  if (late > lag->window_max)
    lag->window_max = late;
  if (++lag->ticks * LAG_TICK_MS >= LAG_WINDOW_MS)
    loop_lag_window_end(lag);
}

/* Every worker measures its own loop, on its own timer. */
int tz_loop_lag_start(void)
{
  loop_lag_t *lag = calloc(1, sizeof *lag);
  if (!lag)
    return -1;
  lag->st_max = tz_stat_get("core.loop_lag_ms", "the longest any worker's event "
                            "loop was busy past a 50 ms tick, over the last 10 s");
  lag->st_stalls = tz_stat_get("core.loop_stalls", "ticks an event loop ran "
                               "100 ms or more late");
  lag->last = su_now();
  tz_owner_t *owner = loop_owner(NULL);
  if (!lag->st_max || !lag->st_stalls ||
      !tz_cleanup_add(owner, free, lag, NULL)) {
    free(lag);
    return -1;
  }
  return tz_timer_start(NULL, LAG_TICK_MS, 1, loop_lag_tick, lag) ? 0 : -1;
}

int tz_loop_init(void)
{
  if (su_init() != 0)
    return -1;
  /* Every loop epoll's, whatever SU_PORT says: the daemon's epoll_wait()
   * wrapper (core/interpose.c) sends the UDP datagrams a loop queued and
   * waits out the last millisecond before a timer instead of polling. */
  su_port_prefer(su_epoll_port_create, su_epoll_clone_start);
  if (tz_worker_open(tz_worker()) < 0)
    return -1;
  tz_loop_lag_start();
  return 0;
}

void tz_loop_deinit(void)
{
  tz_owner_release(tz_core_owner(), NULL);
  tz_worker_close(tz_worker());
  for (int i = 0; i < 2; i++)
    if (sig_pipe[i] >= 0)
      close(sig_pipe[i]);
  sig_pipe[0] = sig_pipe[1] = -1;
  su_deinit();
}

su_root_t *tz_loop_root(void) { return tz_worker()->root; }
void tz_loop_run(void) { su_root_run(tz_loop_root()); }
void tz_loop_break(void) { su_root_break(tz_loop_root()); }

static void loop_timer_free(void *obj)
{
  tz_timer_t *t = obj;
  su_timer_destroy(t->t);
  free(t);
}

/* Stopped by its owner, or a one-shot that fired: its entry goes too. */
static void loop_timer_unlink(tz_timer_t *t)
{
  tz_cleanup_forget(t->cl);
  loop_timer_free(t);
}

static void loop_timer_fire(su_root_magic_t *magic, su_timer_t *st,
                            su_timer_arg_t *arg)
{
  (void)magic;
  (void)st;
  tz_timer_t *t = (tz_timer_t *)arg;
  tz_timer_f cb = t->cb;
  tz_modinst_t *mod = t->mod;
  void *cbarg = t->arg;
  if (!t->periodic)
    loop_timer_unlink(t); /* one-shot: gone before the callback runs */
  cb(mod, cbarg);
}

tz_timer_t *tz_timer_start(tz_modinst_t *mod, unsigned ms, int periodic,
                           tz_timer_f cb, void *arg)
{
  tz_owner_t *owner = loop_owner(mod);
  tz_timer_t *t = owner ? calloc(1, sizeof *t) : NULL;
  if (!t)
    return NULL;
  t->t = su_timer_create(su_root_task(tz_loop_root()), ms);
  if (!t->t) {
    free(t);
    return NULL;
  }
  t->mod = mod;
  t->cb = cb;
  t->arg = arg;
  t->periodic = periodic;
  int rc = periodic
               ? su_timer_set_for_ever(t->t, loop_timer_fire, (su_timer_arg_t *)t)
               : su_timer_set(t->t, loop_timer_fire, (su_timer_arg_t *)t);
  if (rc < 0) {
    su_timer_destroy(t->t);
    free(t);
    return NULL;
  }
  if (!(t->cl = tz_cleanup_add(owner, loop_timer_free, t, "timer"))) {
    loop_timer_free(t);
    return NULL;
  }
  return t;
}

void tz_timer_stop(tz_timer_t *t)
{
  if (t)
    loop_timer_unlink(t);
}

static int loop_fd_ready(su_root_magic_t *magic, su_wait_t *w,
                         su_wakeup_arg_t *arg)
{
  (void)magic;
  tz_fdwatch_t *fw = (tz_fdwatch_t *)arg;
  unsigned ev = w->revents;
  unsigned revents = ((ev & SU_WAIT_IN) ? TZ_FD_IN : 0) |
                     ((ev & SU_WAIT_OUT) ? TZ_FD_OUT : 0) |
                     ((ev & (SU_WAIT_ERR | SU_WAIT_HUP)) ? TZ_FD_ERR : 0);
  fw->cb(fw->mod, w->fd, revents, fw->arg);
  return 0;
}

static void loop_fd_free(void *obj)
{
  tz_fdwatch_t *fw = obj;
  su_root_deregister(tz_loop_root(), fw->index);
  free(fw);
}

tz_fdwatch_t *tz_fd_watch(tz_modinst_t *mod, int fd, unsigned events,
                          tz_fd_f cb, void *arg)
{
  tz_owner_t *owner = loop_owner(mod);
  tz_fdwatch_t *fw = owner ? calloc(1, sizeof *fw) : NULL;
  if (!fw)
    return NULL;
  su_wait_t w[1];
  int ev = ((events & TZ_FD_IN) ? SU_WAIT_IN : 0) |
           ((events & TZ_FD_OUT) ? SU_WAIT_OUT : 0);
  if (su_wait_create(w, fd, ev) < 0) {
    free(fw);
    return NULL;
  }
  fw->mod = mod;
  fw->cb = cb;
  fw->arg = arg;
  fw->index = su_root_register(tz_loop_root(), w, loop_fd_ready,
                               (su_wakeup_arg_t *)fw, 0);
  if (fw->index <= 0) {
    su_wait_destroy(w);
    free(fw);
    return NULL;
  }
  if (!(fw->cl = tz_cleanup_add(owner, loop_fd_free, fw, "fd watch"))) {
    loop_fd_free(fw);
    return NULL;
  }
  return fw;
}

void tz_fd_unwatch(tz_fdwatch_t *fw)
{
  if (!fw)
    return;
  tz_cleanup_forget(fw->cl);
  loop_fd_free(fw);
}

static void loop_on_signal(int signo)
{
  unsigned char b = (unsigned char)signo;
  int saved = errno;
  if (write(sig_pipe[1], &b, 1) < 0) {
    /* pipe full: a wakeup is already pending */
  }
  errno = saved;
}

static void loop_signal_ready(tz_modinst_t *mod, int fd, unsigned revents,
                              void *arg)
{
  (void)mod;
  (void)revents;
  (void)arg;
  unsigned char b;
  while (read(fd, &b, 1) == 1)
    sig_cb(b);
}

int tz_loop_catch_signals(tz_signal_f cb)
{
  if (pipe(sig_pipe) < 0)
    return -1;
  for (int i = 0; i < 2; i++)
    fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
  sig_cb = cb;
  if (!tz_fd_watch(NULL, sig_pipe[0], TZ_FD_IN, loop_signal_ready, NULL))
    return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = loop_on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  return 0;
}
