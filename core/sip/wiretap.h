/*
 * wiretap.h - the wire tap registry (wiretap.c): modules' callbacks for
 * every datagram the core's UDP sockets move, fed by core/udpio.c, and
 * every TCP and TLS message, fed by core/tportio.c.
 */
#ifndef TZ_WIRETAP_H
#define TZ_WIRETAP_H

#include "sip/hooks.h"

extern tz_hooks_t tz_wiretaps;

/* Inline, so that a datagram costs one relaxed load while no tap is
 * registered (the common case, and the benchmark's). */
static inline int tz_wiretap_on(void) { return tz_hooks_any(&tz_wiretaps); }

/* Hands w to every tap of the calling worker's current generation. */
void tz_wiretap_run(const tz_wire_t *w);

#endif
