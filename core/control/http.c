/*
 * http.c - owns the Prometheus endpoint: a loopback-only HTTP/1.x listener
 * that answers GET /metrics with the text the metrics callback writes, one
 * request per connection, on the stream server of ctl.c (so it never
 * blocks the loop).
 */
#define _POSIX_C_SOURCE 200809L
#include "control/ctl.h"
#include "control/stream.h"

#include <stdio.h>
#include <string.h>

#define HTTP_MAX_REQUEST 8192 /* request line and headers; no body is read */

static tz_stream_server_t *http_server;
static tz_metrics_f http_metrics;

static void http_respond(tz_jbuf_t *out, int head_only, const char *status,
                         const char *extra, const char *type,
                         const char *body, size_t len)
{
  tz_jbuf_printf(out,
                 "HTTP/1.1 %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "Connection: close\r\n\r\n",
                 status, type, len, extra);
  if (!head_only)
    tz_jbuf_append(out, body, len);
}

static void http_error(tz_jbuf_t *out, int head_only, const char *status,
                       const char *extra)
{
  char body[64];
  int n = snprintf(body, sizeof body, "%s\n", status);
  http_respond(out, head_only, status, extra, "text/plain; charset=utf-8",
               body, (size_t)n);
}

static void http_serve_metrics(tz_jbuf_t *out, int head_only)
{
  tz_jbuf_t text;
  tz_jbuf_init(&text);
  http_metrics(&text);
  if (text.err)
    http_error(out, head_only, "500 Internal Server Error", "");
  else
    http_respond(out, head_only, "200 OK", "",
                 "text/plain; version=0.0.4", text.s ? text.s : "",
                 text.len);
  tz_jbuf_free(&text);
}

/* Answers the request whose line is line[0..n): "METHOD TARGET VERSION". */
static void http_answer(const char *line, size_t n, tz_jbuf_t *out)
{
  const char *sp1 = memchr(line, ' ', n);
  const char *target = sp1 ? sp1 + 1 : NULL;
  const char *sp2 = target ? memchr(target, ' ', n - (size_t)(target - line))
                           : NULL;
  if (!sp2 || sp1 == line || sp2 == target ||
      n - (size_t)(sp2 + 1 - line) < 5 || memcmp(sp2 + 1, "HTTP/", 5)) {
    http_error(out, 0, "400 Bad Request", "");
    return;
  }
  size_t mlen = (size_t)(sp1 - line), tlen = (size_t)(sp2 - target);
  int get = mlen == 3 && !memcmp(line, "GET", 3);
  int head = mlen == 4 && !memcmp(line, "HEAD", 4);
  const char *query = memchr(target, '?', tlen);
  if (query)
    tlen = (size_t)(query - target);
  if (!get && !head)
    http_error(out, 0, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
  else if ((tlen == 1 && *target == '/') ||
           (tlen == 8 && !memcmp(target, "/metrics", 8)))
    http_serve_metrics(out, head);
  else
    http_error(out, head, "404 Not Found", "");
}

/* The end of the header block (just past the blank line), or 0. */
static size_t http_headers_end(const char *in, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++) {
    if (in[i] != '\n')
      continue;
    if (in[i + 1] == '\n')
      return i + 2;
    if (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

static size_t http_input(const char *in, size_t len, int eof, tz_jbuf_t *out,
                         int *done)
{
  if (!http_headers_end(in, len)) {
    if (len >= HTTP_MAX_REQUEST) {
      http_error(out, 0, "431 Request Header Fields Too Large", "");
      *done = 1;
      return len;
    }
    return eof ? len : 0; /* a truncated request gets no answer */
  }
  size_t n = (size_t)((const char *)memchr(in, '\n', len) - in);
  if (n && in[n - 1] == '\r')
    n--;
  http_answer(in, n, out);
  *done = 1;
  return len;
}

int tz_http_start(const char *addr, tz_metrics_f text, char *err,
                  size_t errlen)
{
  if (http_server) {
    snprintf(err, errlen, "the metrics endpoint is already running");
    return -1;
  }
  int fd = tz_stream_listen_tcp(addr, err, errlen);
  if (fd < 0)
    return -1;
  http_server = tz_stream_start(fd, "http", HTTP_MAX_REQUEST,
                                    http_input, err, errlen);
  if (!http_server)
    return -1;
  http_metrics = text;
  return 0;
}

void tz_http_stop(void)
{
  tz_stream_stop(http_server);
  http_server = NULL;
  http_metrics = NULL;
}
