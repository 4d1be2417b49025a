/*
 * trace.c - the trace filter. When it is off, a message costs one branch;
 * when on, the interpreter logs every executed line of the messages it
 * matches (the route runner asks, msg.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/trace.h"

#include <stdlib.h>
#include <string.h>

static int trace_on;
static char *trace_callid, *trace_source;

int tz_trace_set(int on, const char *callid, const char *source)
{
  char *c = on && callid ? strdup(callid) : NULL;
  char *s = on && source ? strdup(source) : NULL;
  if ((on && callid && !c) || (on && source && !s)) {
    free(c);
    free(s);
    return -1;
  }
  tz_trace_deinit();
  trace_callid = c;
  trace_source = s;
  trace_on = on;
  return 0;
}

int tz_trace_get(const char **callid, const char **source)
{
  *callid = trace_callid;
  *source = trace_source;
  return trace_on;
}

void tz_trace_deinit(void)
{
  free(trace_callid);
  free(trace_source);
  trace_callid = trace_source = NULL;
  trace_on = 0;
}

int tz_trace_matches(const tz_msg_t *m)
{
  if (!trace_on)
    return 0;
  if (trace_callid &&
      !(m->sip && m->sip->sip_call_id &&
        strcmp(m->sip->sip_call_id->i_id, trace_callid) == 0))
    return 0;
  return !trace_source || strcmp(m->src_ip, trace_source) == 0;
}
