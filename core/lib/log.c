/*
 * log.c - the process-wide log sink: level filter, stderr or syslog.
 *
 * The level and sink are process state (not per generation) because the
 * command line sets them before any script exists.
 */
#define _DEFAULT_SOURCE
#include "lib/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = TZ_LOG_NOTICE; /* read by every worker */
static int log_stderr = 1;
static tz_log_sink_f log_sink; /* trapezoid --test: one thread logs */
static void *log_sink_arg;

static const char *const log_names[] = {
  [TZ_LOG_ERR] = "ERROR", [TZ_LOG_WARN] = "WARNING",
  [TZ_LOG_NOTICE] = "NOTICE", [TZ_LOG_INFO] = "INFO", [TZ_LOG_DBG] = "DEBUG"
};

void tz_log_setup(const char *ident, int to_stderr)
{
  log_stderr = to_stderr;
  if (!to_stderr)
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void tz_log_set_level(int level)
{
  if (level < TZ_LOG_ERR)
    level = TZ_LOG_ERR;
  if (level > TZ_LOG_DBG)
    level = TZ_LOG_DBG;
  log_level = level;
}

int tz_log_get_level(void) { return log_level; }

void tz_log_set_sink(tz_log_sink_f f, void *arg)
{
  log_sink = f;
  log_sink_arg = arg;
}

int tz_log_enabled(int level) { return level <= log_level; }

void tz_vlog(int level, const char *fmt, va_list ap)
{
  if (!tz_log_enabled(level))
    return;
  if (log_sink) {
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    log_sink(log_sink_arg, level, line);
    return;
  }
  if (!log_stderr) {
    vsyslog(level, fmt, ap);
    return;
  }
  struct timespec ts;
  struct tm tm;
  char stamp[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  char line[2048];
  vsnprintf(line, sizeof line, fmt, ap);
  fprintf(stderr, "%s.%03ld [%d] %s: %s\n", stamp, ts.tv_nsec / 1000000L,
          (int)getpid(), log_names[level], line);
}

void tz_vlog_around(int level, const char *before, const char *after,
                    const char *fmt, va_list ap)
{
  if (!tz_log_enabled(level))
    return;
  char text[1024];
  vsnprintf(text, sizeof text, fmt, ap);
  tz_log(level, "%s%s%s", before, text, after);
}

void tz_log(int level, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  tz_vlog(level, fmt, ap);
  va_end(ap);
}
