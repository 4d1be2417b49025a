/*
 * trace.c - the trace filter. When it is off, a message costs one branch;
 * when on, the interpreter logs every executed line of the messages it
 * matches (the route runner asks, msg.c).
 *
 * Threads: the control plane sets the filter while workers match against
 * it; trace_lock guards the strings, and the atomic flag keeps the lock
 * off the path of every message while tracing is off.
 */
#define _POSIX_C_SOURCE 200809L
#include "sip/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int trace_on;
static char *trace_callid, *trace_source;

static void trace_clear_locked(void)
{
  free(trace_callid);
  free(trace_source);
  trace_callid = trace_source = NULL;
  trace_on = 0;
}

int tz_trace_set(int on, const char *callid, const char *source)
{
  char *c = on && callid ? strdup(callid) : NULL;
  char *s = on && source ? strdup(source) : NULL;
  if ((on && callid && !c) || (on && source && !s)) {
    free(c);
    free(s);
    return -1;
  }
  pthread_mutex_lock(&trace_lock);
  trace_clear_locked();
  trace_callid = c;
  trace_source = s;
  trace_on = on;
  pthread_mutex_unlock(&trace_lock);
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
  pthread_mutex_lock(&trace_lock);
  trace_clear_locked();
  pthread_mutex_unlock(&trace_lock);
}

static int trace_matches_locked(const tz_msg_t *m)
{
  if (trace_callid &&
      !(m->sip && m->sip->sip_call_id &&
        strcmp(m->sip->sip_call_id->i_id, trace_callid) == 0))
    return 0;
  return !trace_source || strcmp(m->src_ip, trace_source) == 0;
}

int tz_trace_matches(const tz_msg_t *m)
{
  if (!atomic_load_explicit(&trace_on, memory_order_relaxed))
    return 0;
  pthread_mutex_lock(&trace_lock);
  int yes = trace_on && trace_matches_locked(m);
  pthread_mutex_unlock(&trace_lock);
  return yes;
}
