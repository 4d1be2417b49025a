/*
 * addr.h - the one parser of "host[:port]" text in the core (listen
 * addresses, aliases, the control and metrics endpoints); modules get the
 * same through tz_hostport_parse() in trapezoid.h.
 */
#ifndef TZ_ADDR_H
#define TZ_ADDR_H

#include <stddef.h>

#include <trapezoid/trapezoid.h>

/* A listen address: proto is "udp", "tcp", "tls" or NULL for udp+tcp. */
typedef struct tz_listen {
  char *proto;
  char *host; /* IPv6 without brackets */
  unsigned port;
} tz_listen_t;

/* Parses "[proto:]host[:port]" ("[::1]:5060", "udp:10.0.0.1", ...); the
 * port defaults to 5060 (5061 for tls). Returns 0, or -1 with a message. */
int tz_listen_parse(const char *text, tz_listen_t *out, char *err,
                    size_t errlen);
void tz_listen_free(tz_listen_t *l);

/* Compares hosts, IPv6 literals by value (with or without brackets). */
int tz_host_eq(const char *a, const char *b);

#endif
