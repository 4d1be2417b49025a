/*
 * sanity_check.h - the request checks behind the sanity module, as pure
 * functions over a parsed Sofia message, so the unit tests can run them
 * without a server.
 */
#ifndef SANITY_CHECK_H
#define SANITY_CHECK_H

#include <stddef.h>

#include <sofia-sip/sip.h>

enum sanity_flag {
  SANITY_REQUIRED = 1u << 0,   /* Via, From, To, Call-ID, CSeq present */
  SANITY_CSEQ = 1u << 1,       /* CSeq method = request method, number < 2^31 */
  SANITY_CL = 1u << 2,         /* datagram: Content-Length <= body */
  SANITY_RURI = 1u << 3,       /* R-URI tel, or sip/sips: host, no headers */
  SANITY_VIA = 1u << 4,        /* top Via: SIP/2.0/proto, valid host and port */
  SANITY_MAXFWD = 1u << 5,     /* Max-Forwards, if present, 0..255 */
  SANITY_PARSE = 1u << 6,      /* no header that Sofia failed to parse */
  SANITY_MAXFWD_REQUIRED = 1u << 7, /* Max-Forwards present */
  SANITY_PROXY_REQUIRE = 1u << 8     /* every Proxy-Require tag supported */
};

/* Everything but SANITY_MAXFWD_REQUIRED: RFC 2543 requests have no
 * Max-Forwards, and RFC 4475 3.4.1 wants them accepted (a proxy adds it). */
#define SANITY_DEFAULT 0x17fu
#define SANITY_ALL 0x1ffu

/* What a request is checked against. */
typedef struct sanity_opts {
  unsigned flags;
  int datagram;          /* it came over UDP: Content-Length must fit */
  const char *supported; /* option tags we support for Proxy-Require,
                            comma-separated, or NULL for none */
} sanity_opts_t;

/* Why a request failed: the reason phrase and extra reply headers
 * ("Unsupported: ...\r\n" for 420, else empty). */
typedef struct sanity_verdict {
  char reason[128];
  char headers[512];
} sanity_verdict_t;

/* Parses a comma-separated list of check names ("cseq,via", "all",
 * "default"). Returns the flags, or 0 with the bad name in err. */
unsigned sanity_flags_parse(const char *s, char *err, size_t errlen);

/* Runs the checks in o->flags on a request. Returns 0 if it passes, else
 * the status to answer (400; 416 for an unsupported R-URI scheme; 420 for
 * Proxy-Require tags we lack) with its reason phrase and headers in v. */
int sanity_check_request(const sip_t *sip, const sanity_opts_t *o,
                         sanity_verdict_t *v);

#endif /* SANITY_CHECK_H */
