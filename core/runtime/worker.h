/*
 * worker.h - a worker: one event loop and what belongs to it. Everything
 * of Sofia lives in a worker and is used only from its thread: the su_root
 * (loop.c), the nta agent with its transports (sip/transport.c), the
 * live transactions (sip/relay.c, sip/ict.c), the suspended requests (sip/msg.c).
 * Code reaches the calling thread's worker through tz_worker(), never
 * through file-scope globals, so several workers run side by side.
 *
 * Worker 0 is the process's main thread: besides SIP it serves the
 * control plane, signals, module timers and fd watches, and it is where
 * generations retire. Workers 1..n-1 are threads started by
 * tz_workers_start. The one way into another worker is its mailbox
 * (tz_worker_post): a job runs in that worker's thread, in order.
 *
 * Shared between workers, each with its owner and rule: generations
 * (runtime/gen.c: atomic references; each worker holds its own current
 * one, switched through its mailbox), counters (lib/stats.c: atomic), the
 * command and service registries and module instances (changed only by
 * the control plane, in worker 0).
 */
#ifndef TZ_WORKER_H
#define TZ_WORKER_H

#include "lib/owner.h"

#include <trapezoid/trapezoid.h>

#include <pthread.h>
#include <sofia-sip/su_wait.h>

struct tz_gen;
struct tz_sip_worker;   /* sip/transport.c */
struct tz_relay_worker; /* sip/relay.c */
struct tz_ict_worker;   /* sip/ict.c */
struct tz_mailbox;      /* runtime/worker.c */

#define TZ_MAX_WORKERS 64

typedef struct tz_worker {
  unsigned id;
  su_root_t *root;
  struct tz_gen *gen;       /* this worker's current generation (one ref) */
  tz_owner_t owner;         /* the core's timers and watches on this root */
  struct tz_mailbox *mbox;
  struct tz_sip_worker *sip;
  struct tz_relay_worker *relay;
  struct tz_ict_worker *ict;
  unsigned nsuspended; /* suspended requests not yet answered or dropped */
  unsigned nheld;      /* relays a module holds (tz_relay_hold), unreleased */
  struct tz_stat *st_requests; /* how the kernel spreads the load */
  pthread_t thread;    /* workers 1..n-1 */
  int opened;          /* has its root and mailbox (threads) */
  int start_rc;        /* what the start hook said, for tz_workers_start */
} tz_worker_t;

/* The calling thread's worker (worker 0 until a thread enters its own). */
tz_worker_t *tz_worker(void);
/* Worker i (0 <= i < tz_worker_count()). */
tz_worker_t *tz_worker_at(unsigned i);

/* Makes the calling thread's root and mailbox (worker 0: tz_loop_init). */
int tz_worker_open(tz_worker_t *w);
/* Runs what is still in the mailbox and refuses new jobs from then on
 * (tz_worker_post returns -1): a stopping worker seals it while its
 * transactions can still take what others send them. */
void tz_worker_seal(tz_worker_t *w);
/* Seals the mailbox, releases the worker's owner and destroys its root. */
void tz_worker_close(tz_worker_t *w);

/* What a worker thread runs after its loop exists and before it ends. */
typedef int (*tz_worker_hook_f)(tz_worker_t *w, char *err, size_t errlen);

/* Starts workers 1..n-1, each running start() in its own thread before its
 * loop, and stop() after; returns when all have started, or -1 with err
 * (and none left running) when one could not. */
int tz_workers_start(unsigned n, tz_worker_hook_f start, tz_worker_hook_f stop,
                     char *err, size_t errlen);
/* Stops and joins workers 1..n-1 (from worker 0). */
void tz_workers_stop(void);

#endif
