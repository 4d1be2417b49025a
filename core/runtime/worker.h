/*
 * worker.h - a worker: one event loop and what belongs to it. Everything
 * of Sofia lives in a worker and is used only from its thread: the su_root
 * (loop.c), the nta agent with its transports (sip/transport.c), the
 * live transactions (sip/relay.c, sip/ict.c), the suspended requests (sip/msg.c).
 * Code reaches the calling thread's worker through tz_worker(), never
 * through file-scope globals, so several workers can run side by side.
 *
 * Shared between workers, each with its owner and rule: generations
 * (runtime/gen.c: pinned by reference), counters (lib/stats.c), the
 * command and service registries and module instances (changed only by
 * the control plane).
 */
#ifndef TZ_WORKER_H
#define TZ_WORKER_H

#include <sofia-sip/su_wait.h>

struct tz_sip_worker;   /* sip/transport.c */
struct tz_relay_worker; /* sip/relay.c */
struct tz_ict_worker;   /* sip/ict.c */

typedef struct tz_worker {
  unsigned id;
  su_root_t *root;
  struct tz_sip_worker *sip;
  struct tz_relay_worker *relay;
  struct tz_ict_worker *ict;
  unsigned nsuspended; /* suspended requests not yet answered or dropped */
} tz_worker_t;

/* The calling thread's worker (the process's first one until threads
 * set their own). */
tz_worker_t *tz_worker(void);
/* Makes w the calling thread's worker. */
void tz_worker_enter(tz_worker_t *w);

#endif
