/*
 * hep_send.c - the bounded queue of HEP packets and the thread that sends
 * them.
 *
 * Why a queue and a thread: the wire tap runs inside the worker's own send
 * and receive, and a collector that is slow, far or gone must cost the
 * worker no more than a copy. The queue is a ring of at most `cap`
 * packets; a full one refuses (the module counts hep.dropped), so memory
 * stays bounded and a worker never waits for the network. The thread sends
 * one packet per sendto(); a send the kernel cannot take within
 * HEP_SEND_TIMEOUT_MS, or refuses, is counted in hep.failed and the thread
 * goes on, so stopping it is quick.
 *
 * Locking rule: lock guards the ring and stop; workers push under it, the
 * thread pops under it and sends outside it. failing and fd are the
 * thread's alone.
 */
#define _POSIX_C_SOURCE 200809L
#include "hep.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define HEP_SEND_TIMEOUT_MS 100

struct hep_sender {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  hep_pkt_t **ring;
  unsigned cap, head, count;
  int stop;
  int fd;
  struct sockaddr_storage dst;
  socklen_t dstlen;
  int failing; /* the last send failed: logged once until one succeeds */
  tz_stat_t *sent, *failed;
  pthread_t thread;
};

int hep_sender_push(hep_sender_t *s, hep_pkt_t *p)
{
  pthread_mutex_lock(&s->lock);
  int full = s->count == s->cap;
  if (!full) {
    s->ring[(s->head + s->count) % s->cap] = p;
    if (++s->count == 1) /* the thread waits only on an empty ring */
      pthread_cond_signal(&s->wake);
  }
  pthread_mutex_unlock(&s->lock);
  return full ? -1 : 0;
}

unsigned hep_sender_queued(hep_sender_t *s)
{
  pthread_mutex_lock(&s->lock);
  unsigned n = s->count;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* The next packet, waiting for one; NULL once stopped. */
static hep_pkt_t *hep_sender_pop(hep_sender_t *s)
{
  hep_pkt_t *p = NULL;
  pthread_mutex_lock(&s->lock);
  while (!s->count && !s->stop)
    pthread_cond_wait(&s->wake, &s->lock);
  if (!s->stop) {
    p = s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
  }
  pthread_mutex_unlock(&s->lock);
  return p;
}

/* A failure is logged when sending starts to fail, not per packet. */
static void hep_sender_send(hep_sender_t *s, const hep_pkt_t *p)
{
  int ok = sendto(s->fd, p->data, p->len, 0, (const struct sockaddr *)&s->dst,
                  s->dstlen) == (ssize_t)p->len;
  int e = errno;
  tz_stat_add(ok ? s->sent : s->failed, 1);
  if (ok == !s->failing)
    return;
  s->failing = !ok;
  if (ok)
    tz_log(TZ_LOG_NOTICE, "hep: sending to the collector again");
  else
    tz_log(TZ_LOG_WARN, "hep: cannot send to the collector (%s); counting hep.failed",
           strerror(e));
}

static void *hep_sender_main(void *arg)
{
  hep_sender_t *s = arg;
  for (hep_pkt_t *p; (p = hep_sender_pop(s)); free(p))
    hep_sender_send(s, p);
  return NULL;
}

/* A datagram socket whose sends give up after HEP_SEND_TIMEOUT_MS. */
static int hep_sender_socket(int family, char *err, size_t errlen)
{
  struct timeval tv = {0, HEP_SEND_TIMEOUT_MS * 1000};
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
    snprintf(err, errlen, "hep: socket: %s", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static void hep_sender_free(hep_sender_t *s)
{
  for (; s->count; s->count--, s->head = (s->head + 1) % s->cap)
    free(s->ring[s->head]);
  if (s->fd >= 0)
    close(s->fd);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  free(s->ring);
  free(s);
}

static hep_sender_t *hep_sender_new(const struct sockaddr *dst, socklen_t dstlen,
                                    unsigned cap)
{
  assert(cap > 0 && dstlen <= sizeof(struct sockaddr_storage));
  hep_sender_t *s = calloc(1, sizeof *s);
  if (!s || !(s->ring = calloc(cap, sizeof *s->ring))) {
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  s->cap = cap;
  s->fd = -1;
  memcpy(&s->dst, dst, dstlen);
  s->dstlen = dstlen;
  s->sent = tz_stat_get("hep.sent", "HEP packets handed to the kernel for the collector");
  s->failed = tz_stat_get("hep.failed", "HEP packets the kernel refused or could not send in time");
  return s;
}

hep_sender_t *hep_sender_start(const struct sockaddr *dst, socklen_t dstlen,
                               unsigned cap, char *err, size_t errlen)
{
  hep_sender_t *s = hep_sender_new(dst, dstlen, cap);
  if (!s) {
    snprintf(err, errlen, "hep: out of memory");
    return NULL;
  }
  if ((s->fd = hep_sender_socket(dst->sa_family, err, errlen)) < 0)
    return hep_sender_free(s), NULL;
  int rc = tz_thread_start(&s->thread, hep_sender_main, s);
  if (rc) {
    snprintf(err, errlen, "hep: cannot start the sender thread: %s", strerror(rc));
    return hep_sender_free(s), NULL;
  }
  return s;
}

void hep_sender_stop(hep_sender_t *s)
{
  pthread_mutex_lock(&s->lock);
  s->stop = 1;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  hep_sender_free(s);
}
