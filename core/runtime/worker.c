/*
 * worker.c - owns the workers: their table, their threads, and their
 * mailboxes (the only way one worker makes another do something).
 *
 * Locking rule: a mailbox's queue is guarded by its mutex, and that is the
 * only lock here; everything else of a worker is touched by its own thread.
 * The table is written by worker 0 before the threads start and after they
 * are joined.
 */
#define _GNU_SOURCE
#include "runtime/worker.h"
#include "lib/log.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sofia-sip/su.h>

typedef struct mjob {
  struct mjob *next;
  void (*fn)(void *);
  void *arg;
} mjob_t;

struct tz_mailbox {
  pthread_mutex_t lock;
  mjob_t *head, **tail;
  int fd;    /* eventfd: readable while jobs wait */
  int index; /* its registration on the root; 0 once sealed */
  int sealed; /* no more jobs (under lock) */
};

/* Worker 0 is an element like the others, so pointers into it stay valid
 * when threads start. */
static tz_worker_t workers[TZ_MAX_WORKERS];
static atomic_uint nworkers = 1; /* atomic: any worker's accept() asks (handoff.c) */
static _Thread_local tz_worker_t *current_worker = &workers[0];

tz_worker_t *tz_worker(void) { return current_worker; }

tz_worker_t *tz_worker_at(unsigned i)
{
  assert(i < nworkers);
  return &workers[i];
}

unsigned tz_worker_count(void) { return nworkers; }
unsigned tz_worker_self(void) { return current_worker->id; }

/* ---- mailboxes ------------------------------------------------------------ */

static mjob_t *mbox_take_all(struct tz_mailbox *mb)
{
  pthread_mutex_lock(&mb->lock);
  mjob_t *jobs = mb->head;
  mb->head = NULL;
  mb->tail = &mb->head;
  pthread_mutex_unlock(&mb->lock);
  return jobs;
}

static void mbox_run(struct tz_mailbox *mb)
{
  uint64_t n;
  if (read(mb->fd, &n, sizeof n) < 0 && errno != EAGAIN)
    tz_log(TZ_LOG_WARN, "worker mailbox: %s", strerror(errno));
  for (mjob_t *j = mbox_take_all(mb), *next; j; j = next) {
    next = j->next;
    j->fn(j->arg);
    free(j);
  }
}

static int mbox_ready(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
  (void)magic;
  (void)w;
  mbox_run((struct tz_mailbox *)arg);
  return 0;
}

int tz_worker_post(unsigned id, void (*fn)(void *), void *arg)
{
  tz_worker_t *w = tz_worker_at(id);
  if (w == current_worker) {
    fn(arg);
    return 0;
  }
  mjob_t *j = malloc(sizeof *j);
  if (!j)
    return -1; /* errno ENOMEM */
  *j = (mjob_t){NULL, fn, arg};
  struct tz_mailbox *mb = w->mbox;
  pthread_mutex_lock(&mb->lock);
  int sealed = mb->sealed;
  if (!sealed) {
    *mb->tail = j;
    mb->tail = &j->next;
  }
  pthread_mutex_unlock(&mb->lock);
  if (sealed) {
    free(j);
    errno = ESHUTDOWN;
    return -1;
  }
  uint64_t one = 1;
  /* EAGAIN: the counter is full, so the worker is due to wake anyway. */
  if (write(mb->fd, &one, sizeof one) < 0 && errno != EAGAIN)
    tz_log(TZ_LOG_WARN, "worker %u mailbox: %s", id, strerror(errno));
  return 0;
}

static int mbox_open(tz_worker_t *w)
{
  struct tz_mailbox *mb = calloc(1, sizeof *mb);
  if (!mb)
    return -1;
  pthread_mutex_init(&mb->lock, NULL);
  mb->tail = &mb->head;
  mb->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  su_wait_t sw[1];
  if (mb->fd < 0 || su_wait_create(sw, mb->fd, SU_WAIT_IN) < 0 ||
      (mb->index = su_root_register(w->root, sw, mbox_ready,
                                    (su_wakeup_arg_t *)mb, 0)) <= 0) {
    if (mb->fd >= 0)
      close(mb->fd);
    pthread_mutex_destroy(&mb->lock);
    free(mb);
    return -1;
  }
  w->mbox = mb;
  return 0;
}

/* Jobs still queued run here: each frees what it carries. */
void tz_worker_seal(tz_worker_t *w)
{
  struct tz_mailbox *mb = w->mbox;
  assert(w == current_worker);
  if (!mb || mb->sealed)
    return;
  pthread_mutex_lock(&mb->lock);
  mb->sealed = 1;
  pthread_mutex_unlock(&mb->lock);
  mbox_run(mb);
  su_root_deregister(w->root, mb->index);
  mb->index = 0;
}

/* A worker thread's mailbox stays until it is joined: others may still
 * try to post to it (and be refused). */
static void mbox_free(tz_worker_t *w)
{
  struct tz_mailbox *mb = w->mbox;
  if (!mb)
    return;
  close(mb->fd);
  pthread_mutex_destroy(&mb->lock);
  free(mb);
  w->mbox = NULL;
}

/* ---- a worker's loop ------------------------------------------------------ */

int tz_worker_open(tz_worker_t *w)
{
  assert(w == current_worker);
  w->root = su_root_create(NULL);
  if (!w->root)
    return -1;
  if (mbox_open(w) == 0)
    return 0;
  su_root_destroy(w->root);
  w->root = NULL;
  return -1;
}

void tz_worker_close(tz_worker_t *w)
{
  tz_worker_seal(w);
  tz_owner_release(&w->owner, NULL);
  if (w->root)
    su_root_destroy(w->root);
  w->root = NULL;
  if (w->id == 0)
    mbox_free(w);
}

/* ---- threads -------------------------------------------------------------- */

static tz_worker_hook_f hook_start, hook_stop;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static unsigned nstarted; /* threads that have said how their start went */
static atomic_uint nrunning; /* threads not yet past their stop hook */

static void worker_started(void)
{
  pthread_mutex_lock(&start_lock);
  nstarted++;
  pthread_cond_signal(&start_cond);
  pthread_mutex_unlock(&start_lock);
}

/* A worker whose start failed still runs its loop (if it has one) until
 * worker 0 stops them all, so nobody posts to a mailbox that is gone. */
static void *worker_main(void *arg)
{
  tz_worker_t *w = arg;
  char err[256] = "";
  current_worker = w;
  w->opened = tz_worker_open(w) == 0;
  w->start_rc = w->opened ? hook_start(w, err, sizeof err) : -1;
  if (w->start_rc < 0)
    tz_log(TZ_LOG_ERR, "worker %u: %s", w->id, err[0] ? err : "cannot start");
  worker_started();
  if (w->opened) {
    su_root_run(w->root);
    if (w->start_rc == 0)
      hook_stop(w, err, sizeof err);
    tz_worker_close(w);
  }
  atomic_fetch_sub(&nrunning, 1);
  return NULL;
}

static void worker_break(void *arg) { su_root_break(((tz_worker_t *)arg)->root); }

static void workers_wait_started(unsigned made)
{
  pthread_mutex_lock(&start_lock);
  while (nstarted < made - 1)
    pthread_cond_wait(&start_cond, &start_lock);
  pthread_mutex_unlock(&start_lock);
}

int tz_workers_start(unsigned n, tz_worker_hook_f start, tz_worker_hook_f stop,
                     char *err, size_t errlen)
{
  assert(current_worker->id == 0 && nworkers == 1);
  assert(n <= TZ_MAX_WORKERS);
  hook_start = start;
  hook_stop = stop;
  nstarted = 0;
  atomic_store(&nrunning, n - 1);
  nworkers = n; /* before any thread reads it */
  unsigned made = 1;
  for (; made < n; made++) {
    workers[made] = (tz_worker_t){.id = made};
    if (pthread_create(&workers[made].thread, NULL, worker_main, &workers[made]))
      break;
  }
  atomic_fetch_sub(&nrunning, n - made);
  workers_wait_started(made);
  nworkers = made;
  int failed = made < n;
  for (unsigned i = 1; i < made; i++)
    failed |= workers[i].start_rc < 0;
  if (failed) {
    snprintf(err, errlen, "cannot start %u workers (see the log)", n);
    tz_workers_stop();
  }
  return failed ? -1 : 0;
}

/* Worker 0's loop keeps running meanwhile: a worker draining its
 * suspended requests may be waiting for a completion that worker 0
 * delivers (the location writer's). */
void tz_workers_stop(void)
{
  assert(current_worker->id == 0);
  for (unsigned i = 1; i < nworkers; i++)
    if (workers[i].opened)
      tz_worker_post(i, worker_break, &workers[i]);
  while (atomic_load(&nrunning) > 0)
    su_root_step(workers[0].root, 10);
  for (unsigned i = 1; i < nworkers; i++) {
    pthread_join(workers[i].thread, NULL);
    mbox_free(&workers[i]);
  }
  nworkers = 1;
}

int tz_thread_start(pthread_t *thread, void *(*fn)(void *arg), void *arg)
{
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(thread, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}
