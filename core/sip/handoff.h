/*
 * handoff.h - requests bound for a connection another worker owns go to
 * that worker (handoff.c).
 */
#ifndef TZ_HANDOFF_H
#define TZ_HANDOFF_H

#include <sofia-sip/msg.h>
#include <sofia-sip/url.h>

/* The secret and the counters; once, before workers start. */
int tz_handoff_init(void);

/* The daemon's accept() and close() wrappers: fd was accepted by the
 * calling worker, or is being closed (any descriptor, any thread). */
void tz_handoff_accepted(int fd);
void tz_handoff_closed(int fd);

/* The calling worker's private UDP port, where others hand it requests;
 * the first of each address family counts. */
void tz_handoff_set_address(const char *host, unsigned port);

/* The worker that owns the connection hop names (a tcp/tls URL with a
 * numeric host), if it is not the calling one; else -1. */
int tz_handoff_owner(const url_t *hop);

/* Marks msg, ready to leave for hop, as handed to worker, and returns
 * where to send it instead (in msg's home); NULL on error. */
const url_t *tz_handoff_mark(msg_t *msg, const url_t *hop, unsigned worker);

/* If msg was handed over by another worker: takes the mark off and
 * returns the next hop (in msg's home). NULL for any other request. */
const char *tz_handoff_take(msg_t *msg);

#endif
