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
  SANITY_MAXFWD_REQUIRED = 1u << 7 /* Max-Forwards present */
};

/* Everything but SANITY_MAXFWD_REQUIRED: RFC 2543 requests have no
 * Max-Forwards, and RFC 4475 3.4.1 wants them accepted (a proxy adds it). */
#define SANITY_DEFAULT 0x7fu
#define SANITY_ALL 0xffu

/* Parses a comma-separated list of check names ("cseq,via", "all",
 * "default"). Returns the flags, or 0 with the bad name in err. */
unsigned sanity_flags_parse(const char *s, char *err, size_t errlen);

/* Runs the checks in flags on a request. Returns 0 if it passes, else the
 * status to answer (400, or 416 for an unsupported R-URI scheme) with the
 * reason phrase written to reason. */
int sanity_check_request(const sip_t *sip, int datagram, unsigned flags,
                         char *reason, size_t len);

#endif /* SANITY_CHECK_H */
