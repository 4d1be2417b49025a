/*
 * loc_db.c - the durable side of the location store, whatever the backend
 * (loc_store.h): the queue of saves, the single writer thread that commits
 * them in group transactions (one per batch: many REGISTERs, one fsync),
 * its settings, the expiry it is asked to run, and the handoff of finished
 * jobs to worker 0 through a pipe.
 *
 * The writer sleeps in poll() on a wake pipe and, for a backend other
 * processes write too (PostgreSQL), on the database connection, so news
 * from other nodes reaches worker 0 while no save is queued.
 *
 * Locking rule: mu guards the queue, the done list, tune/retune,
 * expire_before, stopping and sleeping; any worker may submit. The backend is worker
 * 0's at startup (loc_db_open, loc_db_load) and shutdown; in between it
 * belongs to the writer, which takes no other lock while it uses it.
 */
#define _POSIX_C_SOURCE 200809L
#include "loc_store.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- jobs --------------------------------------------------------------- */

size_t loc_aor_userlen(const char *aor)
{
  const char *at = strrchr(aor, '@');
  return at ? (size_t)(at - aor) : strlen(aor);
}

loc_job_t *loc_job_new(const char *aor, loc_set_t *set,
                       tz_location_done_f done, void *arg)
{
  size_t len = strlen(aor) + 1;
  loc_job_t *job = calloc(1, sizeof *job + len);
  if (!job)
    return NULL;
  memcpy(job->key, aor, len);
  job->userlen = loc_aor_userlen(aor);
  job->set = set;
  job->done = done;
  job->arg = arg;
  return job;
}

loc_job_t *loc_job_news(loc_job_kind_t kind, const char *aor,
                        loc_set_t *restored, unsigned sync_gen)
{
  loc_job_t *job = loc_job_new(aor, NULL, NULL, NULL);
  if (!job) {
    loc_set_release(restored);
    return NULL;
  }
  job->kind = kind;
  job->restored = restored;
  job->sync_gen = sync_gen;
  return job;
}

void loc_job_free(loc_job_t *job)
{
  loc_set_release(job->set);
  loc_set_release(job->prev);
  loc_set_release(job->restored);
  free(job);
}

/* ---- open, load, close ---------------------------------------------------------- */

int loc_db_open(loc_db_t *d, const loc_store_ops_t *ops, const char *target,
                const loc_tune_t *tune, char *err, size_t errlen)
{
  memset(d, 0, sizeof *d);
  d->notify[0] = d->notify[1] = d->wake[0] = d->wake[1] = -1;
  d->queue_tail = &d->queue;
  d->done_tail = &d->done.jobs;
  d->done.link.connected = 1;
  d->tune = *tune;
  if (pthread_mutex_init(&d->mu, NULL) != 0) {
    snprintf(err, errlen, "location: cannot create locks");
    return -1;
  }
  if (!(d->be = ops->open(target, tune, err, errlen)))
    return -1;
  return d->be->ops->schema(d->be, err, errlen);
}

int loc_db_load(loc_db_t *d, long now, loc_load_f add, void *arg, char *err,
                size_t errlen)
{
  char why[256];
  if (d->be->ops->load(d->be, now, add, arg, why, sizeof why) < 0) {
    snprintf(err, errlen, "location: cannot load bindings: %s", why);
    return -1;
  }
  return 0;
}

void loc_db_close(loc_db_t *d)
{
  if (d->be)
    d->be->ops->close(d->be);
  for (int i = 0; i < 2; i++) {
    if (d->notify[i] >= 0)
      close(d->notify[i]);
    if (d->wake[i] >= 0)
      close(d->wake[i]);
  }
  for (loc_job_t *j = d->done.jobs, *next; j; j = next) {
    next = j->next;
    loc_job_free(j);
  }
  pthread_mutex_destroy(&d->mu);
  memset(d, 0, sizeof *d);
}

/* ---- the writer thread ------------------------------------------------------------ */

/* Detaches up to batch_max queued jobs. Called with mu held. */
static loc_job_t *db_take_jobs(loc_db_t *d)
{
  loc_job_t *first = d->queue, *last = NULL;
  size_t n = 0;
  for (loc_job_t *j = first; j && n < d->tune.batch_max; j = j->next, n++)
    last = j;
  if (!last)
    return NULL;
  d->queue = last->next;
  if (!d->queue)
    d->queue_tail = &d->queue;
  last->next = NULL;
  return first;
}

/* Wakes worker 0 up for what the done list holds. One byte per wake-up
 * is enough: worker 0 takes everything at once. A full pipe (EAGAIN)
 * means it is already due to wake. Called with mu held. */
static void db_notify(loc_db_t *d)
{
  ssize_t w = write(d->notify[1], "", 1);
  (void)w;
}

static void db_append_done(loc_db_t *d, loc_job_t *jobs)
{
  for (loc_job_t *j = jobs; j; j = j->next) {
    *d->done_tail = j;
    d->done_tail = &j->next;
  }
}

/* Hands finished jobs to worker 0. Called with mu held. */
static void db_post_done(loc_db_t *d, loc_job_t *jobs, int status,
                         const char *err)
{
  int was_empty = !d->done.jobs && !d->done.failures;
  if (status < 0) {
    d->done.failures++;
    snprintf(d->done.err, sizeof d->done.err, "%s", err);
  } else if (jobs) {
    d->done.commits++; /* a sweep-only commit is no news for worker 0 */
  }
  for (loc_job_t *j = jobs; j; j = j->next)
    j->status = status < 0 ? -1 : j->applied ? 0 : TZ_LOCATION_STALE;
  db_append_done(d, jobs);
  if (was_empty && (d->done.jobs || d->done.failures))
    db_notify(d);
}

/* loc_sink_t: a backend's news, queued for worker 0 like finished jobs. */
static void db_sink_post(void *arg, loc_job_t *job)
{
  loc_db_t *d = arg;
  pthread_mutex_lock(&d->mu);
  job->next = NULL;
  if (!d->done.jobs)
    db_notify(d);
  db_append_done(d, job);
  pthread_mutex_unlock(&d->mu);
}

static void db_sink_link(void *arg, const loc_link_t *link)
{
  loc_db_t *d = arg;
  pthread_mutex_lock(&d->mu);
  d->done.link = *link;
  db_notify(d);
  pthread_mutex_unlock(&d->mu);
}

/* Reads back the AORs the database did not take a set for (all of them
 * after a rollback, and those a commit reports as not applied) unless the
 * commit said already. When the database cannot tell, memory goes back to
 * what it held before the save: the save is refused, so it must not be
 * served either. */
static void db_read_back(loc_backend_t *be, loc_job_t *jobs, int status)
{
  for (loc_job_t *j = jobs; j; j = j->next) {
    if ((status >= 0 && j->applied) || j->restored)
      continue;
    if (status != LOC_UNREACHABLE)
      j->restored = be->ops->read_aor(be, j);
    if (!j->restored)
      j->restored = loc_set_hold(j->prev);
  }
}

static void db_news(loc_db_t *d)
{
  const loc_sink_t sink = {d, db_sink_post, db_sink_link};
  if (d->be->ops->news)
    d->be->ops->news(d->be, &sink);
}

static void db_writer_batch(loc_db_t *d)
{
  loc_job_t *jobs = db_take_jobs(d);
  long expire_before = d->expire_before;
  d->expire_before = 0;
  loc_tune_t tune = d->tune;
  int retune = d->retune;
  d->retune = 0;
  pthread_mutex_unlock(&d->mu);

  loc_backend_t *be = d->be;
  /* A failure here would leave the old settings, which still work. */
  if (retune)
    be->ops->tune(be, &tune);
  char err[256] = "";
  int rc = be->ops->commit(be, jobs, expire_before, err, sizeof err);
  db_read_back(be, jobs, rc);

  pthread_mutex_lock(&d->mu);
  if (rc < 0 && expire_before > d->expire_before)
    d->expire_before = expire_before;
  db_post_done(d, jobs, rc, err);
}

/* Sleeps until there is work, the backend's descriptor has news or its
 * timeout passed; then hears the news. Called with mu held, returns with
 * it held. */
static void db_writer_sleep(loc_db_t *d)
{
  d->sleeping = 1;
  pthread_mutex_unlock(&d->mu);
  int timeout = -1;
  struct pollfd p[2] = {{.fd = d->wake[0], .events = POLLIN},
                        {.fd = -1, .events = POLLIN}};
  if (d->be->ops->watch)
    p[1].fd = d->be->ops->watch(d->be, &timeout);
  if (poll(p, 2, timeout) > 0 && (p[0].revents & POLLIN)) {
    char buf[64];
    while (read(d->wake[0], buf, sizeof buf) > 0)
      ;
  }
  db_news(d);
  pthread_mutex_lock(&d->mu);
  d->sleeping = 0;
}

static void *db_writer(void *arg)
{
  loc_db_t *d = arg;
  pthread_mutex_lock(&d->mu);
  for (;;) {
    if (d->queue || d->expire_before) {
      db_writer_batch(d);
      /* After the batch's jobs: news of an AOR read after they committed
       * must settle after them (location.c applies it once none is
       * pending). */
      pthread_mutex_unlock(&d->mu);
      db_news(d);
      pthread_mutex_lock(&d->mu);
    } else if (d->stopping)
      break; /* everything is written */
    else
      db_writer_sleep(d);
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

/* Gets the writer out of poll() if it sleeps there. Called with mu held. */
static void db_wake(loc_db_t *d)
{
  if (!d->sleeping)
    return;
  d->sleeping = 0; /* one byte per sleep */
  ssize_t w = write(d->wake[1], "", 1);
  (void)w;
}

static int db_pipe(int fds[2])
{
  if (pipe(fds) < 0)
    return -1;
  for (int i = 0; i < 2; i++)
    if (fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
      return -1;
  return 0;
}

int loc_db_start(loc_db_t *d)
{
  if (db_pipe(d->notify) < 0 || db_pipe(d->wake) < 0)
    return -1;
  if (tz_thread_start(&d->thread, db_writer, d) != 0)
    return -1;
  d->running = 1;
  return 0;
}

void loc_db_tune(loc_db_t *d, const loc_tune_t *tune)
{
  pthread_mutex_lock(&d->mu);
  d->tune = *tune;
  d->retune = 1;
  pthread_mutex_unlock(&d->mu);
}

int loc_db_notify_fd(const loc_db_t *d) { return d->notify[0]; }

void loc_db_submit(loc_db_t *d, loc_job_t *job)
{
  pthread_mutex_lock(&d->mu);
  *d->queue_tail = job;
  d->queue_tail = &job->next;
  db_wake(d);
  pthread_mutex_unlock(&d->mu);
}

void loc_db_request_expiry(loc_db_t *d, long now)
{
  pthread_mutex_lock(&d->mu);
  d->expire_before = now;
  db_wake(d);
  pthread_mutex_unlock(&d->mu);
}

void loc_db_take_done(loc_db_t *d, loc_done_t *out)
{
  char buf[64];
  while (read(d->notify[0], buf, sizeof buf) > 0)
    ;
  pthread_mutex_lock(&d->mu);
  *out = d->done;
  memset(&d->done, 0, sizeof d->done);
  d->done.link = out->link; /* a state, not news: it stays */
  d->done_tail = &d->done.jobs;
  pthread_mutex_unlock(&d->mu);
}

void loc_db_link(loc_db_t *d, loc_link_t *out)
{
  pthread_mutex_lock(&d->mu);
  *out = d->done.link;
  pthread_mutex_unlock(&d->mu);
}

void loc_db_stop(loc_db_t *d)
{
  if (!d->running)
    return;
  pthread_mutex_lock(&d->mu);
  d->stopping = 1;
  db_wake(d);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  d->running = 0;
}
