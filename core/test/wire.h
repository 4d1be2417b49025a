/*
 * wire.h - test mode's sealed sockets (wire.c): what interpose.c and
 * udpio.c ask, and how the harness feeds and reads the server.
 */
#ifndef TZ_TEST_WIRE_H
#define TZ_TEST_WIRE_H

#include <sys/socket.h>
#include <sys/types.h>

#include <sofia-sip/nta.h>

/* Each datagram the server sends: from the local address it was bound to,
 * to dst. */
typedef void (*tz_testwire_sent_f)(void *arg, const struct sockaddr *from,
                                   const struct sockaddr *dst, const char *data,
                                   size_t len);

/* Seals the process's sockets from now on (before any transport binds). */
void tz_testwire_enable(tz_testwire_sent_f sent, void *arg);
int tz_testwire_on(void);

/* interpose.c's bind() and close() in test mode. */
int tz_testwire_bind(int s, const struct sockaddr *a, socklen_t len);
void tz_testwire_closed(int fd);
/* udpio.c's sendmsg() on one of Sofia's UDP sockets in test mode. */
ssize_t tz_testwire_sendmsg(int fd, const struct msghdr *m);

/* A datagram from `from` to the transport bound to `to`, read by Sofia as
 * if the kernel had it. 0, or -1 when no UDP transport has that address. */
int tz_testwire_inject(nta_agent_t *agent, const struct sockaddr *to,
                       const struct sockaddr *from, socklen_t fromlen,
                       const void *data, size_t len);

/* The length of a's family's sockaddr; a and b the same address and port. */
socklen_t tz_testwire_addr_len(const struct sockaddr *a);
int tz_testwire_same(const struct sockaddr *a, const struct sockaddr *b);

/* The address of the agent's first UDP transport (where steps are sent). */
int tz_testwire_server(nta_agent_t *agent, struct sockaddr_storage *ss);

/* host (an IP literal, IPv6 with or without brackets) and port (NULL or
 * empty: 5060) into ss. 0, or -1 if host is no IP literal. */
int tz_testwire_parse_addr(const char *host, const char *port,
                           struct sockaddr_storage *ss);

#endif
