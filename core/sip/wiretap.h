/*
 * wiretap.h - the wire tap registry (wiretap.c): modules' callbacks for
 * every datagram the core's UDP sockets move, fed by core/udpio.c.
 */
#ifndef TZ_WIRETAP_H
#define TZ_WIRETAP_H

#include <trapezoid/trapezoid.h>

#include <stdatomic.h>

/* How many taps are registered. Read inline so that a datagram costs one
 * relaxed load while there are none (the common case, and the benchmark's). */
extern atomic_uint tz_wiretap_count;

static inline int tz_wiretap_on(void)
{
  return atomic_load_explicit(&tz_wiretap_count, memory_order_relaxed) != 0;
}

/* Hands w to every tap of the calling worker's current generation. */
void tz_wiretap_run(const tz_wire_t *w);

#endif
