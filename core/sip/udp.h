/*
 * udp.h - our UDP sockets as the kernel sees them (udp.c): the receive and
 * send buffers they got, and the datagrams dropped because the receive
 * buffer was full.
 */
#ifndef TZ_UDP_H
#define TZ_UDP_H

#include "runtime/gen.h"

/* Logs the buffer sizes each UDP listen socket obtained; warns when the
 * kernel gave less than g asked for (net.core.rmem_max / wmem_max). */
void tz_udp_report(const tz_gen_t *g);

/* Refreshes the sip.udp.* gauges (before stats are read). */
void tz_udp_stats_refresh(void);

#endif
