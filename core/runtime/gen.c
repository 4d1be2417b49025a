/*
 * gen.c - generations as objects: references, the current one, and what
 * goes when the last reference does. Building them is control/build.c's.
 *
 * Threads: references are atomic and may be taken and dropped in any
 * worker. Each worker has its own current generation (worker.h), which
 * only its own thread changes: worker 0 makes a generation current and
 * posts the switch to the others. A generation is freed in worker 0, where
 * its module instances were made, whoever drops the last reference.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/gen.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "runtime/module.h"
#include "runtime/worker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned gen_next_id = 1;

tz_gen_t *tz_gen_current(void) { return tz_worker()->gen; }

/* One per core but one: a worker pays for every datagram with a wakeup
 * that fewer, busier loops share, and the kernel's UDP work (40 % of the
 * cycles under load), the location writer and anything else on the box
 * need a core. Measured on 2 cores with the load generator beside the
 * server, a second worker lowered the highest clean rates (README,
 * "Workers"); more cores are not measured here. */
static unsigned gen_default_workers(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
  return n < 1 ? 1 : n > TZ_MAX_WORKERS ? TZ_MAX_WORKERS : (unsigned)n;
}

tz_gen_t *tz_gen_new(void)
{
  tz_gen_t *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  atomic_init(&g->refs, 1);
  g->log_level = TZ_LOG_NOTICE;
  /* Not RFC 3261's 32 s: Sofia ties the completed-transaction waits
   * (Timers H and J) to this value, and they held every BYE's messages for
   * 32 s -- a third of the memory per call (doc/script.md, fr_timer). */
  g->fr_timer = 5000;
  g->fr_inv_timer = 180000;
  g->tcp_idle = 300000;
  g->tcp_max = 8192;
  g->max_msg_size = 65535; /* the largest UDP datagram */
  /* Bursts (thousands of transactions timing out at once) must not
   * overflow the kernel's default 208 KB while the loop is busy. */
  g->udp_rcvbuf = 4u << 20;
  g->udp_sndbuf = 4u << 20;
  g->workers = gen_default_workers();
  return g;
}

void tz_gen_seal(tz_gen_t *g)
{
  assert(g->id == 0);
  g->id = gen_next_id++;
}

int tz_gen_add_module(tz_gen_t *g, tz_modinst_t *mi)
{
  tz_modinst_t **nm = realloc(g->mods, (g->nmods + 1) * sizeof *nm);
  if (!nm)
    return -1;
  g->mods = nm;
  g->mods[g->nmods++] = mi;
  return 0;
}

tz_gen_t *tz_gen_ref(tz_gen_t *g)
{
  if (g) {
    unsigned was = atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    assert(was > 0);
    (void)was;
  }
  return g;
}

static void gen_free_strings(char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void gen_free(tz_gen_t *g)
{
  assert(tz_worker()->id == 0);
  tz_owner_release(&g->owner, NULL); /* the script, before the modules */
  for (size_t i = g->nmods; i-- > 0;)
    tz_module_destroy(g->mods[i]);
  free(g->mods);
  for (size_t i = 0; i < g->nlistens; i++)
    tz_listen_free(&g->listens[i]);
  free(g->listens);
  gen_free_strings(g->aliases, g->naliases);
  char *strings[] = {g->mpath, g->ctl_socket, g->ctl_listen, g->http_listen,
                     g->tls_dir, g->user, g->group};
  for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
    free(strings[i]);
  free(g);
}

static void gen_retire(void *arg)
{
  tz_gen_t *g = arg;
  tz_log(TZ_LOG_DBG, "generation %u retired", g->id);
  gen_free(g);
}

void tz_gen_unref(tz_gen_t *g)
{
  if (!g)
    return;
  /* acq_rel: whatever any worker did with g happens before its free */
  unsigned was = atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel);
  assert(was > 0);
  if (was != 1)
    return;
  if (tz_worker_post(0, gen_retire, g) < 0) {
    /* Out of memory in a worker: better a lost generation than a free in
     * the wrong thread. */
    tz_log(TZ_LOG_ERR, "generation %u: cannot retire it in worker 0", g->id);
  }
}

static void gen_switch(void *arg)
{
  tz_worker_t *w = tz_worker();
  tz_gen_t *old = w->gen;
  w->gen = arg;
  tz_gen_unref(old);
}

/* Every worker gets its own reference; until its mailbox runs the switch,
 * it keeps serving from the one it has. */
void tz_gen_set_current(tz_gen_t *g)
{
  assert(tz_worker()->id == 0);
  if (g) {
    tz_log_set_level(g->log_level);
    tz_stat_set(tz_st_generation, g->id);
  }
  for (unsigned i = tz_worker_count(); i-- > 0;)
    if (tz_worker_post(i, gen_switch, tz_gen_ref(g)) < 0) {
      tz_log(TZ_LOG_ERR, "worker %u keeps generation %u: out of memory", i,
             tz_worker_at(i)->gen ? tz_worker_at(i)->gen->id : 0);
      tz_gen_unref(g);
    }
}

int tz_gen_has_module(const tz_gen_t *g, const tz_modinst_t *mi)
{
  for (size_t i = 0; g && i < g->nmods; i++)
    if (g->mods[i] == mi)
      return 1;
  return 0;
}

tz_modinst_t *tz_gen_find_module(const tz_gen_t *g, const char *name)
{
  for (size_t i = 0; i < g->nmods; i++)
    if (strcmp(tz_mod_name(g->mods[i]), name) == 0)
      return g->mods[i];
  return NULL;
}
