/*
 * ctl.h - the control interface: JSON-RPC 2.0 over a unix socket (and
 * optionally TCP on loopback), one request per line, one response per
 * line. Commands are registered by name; the server runs on the event loop.
 */
#ifndef TZ_CTL_H
#define TZ_CTL_H

#include <trapezoid/json.h>

/* JSON-RPC error codes handlers may return (negated spec codes are used
 * as is: -32602 invalid params, -32603 internal error, or a server error
 * in -32000..-32099). */
enum {
  TZ_CTL_PARSE_ERROR = -32700,
  TZ_CTL_INVALID_REQUEST = -32600,
  TZ_CTL_NO_METHOD = -32601,
  TZ_CTL_INVALID_PARAMS = -32602,
  TZ_CTL_INTERNAL = -32603,
  TZ_CTL_REFUSED = -32000 /* the server refuses: the message says why */
};

/* Commands are registered in the core's command registry
 * (runtime/command.h, tz_rpc_f): this file only dispatches to them. A
 * handler writes exactly one JSON value (the "result") to out and returns
 * 0, or returns an error code above with a message in err (its output is
 * then discarded). */

/* Runs one JSON-RPC request text and writes the response object to out
 * (also used by the tests, without sockets). A notification (no "id")
 * writes nothing. */
void tz_ctl_dispatch(const char *text, size_t len, tz_jbuf_t *out);

/* Listens on unix_path (created with mode 0600, replacing a stale socket)
 * and, if tcp is not NULL, on "127.0.0.1:PORT" (loopback only). */
int tz_ctl_start(const char *unix_path, const char *tcp, char *err,
                 size_t errlen);
void tz_ctl_stop(void);

/* The Prometheus text endpoint: GET /metrics on "127.0.0.1:PORT" answers
 * with what text() writes. */
typedef void (*tz_metrics_f)(tz_jbuf_t *text); /* raw bytes appended to s */
int tz_http_start(const char *addr, tz_metrics_f text, char *err,
                  size_t errlen);
void tz_http_stop(void);

#endif
