/*
 * stream.h - non-blocking stream servers on the event loop (stream.c):
 * the listening sockets and connections under the JSON-RPC control
 * socket (ctl.c) and the Prometheus endpoint (http.c).
 */
#ifndef TZ_STREAM_H
#define TZ_STREAM_H

#include <stddef.h>
#include <sys/stat.h>

#include <trapezoid/json.h>

/* Consumes whole requests from in[0..len) and appends their responses to
 * out; returns the bytes consumed. eof: the peer will send nothing more.
 * Setting *done closes the connection once out is sent (eof does too).
 * When len reaches the server's max_in with no whole request, the callback
 * must answer and set *done. */
typedef size_t (*tz_stream_input_f)(const char *in, size_t len, int eof,
                                    tz_jbuf_t *out, int *done);
typedef struct tz_stream_server tz_stream_server_t;

/* Serves connections on the listening socket fd, which it takes over (and
 * closes, also on failure). name prefixes log messages. Must be stopped
 * before tz_loop_deinit(). */
tz_stream_server_t *tz_stream_start(int fd, const char *name, size_t max_in,
                                    tz_stream_input_f input, char *err,
                                    size_t errlen);
void tz_stream_stop(tz_stream_server_t *s);

/* A non-blocking listening TCP socket on "127.0.0.1:PORT" or "[::1]:PORT"
 * (any 127/8 address); anything but loopback is refused. */
int tz_stream_listen_tcp(const char *addr, char *err, size_t errlen);
/* A listening unix socket at path, mode 0600, its directory made if
 * missing; an existing socket is replaced only if nothing answers on it.
 * *st gets the file's identity (to unlink only our own later). */
int tz_stream_listen_unix(const char *path, struct stat *st, char *err,
                          size_t errlen);

#endif
