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

#endif
