/*
 * dns_select.h - RFC 3263 section 4 target selection as pure functions:
 * DNS records in, an ordered list of next hops out. No I/O, no clock and
 * no global random source, so unit tests feed it synthetic records.
 */
#ifndef DNS_SELECT_H
#define DNS_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/url.h>

/* Record types, with DNS's own numbers (as sres_type_*). */
enum { DNS_T_A = 1, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_NAPTR = 35 };

/* Transports, as a bit mask of what the proxy may use. */
enum { DNS_TP_UDP = 1, DNS_TP_TCP = 2, DNS_TP_TLS = 4 };

#define DNS_NAME_MAX 256 /* 253 characters, a NUL, rounded */
#define DNS_ADDR_MAX 46  /* INET6_ADDRSTRLEN */

typedef struct dns_rr {
  uint16_t type;
  union {
    struct {
      uint16_t order, pref;
      char flags[8];
      char services[32]; /* empty when the record's did not fit */
      char replace[DNS_NAME_MAX];
    } naptr;
    struct {
      uint16_t prio, weight, port;
      char target[DNS_NAME_MAX];
    } srv;
    char addr[DNS_ADDR_MAX]; /* A or AAAA, as text */
  } u;
} dns_rr_t;

/* The outcome of one query. */
typedef enum {
  DNS_OK = 0,       /* rr holds at least one record of the queried type */
  DNS_NXDOMAIN,     /* the name does not exist */
  DNS_NODATA,       /* the name exists, without records of that type */
  DNS_FAIL          /* timeout, SERVFAIL, refused, no server: unknown */
} dns_status_t;

typedef struct dns_rrset {
  dns_status_t status;
  uint32_t ttl; /* smallest record TTL; for a negative answer, its own */
  size_t n;
  dns_rr_t *rr; /* malloc'd; NULL when n == 0 */
} dns_rrset_t;

void dns_rrset_clear(dns_rrset_t *s);
/* A deep copy into dst (which is overwritten). Returns 0 or -1. */
int dns_rrset_copy(dns_rrset_t *dst, const dns_rrset_t *src);

/* name as a key: lowercased, without the final dot, so that equal names
 * (as DNS compares them) have equal keys. */
void dns_name_key(const char *name, char out[DNS_NAME_MAX]);

/* What RFC 3263 section 4 needs to know about the URI being resolved. */
typedef struct dns_uri {
  char host[DNS_NAME_MAX]; /* without IPv6 brackets */
  unsigned port;           /* 0: none given */
  unsigned tp;             /* DNS_TP_*, 0: no transport parameter */
  int sips;
  int numeric; /* host is an IP address literal */
} dns_uri_t;

/* Returns 0, or -1 if the URL is not sip:/sips: with a host or names an
 * unknown transport. */
int dns_uri_parse(const url_t *url, dns_uri_t *out);
/* Parses "udp,tcp,tls" into a DNS_TP_* mask; -1 on an unknown name. */
int dns_tp_mask(const char *list);
unsigned dns_tp_default_port(unsigned tp);

/* An SRV name to query, with the transport it stands for. */
typedef struct dns_srvq {
  char name[DNS_NAME_MAX];
  unsigned tp;
} dns_srvq_t;

/* A host to resolve into addresses (or an address already). */
typedef struct dns_host {
  char name[DNS_NAME_MAX];
  unsigned port, tp;
} dns_host_t;

/* Section 4.1: the usable NAPTR records, by order then preference: flag
 * "s", a SIP service whose transport is in mask (only SIPS+D2T for a
 * sips URI). Returns how many were written to out (at most max). */
size_t dns_naptr_select(const dns_rrset_t *naptr, const dns_uri_t *u,
                        unsigned mask, dns_srvq_t *out, size_t max);

/* Section 4.1 without NAPTR: the SRV names to try, the URI's transport
 * parameter if it has one, else every transport in mask that fits the
 * scheme, UDP first. */
size_t dns_srv_names(const dns_uri_t *u, unsigned mask, dns_srvq_t *out,
                     size_t max);

/* Returns a uniformly distributed integer in [0, bound]. */
typedef unsigned (*dns_rand_f)(void *arg, unsigned bound);

/* Section 4.4 / RFC 2782: orders one SRV answer by priority, and within a
 * priority by weighted random choice, appending the targets with transport
 * tp to out[*n...max). Returns 1 if the answer says the service is not
 * offered (the single target "."), else 0. */
int dns_srv_order(const dns_rrset_t *srv, unsigned tp, dns_rand_f rnd,
                  void *rnd_arg, dns_host_t *out, size_t *n, size_t max);

/* True if s is an IPv4 or IPv6 address literal (no brackets). */
int dns_is_numeric(const char *s);

/* The next hops, in the order they are to be tried. */
#define DNS_MAX_TARGETS 12
typedef struct dns_targets {
  size_t n;
  char uri[DNS_MAX_TARGETS][80]; /* "sip:ADDR:PORT;transport=udp" */
} dns_targets_t;

/* Section 4.2: appends one target per address of host h (addrs: its A and
 * AAAA answers; NULL when h->name is an address), skipping duplicates.
 * Returns how many were added. */
size_t dns_targets_add(dns_targets_t *t, const dns_host_t *h,
                       const dns_rrset_t *addrs);

#endif
