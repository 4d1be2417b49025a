/*
 * trace.h - which messages get a per-line script trace.
 */
#ifndef TZ_TRACE_H
#define TZ_TRACE_H

#include "sip/msg.h"

/* On for every message, or only for one Call-ID and/or source address. */
int tz_trace_set(int on, const char *callid, const char *source);
int tz_trace_matches(const tz_msg_t *m);
/* The current filter, for showing it. */
int tz_trace_get(const char **callid, const char **source);
void tz_trace_deinit(void);

#endif
