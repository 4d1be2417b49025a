/*
 * sip.h - the Sofia nta agent: transports, and the dispatch of received
 * messages into the current generation's script.
 */
#ifndef TZ_SIP_H
#define TZ_SIP_H

#include "gen.h"

/* Binds every listen address of g (UDP+TCP unless a proto is given).
 * Returns 0, or -1 with a message in err. */
int tz_sip_start(const tz_gen_t *g, char *err, size_t errlen);
void tz_sip_stop(void);

#endif
