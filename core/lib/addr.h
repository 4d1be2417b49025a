/*
 * addr.h - the one parser of "host[:port]" text in the core (listen
 * addresses, aliases, the control and metrics endpoints); modules get the
 * same through tz_hostport_parse() in trapezoid.h.
 */
#ifndef TZ_ADDR_H
#define TZ_ADDR_H

#include <netdb.h>
#include <netinet/in.h>
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

/* The IPv4 address a (4 bytes, network order) as inet_ntop() writes it,
 * into text (INET_ADDRSTRLEN bytes); returns its length with the NUL. */
size_t tz_ipv4_text(const void *a, char *text);

/* 1 and *sin (address and port) if getaddrinfo(node, service, h) names an
 * IPv4 literal and a port number, asked for one socket type and protocol
 * with no flag but AI_NUMERICHOST: the question Sofia asks before each
 * send, whose answer is that one address. 0 otherwise. */
int tz_ipv4_literal(const char *node, const char *service, const struct addrinfo *h,
                    struct sockaddr_in *sin);

#endif
