/*
 * notify.h - what the daemon tells its service manager (systemd's
 * Type=notify) and its log about itself.
 */
#ifndef TZ_CONTROL_NOTIFY_H
#define TZ_CONTROL_NOTIFY_H

#include "runtime/gen.h"

#include <stddef.h>

/* "udp+tcp:127.0.0.1:5060 tls:..., 2 workers, generation 3, modules
 * sanity rr ...": the start line and systemd's STATUS. */
void tz_notify_describe(const tz_gen_t *g, char *buf, size_t len);

/* Each is a no-op unless systemd started the daemon (NOTIFY_SOCKET). */
void tz_notify_ready(const tz_gen_t *g);     /* READY=1 + STATUS */
void tz_notify_reloading(void);              /* RELOADING=1 */
void tz_notify_reloaded(const tz_gen_t *g, int ok); /* READY=1 + STATUS */
void tz_notify_stopping(void);               /* STOPPING=1 */
/* WatchdogSec=: WATCHDOG=1 at half the interval, as long as every worker's
 * loop still answers. 0, or -1 if the timer cannot start. */
int tz_notify_watchdog_start(void);

#endif
