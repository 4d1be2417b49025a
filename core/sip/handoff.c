/*
 * handoff.c - a request whose next hop is a TCP or TLS connection another
 * worker accepted goes to that worker. Owns the table of accepted
 * connections by peer address (whose tport has each), the process's
 * handoff secret and every worker's handoff address.
 *
 * A connection belongs to the worker that accepted it: its tport reads and
 * writes it, and nothing of Sofia leaves its thread. A UA registered over
 * TCP or TLS from behind a NAT can only be reached through the connection
 * it opened. When another worker relays a request there, it sends the
 * request, as it would leave, to the owner's private UDP port with one
 * more header: the secret and the next hop. The owner takes the header
 * off and relays the request to that hop without the script, as a second
 * hop of the same proxy. Both hops are transactions, so a datagram lost
 * between them is retransmitted like any other. Responses find their way
 * back by the Vias, and CANCEL and the ACK follow the same path. No job
 * crosses a mailbox, and no lock is taken but the table's read lock for
 * requests bound for a stream address while workers run.
 *
 * Locking: conn_lock (a rwlock) guards the table. Every worker's accept()
 * and close() write it, and relays read it. A close() of a descriptor that
 * was never tracked reads that descriptor's atomic slot and takes no lock.
 * Each worker writes its own address before workers serve; others read it
 * afterwards.
 */
#define _GNU_SOURCE
#include "sip/handoff.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "runtime/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

#define HANDOFF_HEADER "X-Trapezoid-Handoff"
#define HANDOFF_SECRET_LEN 32 /* hex digits */

/* A peer's address, IPv4-mapped IPv6 as IPv4, so both spellings match. */
typedef struct conn_key {
  unsigned char addr[16];
  unsigned short port;
  unsigned char v6;
} conn_key_t;

typedef struct conn {
  struct conn *next; /* in its bucket */
  conn_key_t key;
  unsigned worker;
} conn_t;

#define CONN_BUCKETS 4096
#define CONN_MAX_FD (1 << 20)

static pthread_rwlock_t conn_lock = PTHREAD_RWLOCK_INITIALIZER;
static conn_t *conn_buckets[CONN_BUCKETS];
/* The entry of each tracked descriptor. Untouched pages cost no memory. */
static _Atomic(conn_t *) conn_by_fd[CONN_MAX_FD];

static char handoff_secret[HANDOFF_SECRET_LEN + 1];
/* "sip:HOST:PORT;transport=udp" of each worker's first private port per
 * address family: [worker][v6]. */
static char handoff_addr[TZ_MAX_WORKERS][2][80];
static tz_stat_t *handoff_sent, *handoff_taken;

int tz_handoff_init(void)
{
  unsigned char r[HANDOFF_SECRET_LEN / 2];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
    return -1;
  for (size_t i = 0; i < sizeof r; i++)
    snprintf(handoff_secret + 2 * i, 3, "%02x", r[i]);
  handoff_sent = tz_stat_get("core.handoffs.sent", "requests handed to the "
                             "worker that owns their next hop's connection");
  handoff_taken = tz_stat_get("core.handoffs.taken", "requests another worker "
                              "handed over, relayed on our connection");
  return handoff_sent && handoff_taken ? 0 : -1;
}

/* ---- the table ------------------------------------------------------------ */

static int conn_key_sa(const struct sockaddr *sa, conn_key_t *k)
{
  memset(k, 0, sizeof *k);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memcpy(k->addr, &in->sin_addr, 4);
    k->port = ntohs(in->sin_port);
    return 0;
  }
  if (sa->sa_family != AF_INET6)
    return -1;
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
  k->port = ntohs(in6->sin6_port);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    memcpy(k->addr, in6->sin6_addr.s6_addr + 12, 4);
    return 0;
  }
  memcpy(k->addr, &in6->sin6_addr, 16);
  k->v6 = 1;
  return 0;
}

static unsigned conn_hash(const conn_key_t *k)
{
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < sizeof k->addr; i++)
    h = (h ^ k->addr[i]) * 16777619u;
  h = (h ^ k->port) * 16777619u;
  return h % CONN_BUCKETS;
}

static int conn_key_eq(const conn_key_t *a, const conn_key_t *b)
{
  return a->port == b->port && a->v6 == b->v6 &&
         memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

void tz_handoff_accepted(int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  conn_t *c;
  if (tz_worker_count() < 2 || fd < 0 || fd >= CONN_MAX_FD ||
      getpeername(fd, (struct sockaddr *)&ss, &len) < 0 || !(c = calloc(1, sizeof *c)))
    return;
  if (conn_key_sa((struct sockaddr *)&ss, &c->key) < 0) {
    free(c);
    return;
  }
  c->worker = tz_worker_self();
  unsigned b = conn_hash(&c->key);
  pthread_rwlock_wrlock(&conn_lock);
  c->next = conn_buckets[b]; /* a newer connection from the address wins */
  conn_buckets[b] = c;
  atomic_store(&conn_by_fd[fd], c);
  pthread_rwlock_unlock(&conn_lock);
}

void tz_handoff_closed(int fd)
{
  if (fd < 0 || fd >= CONN_MAX_FD ||
      !atomic_load_explicit(&conn_by_fd[fd], memory_order_relaxed))
    return;
  pthread_rwlock_wrlock(&conn_lock);
  conn_t *c = atomic_exchange(&conn_by_fd[fd], NULL);
  conn_t **pp = c ? &conn_buckets[conn_hash(&c->key)] : NULL;
  while (pp && *pp != c)
    pp = &(*pp)->next;
  if (pp)
    *pp = c->next;
  pthread_rwlock_unlock(&conn_lock);
  free(c);
}

/* The key of a URL naming a stream transport by numeric address. */
static int conn_key_url(const url_t *u, conn_key_t *k)
{
  char tp[8] = "", host[64];
  int tls = u->url_type == url_sips;
  if (!tls && (url_param(u->url_params, "transport", tp, sizeof tp) <= 0 ||
               (strcasecmp(tp, "tcp") && !(tls = !strcasecmp(tp, "tls")))))
    return -1;
  const char *h = u->url_host;
  size_t n = h ? strlen(h) : 0;
  if (n >= 2 && h[0] == '[')
    h++, n -= 2;
  if (!n || n >= sizeof host)
    return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  memset(k, 0, sizeof *k);
  k->port = u->url_port ? (unsigned short)atoi(u->url_port) : tls ? 5061 : 5060;
  if (inet_pton(AF_INET, host, k->addr) == 1)
    return 0;
  k->v6 = 1;
  return inet_pton(AF_INET6, host, k->addr) == 1 ? 0 : -1;
}

int tz_handoff_owner(const url_t *hop)
{
  conn_key_t k;
  if (tz_worker_count() < 2 || !hop || conn_key_url(hop, &k) < 0)
    return -1;
  int owner = -1;
  pthread_rwlock_rdlock(&conn_lock);
  for (const conn_t *c = conn_buckets[conn_hash(&k)]; c && owner < 0; c = c->next)
    if (conn_key_eq(&c->key, &k))
      owner = (int)c->worker;
  pthread_rwlock_unlock(&conn_lock);
  return owner == (int)tz_worker_self() ? -1 : owner;
}

/* ---- the request ---------------------------------------------------------- */

void tz_handoff_set_address(const char *host, unsigned port)
{
  int v6 = strchr(host, ':') != NULL, bracket = v6 && host[0] != '[';
  char *a = handoff_addr[tz_worker_self()][v6];
  /* A wildcard listen host is reached at its loopback address. */
  if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "[::]"))
    host = v6 ? "::1" : "127.0.0.1", bracket = v6;
  if (!a[0])
    snprintf(a, sizeof handoff_addr[0][0], "sip:%s%s%s:%u;transport=udp",
             bracket ? "[" : "", host, bracket ? "]" : "", port);
}

const url_t *tz_handoff_mark(msg_t *msg, const url_t *hop, unsigned worker)
{
  su_home_t *home = msg_home(msg);
  const char *to = handoff_addr[worker][0][0] ? handoff_addr[worker][0]
                                              : handoff_addr[worker][1];
  char *line = su_sprintf(home, HANDOFF_HEADER ": %s <%s>", handoff_secret,
                          url_as_string(home, hop));
  url_t *u = to[0] && line ? url_make(home, to) : NULL;
  if (!u || sip_add_make(msg, sip_object(msg), sip_unknown_class, line) < 0)
    return NULL;
  tz_stat_add(handoff_sent, 1);
  return u;
}

/* Compares all of a secret's digits, however early they differ. */
static int handoff_secret_eq(const char *s)
{
  unsigned diff = strlen(s) < HANDOFF_SECRET_LEN;
  for (size_t i = 0; !diff && i < HANDOFF_SECRET_LEN; i++)
    diff |= (unsigned)(s[i] ^ handoff_secret[i]);
  return !diff;
}

const char *tz_handoff_take(msg_t *msg)
{
  sip_t *sip = sip_object(msg);
  /* One worker hands nothing over: spare every request the header walk. */
  sip_unknown_t *u = sip && tz_worker_count() > 1 ? sip->sip_unknown : NULL;
  while (u && strcasecmp(u->un_name, HANDOFF_HEADER) != 0)
    u = u->un_next;
  const char *v = u ? u->un_value : NULL;
  if (!v || !handoff_secret_eq(v) || strncmp(v + HANDOFF_SECRET_LEN, " <", 2))
    return NULL;
  const char *s = v + HANDOFF_SECRET_LEN + 2;
  const char *e = strrchr(s, '>');
  char *hop = e ? su_strndup(msg_home(msg), s, (size_t)(e - s)) : NULL;
  if (!hop || msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u) < 0)
    return NULL;
  tz_stat_add(handoff_taken, 1);
  return hop;
}
