/*
 * clock.c - the virtual clock of `trapezoid --test`. Daemon only, like
 * wire.c.
 *
 * A test file runs with time standing still: the worker's thread (the
 * harness's, worker 0) reads a clock that moves only when the harness
 * moves it, from one timer deadline to the next (`advance`, and the
 * short hops of settling). So Timer A's retransmissions, fr_timer's 408,
 * a nonce's age and pike's window come out the same on every machine
 * and in no real time at all.
 *
 * clock_gettime(), time() and gettimeofday() are wrapped: libsofia and
 * the modules call them through the PLT, as they do the socket calls
 * wire.c wraps. Only the thread that switched the clock on sees it; the
 * others (the location writer, libpq) keep real time, since their
 * deadlines would never come on a frozen clock.
 *
 * Owns the offset (one thread writes and reads it) and the moment the
 * clock froze.
 */
#define _GNU_SOURCE
#include "interpose.h"
#include "test/clock.h"

#include <stddef.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_f)(clockid_t, struct timespec *);

static _Thread_local int clock_virtual;
static struct timespec frozen_real, frozen_mono; /* when the clock froze */
static long long offset_ms;                      /* advanced since */

static int real_gettime(clockid_t clk, struct timespec *ts)
{
  static _Atomic(void *) real;
  return ((clock_gettime_f)tz_real(&real, "clock_gettime"))(clk, ts);
}

void tz_testclock_start(long long epoch)
{
  real_gettime(CLOCK_REALTIME, &frozen_real);
  if (epoch >= 0)
    frozen_real = (struct timespec){.tv_sec = (time_t)epoch};
  real_gettime(CLOCK_MONOTONIC, &frozen_mono);
  offset_ms = 0;
  clock_virtual = 1;
}

void tz_testclock_advance(long long ms) { offset_ms += ms; }

long long tz_testclock_real_ms(void)
{
  struct timespec ts;
  real_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void clock_add(struct timespec *ts, const struct timespec *base)
{
  long long ns = base->tv_nsec + (offset_ms % 1000) * 1000000LL;
  ts->tv_sec = base->tv_sec + (time_t)(offset_ms / 1000) + (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
}

TZ_INTERPOSE int clock_gettime(clockid_t clk, struct timespec *ts)
{
  if (!clock_virtual)
    return real_gettime(clk, ts);
  switch (clk) {
  case CLOCK_REALTIME:
  case CLOCK_REALTIME_COARSE: clock_add(ts, &frozen_real); return 0;
  case CLOCK_MONOTONIC:
  case CLOCK_MONOTONIC_COARSE:
  case CLOCK_MONOTONIC_RAW:
  case CLOCK_BOOTTIME: clock_add(ts, &frozen_mono); return 0;
  default: return real_gettime(clk, ts); /* CPU clocks: real */
  }
}

/* Outside test mode, and on the other threads, libc's own: the wrappers
 * must change nothing there (time() is libc's coarse clock). */
typedef time_t (*time_f)(time_t *);
typedef int (*gettimeofday_f)(struct timeval *restrict, void *restrict);

TZ_INTERPOSE time_t time(time_t *t)
{
  static _Atomic(void *) real;
  if (!clock_virtual)
    return ((time_f)tz_real(&real, "time"))(t);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t)
    *t = ts.tv_sec;
  return ts.tv_sec;
}

TZ_INTERPOSE int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
  static _Atomic(void *) real;
  if (!clock_virtual)
    return ((gettimeofday_f)tz_real(&real, "gettimeofday"))(tv, tz);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (tz) /* obsolete: glibc zeroes it */
    memset(tz, 0, sizeof(struct timezone));
  tv->tv_sec = ts.tv_sec; /* declared nonnull by glibc */
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}
