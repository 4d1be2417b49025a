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

/* A command. params is the request's "params" (array, object or NULL).
 * On success write exactly one JSON value (the "result") to out and
 * return 0; on failure return an error code above with a message in err
 * (out is discarded). */
typedef int (*tz_ctl_f)(const tz_json_t *params, tz_jbuf_t *out, char *err,
                        size_t errlen);

int tz_ctl_register(const char *method, tz_ctl_f fn, const char *help);
/* The same with a context pointer passed to the handler. */
typedef int (*tz_ctl_ctx_f)(void *ctx, const tz_json_t *params,
                            tz_jbuf_t *out, char *err, size_t errlen);
int tz_ctl_register_ctx(const char *method, tz_ctl_ctx_f fn, void *ctx,
                        const char *help);
void tz_ctl_unregister(const char *method);
void tz_ctl_unregister_all(void);

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

/* ---- the stream server under both listeners (ctl.c, used by http.c) ---- */

/* Consumes whole requests from in[0..len) and appends their responses to
 * out; returns the bytes consumed. eof: the peer will send nothing more.
 * Setting *done closes the connection once out is sent (eof does too).
 * When len reaches the server's max_in with no whole request, the callback
 * must answer and set *done. */
typedef size_t (*tz_ctl_input_f)(const char *in, size_t len, int eof,
                                 tz_jbuf_t *out, int *done);
typedef struct tz_ctl_server tz_ctl_server_t;

/* Serves connections on the listening socket fd, which it takes over (and
 * closes, also on failure). name prefixes log messages. Must be stopped
 * before tz_loop_deinit(). */
tz_ctl_server_t *tz_ctl_server_start(int fd, const char *name, size_t max_in,
                                     tz_ctl_input_f input, char *err,
                                     size_t errlen);
void tz_ctl_server_stop(tz_ctl_server_t *s);

/* A non-blocking listening TCP socket on "127.0.0.1:PORT" or "[::1]:PORT"
 * (any 127/8 address); anything but loopback is refused. */
int tz_ctl_listen_tcp(const char *addr, char *err, size_t errlen);

#endif
