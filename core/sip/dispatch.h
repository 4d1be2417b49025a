/*
 * dispatch.h - the SIP side of the server: received messages into the
 * script (dispatch.c), started and stopped in order.
 */
#ifndef TZ_DISPATCH_H
#define TZ_DISPATCH_H

#include "runtime/gen.h"

/* Binds g's listen addresses and starts taking messages. Returns 0, or
 * -1 with a message in err. */
int tz_dispatch_start(const tz_gen_t *g, char *err, size_t errlen);
/* With worker 0 serving, starts workers 1..n-1 (threads), each binding
 * the same addresses; tz_workers_stop() ends them. */
int tz_dispatch_start_workers(unsigned n, char *err, size_t errlen);
/* Ends every transaction (503 to callers still waiting), then the
 * transports. */
void tz_dispatch_stop(void);

#endif
