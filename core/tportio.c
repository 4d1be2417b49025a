/*
 * tportio.c - the wire tap (sip/wiretap.c) for SIP over TCP and TLS:
 * each whole message, after stream framing and TLS decryption, received
 * and sent. Daemon only, like interpose.c and udpio.c.
 *
 * udpio.c sees UDP datagrams, which are whole messages; a stream's bytes
 * are not. Sofia's tport has two functions every stream message passes
 * whole: tport_deliver() (each received message, parsed, on its way to
 * nta) and tport_tsend() (each message nta sends). libsofia-sip-ua calls
 * both through its PLT (objdump -d: only "call <tport_deliver@plt>" and
 * "<tport_tsend@plt>"; nm -D: both exported), so the executable's
 * definitions, exported (-export-dynamic), are the ones it reaches, as
 * with interpose.c's libc names; the real ones are dlsym(RTLD_NEXT).
 * Two more, also called through the PLT, give what the tap needs:
 * - tport_msg_alloc(): a received message keeps its header text only if
 *   parsed with MSG_FLG_EXTRACT_COPY (else msg_iovec() yields nothing), as
 *   Sofia's own TPORT_LOG does; while a tap is on, each message allocated
 *   for a TCP connection gets it, and so does the next message of the
 *   stream, which msg_next() made before tport_deliver() (a message
 *   already under way when the tap came on is not captured);
 * - tport_alloc_secondary(): the one place a connection's tport meets its
 *   socket, whose getsockname() is the local address (Sofia has no
 *   accessor; a connection it opened has an ephemeral port).
 * UDP is tapped by udpio.c only; here only TCP connections (TLS runs on
 * one: proto is IPPROTO_TCP, as HEPv3 has no TLS value).
 *
 * tport_msg_alloc() also saves encoding: every UDP datagram is parsed with
 * its header text kept, so what nta sends from it (a relayed response, the
 * headers a reply copies from its request) goes out as received instead of
 * each header encoded again.
 *
 * Owns each thread's table from its connections' tports to their
 * sockets: a tport lives in the worker that created it (handoff.c), and
 * close() (interpose.c) forgets it there.
 */
#define _GNU_SOURCE
#include "interpose.h"
#include "sip/wiretap.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/tport.h>

/* From Sofia-SIP 1.12.11's libsofia-sip-ua/tport/tport_internal.h (not
 * installed): the definitions tport.c exports. */
struct tport_primary;
void tport_deliver(tport_t *self, msg_t *msg, msg_t *next,
                   tport_compressor_t *comp, su_time_t now);
msg_t *tport_msg_alloc(tport_t const *self, usize_t size);
tport_t *tport_alloc_secondary(struct tport_primary *pri, int socket, int accepted,
                               char const **return_reason);

typedef void (*deliver_f)(tport_t *, msg_t *, msg_t *, tport_compressor_t *, su_time_t);
typedef tport_t *(*tsend_f)(tport_t *, msg_t *, tp_name_t const *, tag_type_t,
                            tag_value_t, ...);
typedef msg_t *(*msg_alloc_f)(tport_t const *, usize_t);
typedef tport_t *(*alloc_secondary_f)(struct tport_primary *, int, int, char const **);

/* ---- each thread's connections: tport -> socket ------------------------------- */

/* Open addressing by tport; by_fd finds a closed socket's entry. A freed
 * tport's address given to a new one is overwritten when that is made. */
static _Thread_local struct {
  struct tportio_conn { const tport_t *tp; int fd; } *slot;
  size_t cap, used;
  const tport_t **by_fd;
  size_t nfd;
} conns;

static size_t tportio_hash(const tport_t *tp)
{
  return (size_t)(((uintptr_t)tp >> 4) * 0x9E3779B97F4A7C15u);
}

/* The slot of tp, or the empty one where it would go. */
static struct tportio_conn *tportio_find(const tport_t *tp)
{
  size_t i = tportio_hash(tp) & (conns.cap - 1);
  while (conns.slot[i].tp && conns.slot[i].tp != tp)
    i = (i + 1) & (conns.cap - 1);
  return &conns.slot[i];
}

static int tportio_grow(void)
{
  struct tportio_conn *old = conns.slot;
  size_t n = conns.cap, cap = n ? 2 * n : 64;
  struct tportio_conn *s = calloc(cap, sizeof *s);
  if (!s)
    return -1;
  conns.slot = s, conns.cap = cap;
  for (size_t i = 0; i < n; i++)
    if (old[i].tp)
      *tportio_find(old[i].tp) = old[i];
  free(old);
  return 0;
}

/* A worker's table goes with its thread: a key's destructor runs in the
 * ending thread while its thread-local storage is still there. */
static pthread_key_t conns_key;
static pthread_once_t conns_once = PTHREAD_ONCE_INIT;

static void tportio_forget_all(void *arg)
{
  (void)arg;
  free(conns.slot);
  free(conns.by_fd);
  memset(&conns, 0, sizeof conns);
}

static void tportio_make_key(void) { pthread_key_create(&conns_key, tportio_forget_all); }

static void tportio_remember(const tport_t *tp, int fd)
{
  if (!conns.by_fd) {
    pthread_once(&conns_once, tportio_make_key);
    pthread_setspecific(conns_key, &conns);
  }
  if ((size_t)fd >= conns.nfd) {
    size_t n = (size_t)fd + 64;
    const tport_t **b = realloc(conns.by_fd, n * sizeof *b);
    if (!b)
      return;
    for (size_t i = conns.nfd; i < n; i++)
      b[i] = NULL;
    conns.by_fd = b, conns.nfd = n;
  }
  if (2 * (conns.used + 1) > conns.cap && tportio_grow() < 0)
    return;
  struct tportio_conn *c = tportio_find(tp);
  if (c->tp)
    conns.by_fd[c->fd] = NULL;
  else
    conns.used++;
  c->tp = tp, c->fd = fd;
  conns.by_fd[fd] = tp;
}

/* Backward-shift deletion: what follows moves up into the hole, unless it
 * already sits between its home and the hole. */
void tz_tportio_closed(int fd)
{
  if (fd < 0 || (size_t)fd >= conns.nfd || !conns.by_fd[fd])
    return;
  struct tportio_conn *hole = tportio_find(conns.by_fd[fd]);
  conns.by_fd[fd] = NULL;
  conns.used--;
  size_t h = (size_t)(hole - conns.slot), mask = conns.cap - 1;
  for (size_t j = (h + 1) & mask; conns.slot[j].tp; j = (j + 1) & mask) {
    size_t home = tportio_hash(conns.slot[j].tp) & mask;
    if (((j - home) & mask) >= ((j - h) & mask)) {
      conns.slot[h] = conns.slot[j];
      h = j;
    }
  }
  conns.slot[h].tp = NULL;
}

TZ_INTERPOSE tport_t *tport_alloc_secondary(struct tport_primary *pri, int socket,
                                            int accepted, char const **return_reason)
{
  static _Atomic(void *) real;
  tport_t *tp = ((alloc_secondary_f)tz_real(&real, "tport_alloc_secondary"))(
      pri, socket, accepted, return_reason);
  if (tp && socket >= 0)
    tportio_remember(tp, socket);
  return tp;
}

/* ---- the tap ------------------------------------------------------------------------ */

/* su_vsend() hands msg_iovec()'s vector to sendmsg() as it is. */
_Static_assert(sizeof(msg_iovec_t) == sizeof(struct iovec) &&
                   offsetof(msg_iovec_t, siv_base) == offsetof(struct iovec, iov_base) &&
                   offsetof(msg_iovec_t, siv_len) == offsetof(struct iovec, iov_len),
               "su_iovec_t is struct iovec");

/* msg as msg_iovec() gives it, from or to the peer of connection tp. */
static void tportio_tap(tport_t *tp, msg_t *msg, int sent)
{
  struct tportio_conn *c = conns.cap ? tportio_find(tp) : NULL;
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  su_sockaddr_t const *peer = msg_addr(msg);
  if (!c || !c->tp || !peer || getsockname(c->fd, (struct sockaddr *)&local, &len) < 0)
    return;
  msg_iovec_t stack[64], *v = stack;
  isize_t n = msg_iovec(msg, v, 64);
  if (n > 64 && (v = malloc((size_t)n * sizeof *v)) != NULL)
    n = msg_iovec(msg, v, n);
  size_t total = 0;
  for (isize_t i = 0; v && i < n; i++)
    total += v[i].mv_len;
  if (total > 0) {
    tz_wire_t w = {.sent = sent, .proto = IPPROTO_TCP,
                   .src = sent ? (struct sockaddr *)&local : &peer->su_sa,
                   .dst = sent ? &peer->su_sa : (struct sockaddr *)&local,
                   .iov = (const struct iovec *)v, .iovcnt = (size_t)n, .len = total};
    tz_wiretap_run(&w);
  }
  if (v != stack)
    free(v);
}

/* A received message's header text is kept only if it is parsed so: on
 * UDP always (callgrind, the seed call without record-routing: 6 % fewer
 * instructions per call; Sofia's encoders no longer run for the headers of
 * a relayed response or those a reply copies), on TCP while a tap is on,
 * as before (the benchmarks measure UDP). A header changed through Sofia's
 * functions is encoded again, and so are the others of its line ("Via: a,
 * b": Debian's Sofia clears them with msg_fragment_clear_chain(); checked by
 * tests/sip/conformance.sh); one changed in place must have its text
 * cleared by whoever changes it (relay.c's Max-Forwards), and a token list
 * that append_hf extends is printed again (hdr.c). */
static void tportio_keep_text(tport_t const *tp, msg_t *msg)
{
  if (msg && (tport_is_udp(tp) || (tz_wiretap_on() && tport_is_tcp(tp))))
    msg_set_flags(msg, MSG_FLG_EXTRACT_COPY);
}

TZ_INTERPOSE msg_t *tport_msg_alloc(tport_t const *self, usize_t size)
{
  static _Atomic(void *) real;
  msg_t *msg = ((msg_alloc_f)tz_real(&real, "tport_msg_alloc"))(self, size);
  tportio_keep_text(self, msg);
  return msg;
}

/* Tapped before nta has it: the message is still as it came. A damaged
 * one (a timeout, a parse error) is left out, as Sofia's capture does. */
TZ_INTERPOSE void tport_deliver(tport_t *self, msg_t *msg, msg_t *next,
                                tport_compressor_t *comp, su_time_t now)
{
  static _Atomic(void *) real;
  if (tz_wiretap_on() && tport_is_tcp(self)) {
    tportio_keep_text(self, next);
    if (!msg_has_error(msg) && msg_get_flags(msg, MSG_FLG_EXTRACT_COPY))
      tportio_tap(self, msg, 0);
  }
  ((deliver_f)tz_real(&real, "tport_deliver"))(self, msg, next, comp, now);
}

/* The tport it returns is the one that sent msg (or queued it on a
 * connection still being made), with the peer's address in msg. */
TZ_INTERPOSE tport_t *tport_tsend(tport_t *self, msg_t *msg, tp_name_t const *tpn,
                                  tag_type_t tag, tag_value_t value, ...)
{
  static _Atomic(void *) real;
  ta_list ta;
  ta_start(ta, tag, value);
  tport_t *tp = ((tsend_f)tz_real(&real, "tport_tsend"))(self, msg, tpn, ta_tags(ta));
  (void)ta_end(ta); /* the macro ends in ", 0" */
  if (tp && tport_is_udp(tp))
    tz_udpio_sent_by(tp);
  if (tp && tz_wiretap_on() && tport_is_tcp(tp))
    tportio_tap(tp, msg, 1);
  return tp;
}
