/*
 * log.h - where log lines go (stderr or syslog) and how verbose they are.
 */
#ifndef TZ_LOG_H
#define TZ_LOG_H

#include <trapezoid/trapezoid.h>

/* to_stderr: 1 = stderr, 0 = syslog(LOG_DAEMON). */
void tz_log_setup(const char *ident, int to_stderr);
void tz_log_set_level(int level);
int tz_log_get_level(void);
/* Every line to f instead (NULL: back to stderr or syslog). */
typedef void (*tz_log_sink_f)(void *arg, int level, const char *line);
void tz_log_set_sink(tz_log_sink_f f, void *arg);
/* One line: before, the formatted text, after (a place in a script, a
 * Call-ID: what tells the operator where the line comes from). */
void tz_vlog_around(int level, const char *before, const char *after,
                    const char *fmt, va_list ap);

#endif
