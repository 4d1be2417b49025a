/*
 * hep.h - the hep module's parts: HEPv3 encoding (hep_enc.c), the bounded
 * queue and the thread that sends it (hep_send.c), and the module itself
 * with its wire tap and commands (hep.c).
 */
#ifndef HEP_H
#define HEP_H

#include <trapezoid/trapezoid.h>

#include <sys/socket.h>
#include <time.h>

/* One HEP datagram, ready to send. */
typedef struct hep_pkt {
  size_t len;
  unsigned char data[];
} hep_pkt_t;

/* What every packet of an instance carries besides the message. */
typedef struct hep_meta {
  unsigned capture_id;
  int correlation; /* the Call-ID as correlation id (chunk 0x0011) */
} hep_meta_t;

/* w as one HEPv3 packet stamped ts (malloc'd), or NULL when it would not
 * fit one UDP datagram or memory ran out. */
hep_pkt_t *hep_encode(const tz_wire_t *w, const hep_meta_t *meta,
                      const struct timespec *ts);

typedef struct hep_sender hep_sender_t;

/* A thread that sends what is queued to dst, at most cap packets queued.
 * NULL with a reason in err. */
hep_sender_t *hep_sender_start(const struct sockaddr *dst, socklen_t dstlen,
                               unsigned cap, char *err, size_t errlen);
/* Queues p (the sender frees it once sent); -1 when the queue is full (p
 * stays the caller's). Any thread. */
int hep_sender_push(hep_sender_t *s, hep_pkt_t *p);
unsigned hep_sender_queued(hep_sender_t *s);
/* Stops the thread; what is still queued is dropped. */
void hep_sender_stop(hep_sender_t *s);

#endif
