/*
 * notify.c - the daemon's state, told to systemd (Type=notify, through
 * libsystemd's sd_notify) and summed up for the start line.
 *
 * Owns the watchdog: a timer on the main loop and a count of the workers
 * that answered its last round. Workers add to the count (atomic); only
 * the main loop reads and resets it. The keep-alive goes out only when
 * every worker answered, so a worker stuck in a loop gets the daemon
 * restarted by systemd, not just a main loop that still runs.
 *
 * Without NOTIFY_SOCKET in the environment sd_notify does nothing, so a
 * daemon not started by systemd behaves as before; a build without
 * libsystemd (configure --without-systemd) has no notifications at all.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "control/notify.h"
#include "lib/log.h"
#include "runtime/worker.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void notify_send(const char *text)
{
#ifdef HAVE_LIBSYSTEMD
  int rc = sd_notify(0, text);
  if (rc < 0)
    tz_log(TZ_LOG_WARN, "systemd notification failed: %s", strerror(-rc));
#else
  (void)text;
#endif
}

/* Appends to buf what fits; the text stays terminated. */
static size_t notify_cat(char *buf, size_t len, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t notify_cat(char *buf, size_t len, size_t at, const char *fmt, ...)
{
  if (at >= len)
    return at;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + at, len - at, fmt, ap);
  va_end(ap);
  return n < 0 ? at : at + (size_t)n;
}

void tz_notify_describe(const tz_gen_t *g, char *buf, size_t len)
{
  size_t at = notify_cat(buf, len, 0, "listening on");
  for (size_t i = 0; i < g->nlistens; i++) {
    const tz_listen_t *l = &g->listens[i];
    int v6 = strchr(l->host, ':') != NULL;
    at = notify_cat(buf, len, at, "%s %s:%s%s%s:%u", i ? "," : "",
                    l->proto ? l->proto : "udp+tcp", v6 ? "[" : "", l->host,
                    v6 ? "]" : "", l->port);
  }
  at = notify_cat(buf, len, at, "; %u worker%s; generation %u; modules:",
                  g->workers, g->workers > 1 ? "s" : "", g->id);
  for (size_t i = 0; i < g->nmods; i++)
    at = notify_cat(buf, len, at, " %s", tz_mod_name(g->mods[i]));
  if (!g->nmods)
    notify_cat(buf, len, at, " none");
}

static void notify_state(const char *state, const tz_gen_t *g, const char *why)
{
  char status[900], text[1000];
  tz_notify_describe(g, status, sizeof status);
  snprintf(text, sizeof text, "%s\nSTATUS=%s%s", state, why, status);
  notify_send(text);
}

void tz_notify_ready(const tz_gen_t *g) { notify_state("READY=1", g, ""); }

/* systemd (since 253) wants the moment of a reload with RELOADING=1. */
void tz_notify_reloading(void)
{
  struct timespec ts;
  char text[96];
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(text, sizeof text, "RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ULL +
               (unsigned long long)ts.tv_nsec / 1000ULL);
  notify_send(text);
}

void tz_notify_reloaded(const tz_gen_t *g, int ok)
{
  notify_state("READY=1", g, ok ? "" : "reload failed, the old script serves; ");
}

void tz_notify_stopping(void) { notify_send("STOPPING=1\nSTATUS=stopping"); }

/* ---- the watchdog ------------------------------------------------------ */

static atomic_uint wd_answers; /* workers that answered this round */
static unsigned wd_asked;      /* main loop only */

static void wd_answer(void *arg)
{
  (void)arg;
  atomic_fetch_add_explicit(&wd_answers, 1, memory_order_relaxed);
}

/* The main loop is worker 0, alive since it runs this. */
static void wd_tick(tz_modinst_t *mod, void *arg)
{
  (void)mod;
  (void)arg;
  unsigned got = atomic_exchange_explicit(&wd_answers, 0, memory_order_relaxed);
  if (got >= wd_asked)
    notify_send("WATCHDOG=1");
  else
    tz_log(TZ_LOG_ERR, "watchdog: %u of %u workers did not answer in time",
           wd_asked - got, wd_asked);
  wd_asked = 0;
  for (unsigned i = 1; i < tz_worker_count(); i++)
    wd_asked += tz_worker_post(i, wd_answer, NULL) == 0;
}

/* WatchdogSec=, in microseconds; 0 when not set (or no libsystemd). */
static uint64_t wd_interval(void)
{
  uint64_t usec = 0;
#ifdef HAVE_LIBSYSTEMD
  if (sd_watchdog_enabled(0, &usec) <= 0)
    usec = 0;
#endif
  return usec;
}

int tz_notify_watchdog_start(void)
{
  uint64_t usec = wd_interval();
  if (usec < 2000)
    return 0;
  unsigned ms = (unsigned)(usec / 2000);
  tz_log(TZ_LOG_INFO, "watchdog: keep-alive every %u ms", ms);
  return tz_timer_start(NULL, ms, 1, wd_tick, NULL) ? 0 : -1;
}
